# Ledger area: the ledger-writer's pure core (services/ledger-writer, ledger_core),
# issue 4. Unit tests per module; merkle_ref.py is an independent RFC 9162
# implementation in Python (hashlib) that checks the roots and proofs a small C
# driver produces, and JCS numbers against Python's own shortest repr. fuzz_jcs is
# registered here, next to the code it exercises, the way tests/fuzz/tests.cmake
# does it: libFuzzer under the fuzz preset, corpus replay otherwise. bench_merkle
# (not a test) is run by ops/bench.sh like every tests/bench program.
if(TARGET ledger_core)
	foreach(m jcs merkle checkpoint proof)
		if(NOT EXISTS ${CMAKE_CURRENT_LIST_DIR}/test_${m}.c)
			continue()
		endif()
		add_executable(test_ledger_${m} ${CMAKE_CURRENT_LIST_DIR}/test_${m}.c)
		target_link_libraries(test_ledger_${m} PRIVATE ledger_core gk_testutil)
		add_test(NAME unit.ledger.${m} COMMAND test_ledger_${m})
		set_tests_properties(unit.ledger.${m} PROPERTIES LABELS unit TIMEOUT 60
			WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
	endforeach()

	find_package(Python3 COMPONENTS Interpreter)
	add_executable(ledger_ref_driver ${CMAKE_CURRENT_LIST_DIR}/ref_driver.c)
	target_link_libraries(ledger_ref_driver PRIVATE ledger_core)
	if(Python3_Interpreter_FOUND)
		foreach(alg sha256 sm3)
			add_test(NAME unit.ledger.merkle_ref.${alg} COMMAND ${Python3_EXECUTABLE}
				${CMAKE_CURRENT_LIST_DIR}/merkle_ref.py merkle
				$<TARGET_FILE:ledger_ref_driver> ${alg})
		endforeach()
		add_test(NAME unit.ledger.jcs_numbers COMMAND ${Python3_EXECUTABLE}
			${CMAKE_CURRENT_LIST_DIR}/merkle_ref.py numbers
			$<TARGET_FILE:ledger_ref_driver>)
		set_tests_properties(unit.ledger.merkle_ref.sha256
			unit.ledger.merkle_ref.sm3 unit.ledger.jcs_numbers PROPERTIES
			LABELS unit TIMEOUT 120 SKIP_RETURN_CODE 77)
	endif()

	set(src ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_jcs.c)
	if(ECOGATE_FUZZ)
		add_executable(fuzz_jcs ${src})
		target_compile_options(fuzz_jcs PRIVATE -fsanitize=fuzzer)
		target_link_options(fuzz_jcs PRIVATE -fsanitize=fuzzer)
	else()
		add_executable(fuzz_jcs ${src} ${PROJECT_SOURCE_DIR}/tests/fuzz/replay.c)
	endif()
	target_link_libraries(fuzz_jcs PRIVATE ledger_core gatekit_core)
	add_test(NAME fuzz.jcs.corpus COMMAND fuzz_jcs
		${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/jcs)
	set_tests_properties(fuzz.jcs.corpus PROPERTIES LABELS unit)

	add_executable(bench_merkle ${PROJECT_SOURCE_DIR}/tests/bench/bench_merkle.c)
	target_link_libraries(bench_merkle PRIVATE ledger_core)
endif()
