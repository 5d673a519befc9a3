# ecogatectl against the fixture's servers: migrate the fixture's "ecogate" database
# (a fixture of its own, so tests needing the registry tables run after it), then the
# self test, which must see every sample plate read come back from all four servers.
if(TARGET ecogatectl)
	set(ctl_env ${ECOGATE_SERVER_ENV}
		ECOGATE_SQL_DIR=${PROJECT_SOURCE_DIR}/schemas/sql
		ECOGATE_MQTT_URL=tcp://127.0.0.1:${ECOGATE_TEST_MQTT_PORT}
		ECOGATE_KAFKA_BROKERS=127.0.0.1:${ECOGATE_TEST_KAFKA_PORT}
		ECOGATE_REDIS_HOST=127.0.0.1
		ECOGATE_REDIS_PORT=${ECOGATE_TEST_REDIS_PORT}
		"ECOGATE_PG_CONNINFO=host=127.0.0.1 port=${ECOGATE_TEST_PG_PORT} dbname=ecogate user=postgres")
	add_test(NAME ecogatectl.migrate COMMAND ecogatectl migrate)
	set_tests_properties(ecogatectl.migrate PROPERTIES LABELS integration
		FIXTURES_REQUIRED servers FIXTURES_SETUP migrated
		RESOURCE_LOCK postgres ENVIRONMENT "${ctl_env}" TIMEOUT 120)
	add_test(NAME ecogatectl.selftest COMMAND ecogatectl selftest)
	set_tests_properties(ecogatectl.selftest PROPERTIES LABELS integration
		FIXTURES_REQUIRED "servers;migrated"
		RESOURCE_LOCK "mosquitto;redis;postgres;kafka"
		ENVIRONMENT "${ctl_env};ECOGATE_SAMPLES=${PROJECT_SOURCE_DIR}/schemas/examples/plate-read.v1"
		PASS_REGULAR_EXPRESSION "selftest: all servers answered" TIMEOUT 180)
	find_program(PSQL psql)
	if(PSQL)
		add_test(NAME ecogatectl.selftest_clean
			COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/selftest_clean.sh)
		set_tests_properties(ecogatectl.selftest_clean PROPERTIES
			LABELS integration FIXTURES_REQUIRED "servers;migrated"
			RESOURCE_LOCK "mosquitto;redis;postgres;kafka" TIMEOUT 180
			ENVIRONMENT "${ctl_env};ECOGATECTL=$<TARGET_FILE:ecogatectl>;PSQL=${PSQL}")
	endif()
	add_test(NAME ecogatectl.selftest_fails COMMAND ecogatectl selftest)
	# Nothing listens on port 1: the self test must say so and fail, not hang or pass.
	set_tests_properties(ecogatectl.selftest_fails PROPERTIES LABELS integration
		FIXTURES_REQUIRED "servers;migrated"
		ENVIRONMENT "${ctl_env};ECOGATE_MQTT_URL=tcp://127.0.0.1:1;ECOGATE_TIMEOUT=3s"
		WILL_FAIL TRUE TIMEOUT 120)
	add_test(NAME ecogatectl.config_error COMMAND ecogatectl selftest -n)
	set_tests_properties(ecogatectl.config_error PROPERTIES LABELS unit
		ENVIRONMENT "ECOGATE_REDIS_PORT=99999"
		PASS_REGULAR_EXPRESSION "environment ECOGATE_REDIS_PORT: ")
endif()
