# Verifier daemon end to end: the built verifier against the real servers of the
# "servers" fixture, driven and observed by independent clients (mosquitto_pub/sub,
# redis-cli, kcat) from tests/verifier_it/it_verifier.py. It does not restart any
# server, but it takes all three locks so no test that restarts one runs meanwhile.
if(TARGET verifier)
	add_test(NAME integration.verifier
		COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/it_verifier.py)
	set_tests_properties(integration.verifier PROPERTIES LABELS integration
		FIXTURES_REQUIRED servers
		RESOURCE_LOCK "mosquitto;redis;kafka"
		TIMEOUT 300
		ENVIRONMENT "${ECOGATE_SERVER_ENV};VERIFIER=$<TARGET_FILE:verifier>")
	# Exercise -n on the shipped config: the documented defaults must parse.
	add_test(NAME verifier.conf
		COMMAND verifier -n -f ${PROJECT_SOURCE_DIR}/services/verifier/verifier.conf)
	set_tests_properties(verifier.conf PROPERTIES LABELS unit
		PASS_REGULAR_EXPRESSION "configuration OK")
endif()
