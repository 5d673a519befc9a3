# camera-capture: its pure rules and JPEG handling as unit tests (no servers), the
# shipped config checked with -n, and the built daemon end to end on the real
# mosquitto and Kafka of the "servers" fixture (it_camera_capture.py: video files made
# with the ffmpeg CLI, a snapshot camera served by Python's http.server, a folder
# replay; frames read back with mosquitto_sub and kcat). It restarts no server but
# locks the two it uses so no test that restarts them runs meanwhile.
if(TARGET camera_core)
	foreach(t capture jpeg)
		add_executable(test_cam_${t} ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c)
		target_link_libraries(test_cam_${t} PRIVATE camera_core gatekit_core
			gk_testutil)
		add_test(NAME camera.${t} COMMAND test_cam_${t})
		set_tests_properties(camera.${t} PROPERTIES LABELS unit TIMEOUT 60
			ENVIRONMENT "ECOGATE_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
			WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
	endforeach()
endif()
if(TARGET camera-capture)
	add_test(NAME camera.conf COMMAND camera-capture -n
		-f ${PROJECT_SOURCE_DIR}/services/camera-capture/camera-capture.conf)
	set_tests_properties(camera.conf PROPERTIES LABELS unit
		PASS_REGULAR_EXPRESSION "configuration OK")
	add_test(NAME integration.camera_capture
		COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/it_camera_capture.py)
	set_tests_properties(integration.camera_capture PROPERTIES LABELS integration
		FIXTURES_REQUIRED servers
		RESOURCE_LOCK "mosquitto;kafka"
		TIMEOUT 240
		ENVIRONMENT "${ECOGATE_SERVER_ENV};CAMERA_CAPTURE=$<TARGET_FILE:camera-capture>")
endif()
