# Fuzz targets: each parser of untrusted bytes has tests/fuzz/fuzz_<target>.c.
# Under the fuzz preset (clang, -fsanitize=fuzzer) they become libFuzzer binaries;
# otherwise they link replay.c and their committed corpus (plus the schema examples
# for JSON) runs as an ordinary test, so every crash ever found stays fixed.
set(fuzz_targets json plate cfg)
# Parsers that live in a daemon's core library link that library too.
if(TARGET verifier_core)
	list(APPEND fuzz_targets policy vehicle)
	set(fuzz_lib_policy verifier_core)
	set(fuzz_lib_vehicle verifier_core)
endif()
if(TARGET ecogatectl_lib)
	list(APPEND fuzz_targets registry_csv)
	set(fuzz_lib_registry_csv ecogatectl_lib)
endif()
if(TARGET lpr_core)
	list(APPEND fuzz_targets jpeg)		# darknet-lpr's frame decoding
	set(fuzz_lib_jpeg lpr_core)
endif()
foreach(t ${fuzz_targets})
	set(src ${CMAKE_CURRENT_LIST_DIR}/fuzz_${t}.c)
	if(ECOGATE_FUZZ)
		add_executable(fuzz_${t} ${src})
		target_compile_options(fuzz_${t} PRIVATE -fsanitize=fuzzer)
		target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer)
	else()
		add_executable(fuzz_${t} ${src} ${CMAKE_CURRENT_LIST_DIR}/replay.c)
	endif()
	target_link_libraries(fuzz_${t} PRIVATE ${fuzz_lib_${t}} gatekit_core)
	add_test(NAME fuzz.${t}.corpus COMMAND fuzz_${t} ${CMAKE_CURRENT_LIST_DIR}/corpus/${t})
	set_tests_properties(fuzz.${t}.corpus PROPERTIES LABELS unit)
endforeach()
# The golden and malformed message examples are JSON corpus too.
add_test(NAME fuzz.json.examples COMMAND fuzz_json
	${PROJECT_SOURCE_DIR}/schemas/examples/_malformed
	${PROJECT_SOURCE_DIR}/schemas/examples/plate-read.v1
	${PROJECT_SOURCE_DIR}/schemas/examples/passage-decision.v1)
set_tests_properties(fuzz.json.examples PROPERTIES LABELS unit)
# The config unit test's fixtures are config corpus too.
add_test(NAME fuzz.cfg.fixtures COMMAND fuzz_cfg ${PROJECT_SOURCE_DIR}/tests/unit/data/cfg)
set_tests_properties(fuzz.cfg.fixtures PROPERTIES LABELS unit)
# The schema examples (valid and invalid) are policy and vehicle corpus too.
if(TARGET fuzz_policy)
	add_test(NAME fuzz.policy.examples COMMAND fuzz_policy
		${PROJECT_SOURCE_DIR}/schemas/examples/policy.v1)
	add_test(NAME fuzz.vehicle.examples COMMAND fuzz_vehicle
		${PROJECT_SOURCE_DIR}/schemas/examples/vehicle.v1)
	set_tests_properties(fuzz.policy.examples fuzz.vehicle.examples PROPERTIES
		LABELS unit)
endif()
if(TARGET fuzz_registry_csv)
	add_test(NAME fuzz.registry_csv.samples COMMAND fuzz_registry_csv
		${PROJECT_SOURCE_DIR}/tests/registry/data ${PROJECT_SOURCE_DIR}/ops/sample)
	set_tests_properties(fuzz.registry_csv.samples PROPERTIES LABELS unit)
endif()
