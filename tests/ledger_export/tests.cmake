# `ecogatectl ledger export` and `migrate-import` (issue 4). test_ledger_csv checks
# the pure mapping (columns, China time, codes, quoting, import validation and ids)
# against hand-written expectations. it_ledger_export.py puts records of each ledger
# into a fresh site with psql, checks the CSV byte for byte against expected/*.csv
# and the XLSX read back with openpyxl (or the sheet XML through zipfile), then
# imports the exported transport CSV into another fresh site through migrate-import
# (audited on Kafka, read back with kcat when present), exports it again, and
# imports the same file twice to see nothing added the second time.
if(TARGET ecogatectl_ledger)
	add_executable(test_ledger_csv ${CMAKE_CURRENT_LIST_DIR}/test_ledger_csv.c)
	target_link_libraries(test_ledger_csv PRIVATE ecogatectl_ledger gatekit_core
		gk_testutil)
	add_test(NAME unit.ledger_export.csv COMMAND test_ledger_csv)
	set_tests_properties(unit.ledger_export.csv PROPERTIES LABELS unit TIMEOUT 60)
endif()
find_package(Python3 COMPONENTS Interpreter)
find_program(PSQL psql)
if(TARGET ecogatectl AND PSQL AND Python3_Interpreter_FOUND)
	find_program(KCAT kcat)
	add_test(NAME integration.ledger_export COMMAND ${Python3_EXECUTABLE}
		${CMAKE_CURRENT_LIST_DIR}/it_ledger_export.py)
	set_tests_properties(integration.ledger_export PROPERTIES LABELS integration
		FIXTURES_REQUIRED "servers;migrated" RESOURCE_LOCK "postgres;kafka"
		TIMEOUT 300
		ENVIRONMENT "${ECOGATE_SERVER_ENV};ECOGATECTL=$<TARGET_FILE:ecogatectl>;PSQL=${PSQL};KCAT=${KCAT};ECOGATE_KAFKA_BROKERS=127.0.0.1:${ECOGATE_TEST_KAFKA_PORT};ECOGATE_PG_CONNINFO=host=127.0.0.1 port=${ECOGATE_TEST_PG_PORT} dbname=ecogate user=postgres")
endif()
