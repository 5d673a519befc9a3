/*
 * Fuzz target for plate normalisation and validation (gatekit/plate.h): plate text
 * comes from OCR, ANPR cameras, RFID tags and people, so any bytes must give a plate
 * or a reason. Invariants: a rejection names a reason; normalising a normalised plate
 * changes nothing; an accepted plate is valid UTF-8 of 7 or 8 characters.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gatekit/plate.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char			 in[GK_PLATE_MAX * 2], out[GK_PLATE_MAX], again[GK_PLATE_MAX];
	struct gk_plate_err	 err;
	struct gk_plate_info	 info;
	enum gk_plate_colour	 colour;
	unsigned		 flags;

	if (size < 1 || size >= sizeof(in))
		return 0;
	/* First byte picks colour and flags, the rest is the plate text. */
	colour = (enum gk_plate_colour)(data[0] % GK_PLATE_COLOUR_COUNT);
	flags = (data[0] & 0x80) ? GK_PLATE_NEV_EXT : 0;
	memcpy(in, data + 1, size - 1);
	in[size - 1] = '\0';

	memset(&err, 0, sizeof(err));
	if (gk_plate_normalise(in, out, sizeof(out), &err) == -1) {
		if (err.reason == 0 && err.msg[0] == '\0')
			abort();
		return 0;
	}
	if (gk_plate_normalise(out, again, sizeof(again), &err) != 0 ||
	    strcmp(out, again) != 0)
		abort();	/* normalisation is idempotent */
	memset(&err, 0, sizeof(err));
	if (gk_plate_check(out, colour, flags, &info, &err) == -1) {
		if (err.msg[0] == '\0')
			abort();
		return 0;
	}
	if (info.nchars != 7 && info.nchars != 8)
		abort();
	return 0;
}
