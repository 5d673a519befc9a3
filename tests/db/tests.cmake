# Database area: the migration runner's unit test links the same library ecogatectl
# runs, and integration.db runs the built ecogatectl binary against a fresh database.
# Included by tests/CMakeLists.txt after the unit and integration tests are defined.
if(TARGET test_migrate AND TARGET ecogatectl_lib)
	target_link_libraries(test_migrate PRIVATE ecogatectl_lib)
endif()
if(TARGET it_db AND TARGET ecogatectl)
	set_property(TEST integration.db APPEND PROPERTY ENVIRONMENT
		"ECOGATECTL=$<TARGET_FILE:ecogatectl>")
	# ecogatectl is part of "all"; the dependency also covers "ninja it_db" alone.
	add_dependencies(it_db ecogatectl)
endif()
