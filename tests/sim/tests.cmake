# Simulators of field devices, for the unit tests of the drivers and the end-to-end
# tests: modbus_barrier is a barrier behind a Modbus TCP relay module (options and
# Modbus map at the top of modbus_barrier.c). Tests find it as
# $<TARGET_FILE:modbus_barrier>.
pkg_check_modules(SIM_MODBUS IMPORTED_TARGET libmodbus)
if(SIM_MODBUS_FOUND)
	add_executable(modbus_barrier ${CMAKE_CURRENT_LIST_DIR}/modbus_barrier.c)
	target_link_libraries(modbus_barrier PRIVATE PkgConfig::SIM_MODBUS)
endif()
