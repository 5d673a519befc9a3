# Plate data generators of tools/lpr (issue 5): plate crops for the reader
# (test_gen_plates.py) and whole gate camera frames for end-to-end scoring and the
# demo (test_gen_frames.py), and the packs the small readers train on (test_packs.py:
# the character regions on GA 36's boxes, pack.py --cat). Python with Debian's Pillow
# and NumPy and the DejaVu/CJK fonts ops/install-deps.sh installs; no darknet, no
# servers, a few seconds each.
foreach(gen gen_plates gen_frames packs)
	add_test(NAME lpr.${gen}
		COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_${gen}.py)
	set_tests_properties(lpr.${gen} PROPERTIES LABELS unit TIMEOUT 120)
endforeach()
