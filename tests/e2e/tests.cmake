# The gate end to end, as a scenario table (tests/e2e/e2e_gate.py): the built verifier,
# two barrier-actuators with simulated barriers (tests/sim/modbus_barrier) and
# ecogatectl (registry import, policy load / set-alert) against the real servers of
# the "servers" fixture, in the database ecogatectl.migrate prepared ("migrated").
# Judged by independent clients: mosquitto_sub, kcat, redis-cli, psql, a raw Modbus TCP
# socket and python3-jsonschema. It restarts no server but uses all four, so it takes
# all four locks and no test that restarts one runs meanwhile.
#
# modbus_barrier is defined by tests/sim/tests.cmake, included after this file; it is
# built whenever libmodbus is there, which barrier-actuator requires too, and the
# generator expression below resolves at generate time.
if(TARGET verifier AND TARGET barrier-actuator AND TARGET ecogatectl)
	add_test(NAME integration.e2e_gate
		COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/e2e_gate.py)
	set_tests_properties(integration.e2e_gate PROPERTIES LABELS integration
		FIXTURES_REQUIRED "servers;migrated"
		RESOURCE_LOCK "mosquitto;redis;kafka;postgres"
		TIMEOUT 300
		ENVIRONMENT "${ECOGATE_SERVER_ENV};VERIFIER=$<TARGET_FILE:verifier>;ACTUATOR=$<TARGET_FILE:barrier-actuator>;SIMULATOR=$<TARGET_FILE:modbus_barrier>;ECOGATECTL=$<TARGET_FILE:ecogatectl>;ECOGATE_PG_CONNINFO=host=127.0.0.1 port=${ECOGATE_TEST_PG_PORT} dbname=ecogate user=postgres")
endif()
