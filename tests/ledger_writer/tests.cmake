# The ledger-writer (issue 4): its PostgreSQL store, the message-to-record mapping and
# the daemon.
#   unit.ledger_writer.record       passage/audit messages to records, hand-written
#                                   expectations (no server).
#   integration.ledger_writer.store the store against the migrated PostgreSQL,
#                                   mirrored into merkle.c's in-memory tree: leaves,
#                                   tiles, roots, proofs, reopen across tiles (66k
#                                   records), duplicates, offsets, evidence,
#                                   checkpoints, the one-writer lock.
#   integration.ledger_writer.kill  it_ledger_writer.py: 10,000 passages with
#   integration.ledger_writer.pg_restart  evidence through Kafka while the writer is
#                                   SIGKILLed at random / PostgreSQL restarted; every
#                                   event_id once, seq gapless, leaves recomputed in
#                                   Python (hashlib), evidence present, every
#                                   record on the ledger topic.
#   integration.ledger_writer.commit_cut  the same flow through a TCP proxy to
#                                   PostgreSQL (commit_cut_proxy.py) that lets a
#                                   batch's COMMIT commit and then drops the writer's
#                                   connection before it hears so (in doubt), >= 3
#                                   times a run; the same checks, and each committed
#                                   seq once, in order, on the ledger topic.
if(TARGET ledger_store)
	if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/test_record.c)
		add_executable(test_ledger_record ${CMAKE_CURRENT_LIST_DIR}/test_record.c)
		target_link_libraries(test_ledger_record PRIVATE ledger_store gk_testutil)
		add_test(NAME unit.ledger_writer.record COMMAND test_ledger_record)
		set_tests_properties(unit.ledger_writer.record PROPERTIES LABELS unit
			TIMEOUT 60)
	endif()
	find_package(OpenSSL 3.0 REQUIRED)
	add_executable(it_ledger_store ${CMAKE_CURRENT_LIST_DIR}/it_store.c)
	target_link_libraries(it_ledger_store PRIVATE ledger_store gk_testutil
		OpenSSL::Crypto)
	set(lw_pg "ECOGATE_PG_CONNINFO=host=127.0.0.1 port=${ECOGATE_TEST_PG_PORT} dbname=ecogate user=postgres")
	add_test(NAME integration.ledger_writer.store COMMAND it_ledger_store)
	set_tests_properties(integration.ledger_writer.store PROPERTIES
		LABELS integration FIXTURES_REQUIRED "servers;migrated"
		RESOURCE_LOCK postgres TIMEOUT 300
		ENVIRONMENT "${ECOGATE_SERVER_ENV};${lw_pg}")
	if(TARGET ledger-writer AND EXISTS ${CMAKE_CURRENT_LIST_DIR}/it_ledger_writer.py)
		foreach(mode kill pg_restart commit_cut)
			add_test(NAME integration.ledger_writer.${mode}
				COMMAND /usr/bin/python3
				${CMAKE_CURRENT_LIST_DIR}/it_ledger_writer.py ${mode})
			set_tests_properties(integration.ledger_writer.${mode} PROPERTIES
				LABELS integration FIXTURES_REQUIRED "servers;migrated"
				RESOURCE_LOCK "postgres;kafka;mosquitto" TIMEOUT 400
				ENVIRONMENT "${ECOGATE_SERVER_ENV};${lw_pg};LEDGER_WRITER=$<TARGET_FILE:ledger-writer>")
		endforeach()
	endif()
endif()

# bench_ledger (not a test): store appends vs a raw COPY of the same rows; needs
# PostgreSQL, so ops/bench.sh starts one for it.
if(TARGET ledger_store)
	add_executable(bench_ledger ${PROJECT_SOURCE_DIR}/tests/bench/bench_ledger.c)
	target_link_libraries(bench_ledger PRIVATE ledger_store gatekit_db gatekit_core)
endif()
