# Fault tests of the verifier (issue 3, "Faults"), driven by tests/faults/it_faults.py
# against the real servers of the "servers" fixture, with independent clients
# (mosquitto_pub/sub, kcat) on the other side:
#   integration.faults.kill        2,000 passages while the verifier is SIGKILLed at
#                                  random (about 35-45 kills); every passage on Kafka
#                                  exactly once by event_id. About a minute.
#   integration.faults.kafka_down  Kafka stopped: decisions keep arriving on MQTT within
#                                  their deadline; the verifier restarts with Kafka
#                                  still down; Kafka back: the outbox's backlog drains,
#                                  exactly once by event_id. About half a minute.
# The first restarts no server but takes all three locks so that no test restarting
# one runs meanwhile; the second stops and starts Kafka itself.
if(TARGET verifier)
	add_test(NAME integration.faults.kill
		COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/it_faults.py kill)
	add_test(NAME integration.faults.kafka_down
		COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/it_faults.py kafka)
	set_tests_properties(integration.faults.kill integration.faults.kafka_down
		PROPERTIES LABELS integration
		FIXTURES_REQUIRED servers
		RESOURCE_LOCK "mosquitto;redis;kafka"
		TIMEOUT 300
		ENVIRONMENT "${ECOGATE_SERVER_ENV};VERIFIER=$<TARGET_FILE:verifier>")
endif()
