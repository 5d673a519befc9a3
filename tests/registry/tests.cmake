# Vehicle registry (ecogatectl registry): the CSV reader's unit test links the library
# ecogatectl runs; the integration test drives the built ecogatectl against the
# fixture's PostgreSQL (migrated by ecogatectl.migrate) and Kafka, and reads the topic
# back with kcat, a consumer independent of our code.
if(TARGET ecogatectl_lib)
	add_executable(test_registry_csv ${CMAKE_CURRENT_LIST_DIR}/test_registry_csv.c)
	target_link_libraries(test_registry_csv PRIVATE ecogatectl_lib gatekit_core
		gk_testutil)
	add_test(NAME registry.csv COMMAND test_registry_csv)
	set_tests_properties(registry.csv PROPERTIES LABELS unit
		ENVIRONMENT "ECOGATE_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endif()
if(TARGET ecogatectl)
	find_program(KCAT kcat)
	find_program(PSQL psql)
	if(KCAT AND PSQL)
		add_test(NAME registry.integration
			COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/it_registry.sh)
		set_tests_properties(registry.integration PROPERTIES LABELS integration
			FIXTURES_REQUIRED "servers;migrated"
			RESOURCE_LOCK "postgres;kafka" TIMEOUT 300
			ENVIRONMENT "${ECOGATE_SERVER_ENV};ECOGATECTL=$<TARGET_FILE:ecogatectl>;KCAT=${KCAT};PSQL=${PSQL};ECOGATE_KAFKA_BROKERS=127.0.0.1:${ECOGATE_TEST_KAFKA_PORT};ECOGATE_PG_CONNINFO=host=127.0.0.1 port=${ECOGATE_TEST_PG_PORT} dbname=ecogate user=postgres")
	else()
		message(STATUS "registry.integration: needs kcat and psql, not run")
	endif()
endif()
