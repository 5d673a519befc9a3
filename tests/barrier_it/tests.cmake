# barrier-actuator daemon, end to end: the built daemon against the fixture's
# mosquitto and the simulated barrier (tests/sim/modbus_barrier, started by the script
# on a free port in 16000-16999). The script is the test; it needs mosquitto_pub and
# mosquitto_sub (MQTT v5). It locks mosquitto like the other broker tests.
find_program(MOSQUITTO_SUB mosquitto_sub)
# modbus_barrier is defined by tests/sim/tests.cmake, included after this file; it is
# built whenever libmodbus is there, which barrier-actuator requires too, and the
# generator expression below resolves at generate time.
if(TARGET barrier-actuator AND MOSQUITTO_SUB)
	add_test(NAME integration.barrier_actuator
		COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/barrier_actuator_it.sh
			$<TARGET_FILE:barrier-actuator> $<TARGET_FILE:modbus_barrier>)
	set_tests_properties(integration.barrier_actuator PROPERTIES
		LABELS integration FIXTURES_REQUIRED servers RESOURCE_LOCK mosquitto
		ENVIRONMENT "${ECOGATE_SERVER_ENV}" TIMEOUT 180)
endif()
