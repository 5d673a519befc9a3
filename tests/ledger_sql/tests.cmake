# The ledger's tables (schemas/sql/0003_ledger.sql) on the fixture's PostgreSQL,
# migrated by ecogatectl.migrate: append-only for every role, idempotent on event_id,
# the retention guard. Judged by psql alone.
find_program(PSQL psql)
if(PSQL AND TARGET ecogatectl)
	add_test(NAME ledger.sql COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/it_ledger_sql.sh)
	set_tests_properties(ledger.sql PROPERTIES LABELS integration
		FIXTURES_REQUIRED "servers;migrated" RESOURCE_LOCK postgres TIMEOUT 120
		ENVIRONMENT "${ECOGATE_SERVER_ENV};PSQL=${PSQL};ECOGATE_PG_CONNINFO=host=127.0.0.1 port=${ECOGATE_TEST_PG_PORT} dbname=ecogate user=postgres")
endif()
