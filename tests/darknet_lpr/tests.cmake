# darknet-lpr: unit tests of its pure core (no servers, no darknet), the shipped
# config checked with -n, and the daemon end to end on the real broker
# (it_darknet_lpr.py: JPEG frames with MQTT 5 user properties in, plate-read.v1 out),
# and the chain camera-capture -> darknet-lpr on the sample frames (it_vision_chain.py:
# triggers in, plate reads linked to their frames and to the evidence topic out).
# bench_lpr prints per-frame latency; it is built here, never run as a test.
# lpr.accuracy is the models' regression floor: 400 held-out synthetic frames through
# lpr_eval (tests/bench/lpr_eval.c, which ops/bench.sh also runs on 2,000). The floors
# sit under what the models in models/versions.txt measured on these frames with the
# daemon's defaults (detector 0.3.1 + reader 0.6.1, two refiner passes, province and
# character readers at 0.6: 89.5 % whole plate, recall 99.5 %, a wrong plate out in
# 4.0 % of frames; 97.9 % of the 330 frames inside gen_frames' reading envelope;
# models/MODEL_CARD.md). The legible floor is issue 5's 95 %, nine frames under
# what was measured, and the others leave eight to ten frames, so that a frame or
# two read otherwise on another CPU does not fail them; the all-frames figure is far
# below 95 % (a sixth of the frames nobody can read). Raise the floors with the
# weights. Reader 0.5.0 with its defaults of then (85.5 %) fails them.
if(TARGET lpr_core)
	add_executable(test_lpr ${CMAKE_CURRENT_LIST_DIR}/test_lpr.c)
	target_link_libraries(test_lpr PRIVATE lpr_core gk_testutil)
	add_test(NAME darknet_lpr.core COMMAND test_lpr)
	set_tests_properties(darknet_lpr.core PROPERTIES LABELS unit
		ENVIRONMENT "ECOGATE_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endif()
if(TARGET darknet-lpr)
	add_test(NAME darknet_lpr.conf COMMAND darknet-lpr -n
		-f ${PROJECT_SOURCE_DIR}/services/darknet-lpr/darknet-lpr.conf)
	set_tests_properties(darknet_lpr.conf PROPERTIES LABELS unit
		PASS_REGULAR_EXPRESSION "configuration OK")
	add_test(NAME integration.darknet_lpr
		COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/it_darknet_lpr.py)
	set_tests_properties(integration.darknet_lpr PROPERTIES LABELS integration
		FIXTURES_REQUIRED servers RESOURCE_LOCK mosquitto TIMEOUT 300
		ENVIRONMENT "${ECOGATE_SERVER_ENV};DARKNET_LPR=$<TARGET_FILE:darknet-lpr>")
	if(TARGET camera-capture)
		add_test(NAME integration.vision_chain
			COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/it_vision_chain.py)
		# It creates and reads the evidence topic, so it holds the kafka lock:
		# integration.stream restarts the broker meanwhile (CI failed on that).
		set_tests_properties(integration.vision_chain PROPERTIES
			LABELS integration FIXTURES_REQUIRED servers
			RESOURCE_LOCK "mosquitto;kafka" TIMEOUT 300
			ENVIRONMENT "${ECOGATE_SERVER_ENV};DARKNET_LPR=$<TARGET_FILE:darknet-lpr>;CAMERA_CAPTURE=$<TARGET_FILE:camera-capture>")
	endif()
	add_executable(bench_lpr ${PROJECT_SOURCE_DIR}/tests/bench/bench_lpr.c)
	target_link_libraries(bench_lpr PRIVATE lpr_net gatekit_core)
	set_target_properties(bench_lpr PROPERTIES BUILD_RPATH /usr/lib/darknet)
	add_executable(lpr_eval ${PROJECT_SOURCE_DIR}/tests/bench/lpr_eval.c)
	target_link_libraries(lpr_eval PRIVATE lpr_net gatekit_core m)
	set_target_properties(lpr_eval PROPERTIES BUILD_RPATH /usr/lib/darknet)
	set(LPR_MIN_ACCURACY 0.87)	# whole plate right and published, of all frames
	set(LPR_MIN_LEGIBLE 0.95)	# the same, of the frames inside the reading envelope
	set(LPR_MIN_RECALL 0.97)	# detector, IoU >= 0.5
	set(LPR_MAX_WRONG 0.06)		# frames where a wrong plate would go out
	add_test(NAME lpr.accuracy COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/lpr_accuracy.sh
		$<TARGET_FILE:lpr_eval> ${PROJECT_SOURCE_DIR} ${LPR_MIN_ACCURACY}
		${LPR_MIN_RECALL} ${LPR_MAX_WRONG} ${LPR_MIN_LEGIBLE})
	set_tests_properties(lpr.accuracy PROPERTIES LABELS models TIMEOUT 600)
endif()
