# Benchmarks of the gate decision path against the real servers and the built
# daemons (bench_verifier: reads per second, read -> decision and decision -> barrier
# coil latency). Not tests: ops/bench.sh starts what they need and prints their
# figures. bench_decide and bench_outbox are built with the code they measure
# (tests/verifier, tests/outbox).
if(TARGET gatekit_bus)
	add_executable(bench_verifier ${CMAKE_CURRENT_LIST_DIR}/bench_verifier.c)
	target_link_libraries(bench_verifier PRIVATE gatekit_bus gatekit_core)
endif()
