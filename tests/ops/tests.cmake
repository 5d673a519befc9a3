# Tests of the ops scripts (ops/servers.sh, ops/install-deps.sh), included by
# tests/CMakeLists.txt.
#
# ops.syntax     unit: bash -n on every script; cheap, catches a broken edit at once
# ops.shellcheck unit: only when shellcheck is installed (it is not required)
# ops.cli        unit: servers.sh env/usage/status/stop without any server running
# ops.status     integration: with the "servers" fixture up, status says all four up
# ops.restart    integration: its own servers in its own state folder and ports
#                (30xxx), data left in each survives a restart of all four

set(ops_scripts
	${PROJECT_SOURCE_DIR}/ops/servers.sh
	${PROJECT_SOURCE_DIR}/ops/install-deps.sh
	${PROJECT_SOURCE_DIR}/ops/test.sh
	${PROJECT_SOURCE_DIR}/ops/demo.sh
	${PROJECT_SOURCE_DIR}/ops/bench.sh
	${PROJECT_SOURCE_DIR}/ops/lib/kafka-libs.sh
	${CMAKE_CURRENT_LIST_DIR}/check_cli.sh
	${CMAKE_CURRENT_LIST_DIR}/it_restart.sh)

set(ops_syntax_cmd "")
foreach(s ${ops_scripts})
	string(APPEND ops_syntax_cmd "bash -n '${s}' && ")
endforeach()
string(APPEND ops_syntax_cmd "true")
add_test(NAME ops.syntax COMMAND bash -c "${ops_syntax_cmd}")
set_tests_properties(ops.syntax PROPERTIES LABELS unit)

find_program(ECOGATE_SHELLCHECK shellcheck)
if(ECOGATE_SHELLCHECK)
	add_test(NAME ops.shellcheck COMMAND ${ECOGATE_SHELLCHECK} -x ${ops_scripts}
		WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
	set_tests_properties(ops.shellcheck PROPERTIES LABELS unit)
endif()

add_test(NAME ops.cli COMMAND ${CMAKE_CURRENT_LIST_DIR}/check_cli.sh ${ECOGATE_OPS})
set_tests_properties(ops.cli PROPERTIES LABELS unit TIMEOUT 60)

add_test(NAME ops.status COMMAND ${ECOGATE_OPS}/servers.sh status all)
# Locks every server: the adapters' tests restart theirs, and "status" would catch one
# of them mid-restart.
set_tests_properties(ops.status PROPERTIES LABELS integration
	FIXTURES_REQUIRED servers ENVIRONMENT "${ECOGATE_SERVER_ENV}" TIMEOUT 60
	RESOURCE_LOCK "mosquitto;redis;postgres;kafka")

# Fixed ports below 32768, out of Linux's ephemeral range (32768-60999), where an
# outgoing connection may hold the port at the moment a server wants to bind it.
set(ops_mqtt 30883)
set(ops_redis 30379)
set(ops_pg 30432)
set(ops_kafka 30092)
set(ops_kafka_ctl 30093)
add_test(NAME ops.restart COMMAND ${CMAKE_CURRENT_LIST_DIR}/it_restart.sh)
set_tests_properties(ops.restart PROPERTIES LABELS integration TIMEOUT 400
	ENVIRONMENT "ECOGATE_OPS=${ECOGATE_OPS};ECOGATE_STATE_DIR=${CMAKE_BINARY_DIR}/ops-restart-servers;ECOGATE_MQTT_PORT=${ops_mqtt};ECOGATE_REDIS_PORT=${ops_redis};ECOGATE_PG_PORT=${ops_pg};ECOGATE_KAFKA_PORT=${ops_kafka};ECOGATE_KAFKA_CONTROLLER_PORT=${ops_kafka_ctl}")
