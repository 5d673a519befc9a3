/*
 * Fuzz target: darknet-lpr's frame decoding (services/darknet-lpr/frame.c), the path
 * every JPEG from the bus takes before the models see it. Whatever the bytes, the
 * decoder must refuse them with a reason or produce a frame of the size its header
 * claims within the limits, and sampling that frame into a network input and judging
 * a plate colour must stay inside it. Limits are small so that the fuzzer spends its
 * time on structure, not on decoding large frames.
 */
#include <stdint.h>
#include <stdlib.h>

#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void		*dec;
	struct frame_limits	 lim = { 1 << 20, 2048, 2048, 1 << 20 };
	struct frame		 f;
	char			 err[160];
	float			 in[3 * 32 * 16], sx, sy, dx, dy;
	enum frame_reason	 r;

	if (dec == NULL && (dec = frame_decoder_new()) == NULL)
		abort();
	r = frame_decode(dec, data, size, &lim, &f, err, sizeof(err));
	if (r != FRAME_OK) {
		if (f.rgb != NULL || frame_reason_name(r)[0] == '?')
			abort();
		return 0;
	}
	if (f.w <= 0 || f.h <= 0 || f.w > lim.max_w || f.h > lim.max_h ||
	    (long long)f.w * f.h > lim.max_pixels)
		abort();
	frame_letterbox(&f, 3, 32, 16, in, &sx, &sy, &dx, &dy);
	frame_sample(&f, -5, -5, (float)f.w + 10, (float)f.h / 2 + 1, 1, 32, 16, in);
	(void)frame_colour(&f, f.w / 4, f.h / 4, f.w / 2 + 1, f.h / 2 + 1);
	frame_free(&f);
	return 0;
}
