# Outbox area: the verifier's durable outbox (services/verifier/outbox.c).
# test_outbox covers the format, recovery, rolling and limits file by file;
# test_outbox_kill SIGKILLs a writer at random moments and checks nothing acknowledged
# is lost and nothing durable-done comes back. test_journal covers the read journal
# (services/verifier/journal.c) and the derived passage event_id (passage_id.c). bench_outbox (not a test) prints
# appends per second with one fsync per append and with group commit.
if(TARGET verifier_core AND EXISTS ${CMAKE_CURRENT_LIST_DIR}/test_outbox_kill.c
    AND EXISTS ${PROJECT_SOURCE_DIR}/tests/bench/bench_outbox.c)
	foreach(t test_outbox test_outbox_kill test_journal)
		add_executable(${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.c)
		target_link_libraries(${t} PRIVATE verifier_core gatekit_core gk_testutil)
	endforeach()
	add_test(NAME unit.outbox COMMAND test_outbox)
	add_test(NAME unit.outbox.kill COMMAND test_outbox_kill)
	add_test(NAME unit.journal COMMAND test_journal)
	set_tests_properties(unit.outbox unit.outbox.kill unit.journal PROPERTIES LABELS unit
		TIMEOUT 120 WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})

	add_executable(bench_outbox ${PROJECT_SOURCE_DIR}/tests/bench/bench_outbox.c)
	target_link_libraries(bench_outbox PRIVATE verifier_core gatekit_core)
endif()
