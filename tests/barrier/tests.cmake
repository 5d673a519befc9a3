# barrier-actuator core: the pure state machine (test_barrier), the Modbus wrapper
# against the simulated barrier in tests/sim (test_modbus_io, which starts
# modbus_barrier itself on a free port in 15000-15999) and the display drivers
# (test_display, with a listener socket of its own). No broker needed: label unit.
if(TARGET barrier_core)
	foreach(t barrier modbus_io display)
		add_executable(test_${t} ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c)
		target_link_libraries(test_${t} PRIVATE barrier_core gatekit_core gk_testutil)
		add_test(NAME barrier.${t} COMMAND test_${t})
		set_tests_properties(barrier.${t} PROPERTIES LABELS unit TIMEOUT 120
			WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
	endforeach()
	# The simulator is defined by tests/sim/tests.cmake; generator expressions
	# resolve at generate time, so the order of inclusion does not matter.
	add_dependencies(test_modbus_io modbus_barrier)
	set_tests_properties(barrier.modbus_io PROPERTIES
		ENVIRONMENT "MODBUS_BARRIER=$<TARGET_FILE:modbus_barrier>")
endif()
