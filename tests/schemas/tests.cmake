# Schema tests: the JSON Schemas in schemas/ against their golden examples.
#
# schemas.python   Debian's python3-jsonschema (Draft 2020-12): every schema is a valid
#                  schema, every valid-* example validates, every invalid-* example fails
#                  for the reason its expect.json names, _malformed/ is refused.
# schemas.examples our strict C parser (gatekit/json.h) parses every example and refuses
#                  every _malformed/ file; valid plates pass gatekit/plate.h.
add_test(NAME schemas.python
	COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/validate.py
		${PROJECT_SOURCE_DIR}/schemas)
set_tests_properties(schemas.python PROPERTIES LABELS unit)

add_executable(schemas_check_examples ${CMAKE_CURRENT_LIST_DIR}/check_examples.c)
target_link_libraries(schemas_check_examples PRIVATE gatekit_core gk_testutil)
add_test(NAME schemas.examples
	COMMAND schemas_check_examples ${PROJECT_SOURCE_DIR}/schemas)
set_tests_properties(schemas.examples PROPERTIES LABELS unit)
