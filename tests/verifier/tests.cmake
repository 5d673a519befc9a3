# Verifier decision core (services/verifier: fuse, policy, registry, decide) and the
# registry snapshot file (snapshot): unit tests, no servers. test_decide also renders decisions and has Debian's
# python3-jsonschema validate them (tests/schemas/validate_msg.py).
# bench_decide is built here but is not a test: it prints a throughput figure.
if(TARGET verifier_core)
	foreach(t fuse policy registry decide snapshot)
		add_executable(test_verifier_${t} ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c)
		target_link_libraries(test_verifier_${t} PRIVATE verifier_core gk_testutil)
		add_test(NAME verifier.${t} COMMAND test_verifier_${t})
		set_tests_properties(verifier.${t} PROPERTIES LABELS unit
			ENVIRONMENT "ECOGATE_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
			WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
	endforeach()
	add_executable(bench_decide ${PROJECT_SOURCE_DIR}/tests/bench/bench_decide.c)
	target_link_libraries(bench_decide PRIVATE verifier_core gk_testutil)
endif()
