# `ecogatectl ledger verify | prove | check-proof` (issue 4) on the fixture's
# PostgreSQL, migrated: it_ledger_cli.py writes each case's ledger with
# make_ledger.py (docs/ledger.md implemented again in Python, independent of the
# ledger-writer), tampers with it as a superuser with the append-only triggers
# bypassed, and expects verify to name the damage; proofs go through prove,
# check-proof and an independent RFC 9162 check in Python. Sites are never removed
# (the tables are append-only), so each run uses new site ids.
find_program(PSQL psql)
find_package(Python3 COMPONENTS Interpreter)
if(PSQL AND Python3_Interpreter_FOUND AND TARGET ecogatectl)
	add_test(NAME integration.ledger_cli
		COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/it_ledger_cli.py)
	set_tests_properties(integration.ledger_cli PROPERTIES LABELS integration
		FIXTURES_REQUIRED "servers;migrated" RESOURCE_LOCK postgres TIMEOUT 300
		ENVIRONMENT "${ECOGATE_SERVER_ENV};PSQL=${PSQL};ECOGATECTL=$<TARGET_FILE:ecogatectl>;ECOGATE_PG_CONNINFO=host=127.0.0.1 port=${ECOGATE_TEST_PG_PORT} dbname=ecogate user=postgres")
endif()
