# ecogatectl policy / barrier open / audit events: the pure parts unit-tested against
# hand-written expectations; the commands driven end to end against the fixture's
# PostgreSQL (migrated, 0002_policy.sql included), Kafka and mosquitto, judged by
# psql, kcat, mosquitto_sub and python3-jsonschema.
if(TARGET ecogatectl_ops)
	add_executable(test_ctl_policy ${CMAKE_CURRENT_LIST_DIR}/test_ctl_policy.c)
	target_link_libraries(test_ctl_policy PRIVATE ecogatectl_ops gatekit_core
		gk_testutil)
	add_test(NAME policy.ctl COMMAND test_ctl_policy)
	set_tests_properties(policy.ctl PROPERTIES LABELS unit
		ENVIRONMENT "ECOGATE_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endif()
if(TARGET ecogatectl)
	find_program(KCAT kcat)
	find_program(PSQL psql)
	find_program(MOSQ_SUB mosquitto_sub)
	find_program(MOSQ_PUB mosquitto_pub)
	if(KCAT AND PSQL AND MOSQ_SUB AND MOSQ_PUB)
		add_test(NAME policy.integration
			COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/it_policy.sh)
		set_tests_properties(policy.integration PROPERTIES LABELS integration
			FIXTURES_REQUIRED "servers;migrated"
			RESOURCE_LOCK "postgres;kafka;mosquitto" TIMEOUT 300
			ENVIRONMENT "${ECOGATE_SERVER_ENV};ECOGATECTL=$<TARGET_FILE:ecogatectl>;KCAT=${KCAT};PSQL=${PSQL};MOSQ_SUB=${MOSQ_SUB};MOSQ_PUB=${MOSQ_PUB};ECOGATE_KAFKA_BROKERS=127.0.0.1:${ECOGATE_TEST_KAFKA_PORT};ECOGATE_PG_CONNINFO=host=127.0.0.1 port=${ECOGATE_TEST_PG_PORT} dbname=ecogate user=postgres")
	else()
		message(STATUS "policy.integration: needs kcat, psql, mosquitto_sub/pub, not run")
	endif()
endif()
