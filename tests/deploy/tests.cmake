# Deployment files checked without a Docker engine (none runs on these machines).
add_test(NAME deploy.compose
	COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/check_deploy.py ${PROJECT_SOURCE_DIR})
set_tests_properties(deploy.compose PROPERTIES LABELS unit)
