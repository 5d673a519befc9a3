/*
 * Unit tests of camera-capture's JPEG handling (services/camera-capture/jpeg.c): an
 * encode within the limit keeps the quality, a tight limit lowers the quality and
 * then halves the size until it fits, an impossible limit fails cleanly; a camera's
 * JPEG is kept byte for byte when it fits and made smaller when not; garbage,
 * truncated and absurd JPEGs are refused.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jpeg.h"
#include "t.h"

/* A noisy test card: noise makes JPEG work hard, so sizes are predictable. */
static unsigned char *
card(int w, int h)
{
	unsigned char *p = malloc((size_t)w * (size_t)h * 3);
	uint32_t r = 12345;
	int x, y;

	for (y = 0; y < h; y++)
		for (x = 0; x < w; x++) {
			r = r * 1103515245u + 12345u;
			p[(y * w + x) * 3 + 0] = (unsigned char)(x * 255 / w);
			p[(y * w + x) * 3 + 1] = (unsigned char)(y * 255 / h);
			p[(y * w + x) * 3 + 2] = (unsigned char)(r >> 24);
		}
	return p;
}

static int
whole(const struct jpeg_out *o)
{
	return o->len > 4 && o->buf[0] == 0xff && o->buf[1] == 0xd8 &&
	    o->buf[o->len - 2] == 0xff && o->buf[o->len - 1] == 0xd9;
}

int
main(void)
{
	struct jpeg_opts o = { 85, 50, 0 };
	struct jpeg_out a, b, c;
	unsigned char *img = card(640, 480), junk[64];
	char err[256];
	int w, h;

	/* No limit: one encode at the quality asked. */
	T_REQUIRE(jpeg_encode(img, 640, 480, 640 * 3, &o, &a, err, sizeof(err)) == 0);
	T_CHECK(whole(&a) && a.quality == 85 && a.encodes == 1 && a.halvings == 0);
	T_CHECK(a.width == 640 && a.height == 480);
	T_CHECK(jpeg_probe(a.buf, a.len, &w, &h, err, sizeof(err)) == 0 && w == 640 &&
	    h == 480);

	/* A limit just under: lower quality, same size. */
	o.max_bytes = a.len * 9 / 10;
	T_REQUIRE(jpeg_encode(img, 640, 480, 640 * 3, &o, &b, err, sizeof(err)) == 0);
	T_CHECKF(b.len <= o.max_bytes && b.quality < 85 && b.halvings == 0,
	    "len %zu quality %d halvings %d", b.len, b.quality, b.halvings);
	jpeg_out_free(&b);

	/* A tight limit: halved (and maybe halved again) to fit. */
	o.max_bytes = a.len / 6;
	T_REQUIRE(jpeg_encode(img, 640, 480, 640 * 3, &o, &b, err, sizeof(err)) == 0);
	T_CHECKF(b.len <= o.max_bytes && b.halvings >= 1 && b.width == 640 >>
	    b.halvings && whole(&b), "len %zu halvings %d", b.len, b.halvings);
	jpeg_out_free(&b);

	/* Impossible: refused, nothing returned. */
	o.max_bytes = 100;
	T_CHECK(jpeg_encode(img, 640, 480, 640 * 3, &o, &b, err, sizeof(err)) == -1);
	T_CHECK(b.buf == NULL && strstr(err, "cannot fit") != NULL);

	/* A camera's JPEG that fits is kept byte for byte. */
	o.max_bytes = 0;
	T_REQUIRE(jpeg_fit(a.buf, a.len, &o, &c, err, sizeof(err)) == 0);
	T_CHECK(c.len == a.len && memcmp(c.buf, a.buf, a.len) == 0 && c.quality == 0);
	jpeg_out_free(&c);
	/* ... and made to fit when it does not. */
	o.max_bytes = a.len / 2;
	T_REQUIRE(jpeg_fit(a.buf, a.len, &o, &c, err, sizeof(err)) == 0);
	T_CHECK(c.len <= a.len / 2 && whole(&c) && c.quality != 0);
	jpeg_out_free(&c);

	/* Refused: garbage, truncated, an HTML error page, empty. */
	memset(junk, 'x', sizeof(junk));
	T_CHECK(jpeg_probe(junk, sizeof(junk), &w, &h, err, sizeof(err)) == -1);
	T_CHECK(jpeg_probe(a.buf, a.len / 2, &w, &h, err, sizeof(err)) == -1);
	T_CHECK(strstr(err, "truncated") != NULL);
	T_CHECK(jpeg_probe("<html>500</html>", 16, &w, &h, err, sizeof(err)) == -1);
	T_CHECK(jpeg_probe(a.buf, 0, &w, &h, err, sizeof(err)) == -1);
	T_CHECK(jpeg_fit(junk, sizeof(junk), &o, &c, err, sizeof(err)) == -1);
	/* SOI and EOI around junk: the header is refused. */
	junk[0] = 0xff;
	junk[1] = 0xd8;
	junk[62] = 0xff;
	junk[63] = 0xd9;
	T_CHECK(jpeg_probe(junk, sizeof(junk), &w, &h, err, sizeof(err)) == -1);
	/* Trailing padding after EOI is tolerated (some cameras add it). */
	{
		unsigned char *pad = malloc(a.len + 3);

		memcpy(pad, a.buf, a.len);
		memcpy(pad + a.len, "\r\n\0", 3);
		T_CHECK(jpeg_probe(pad, a.len + 3, &w, &h, err, sizeof(err)) == 0);
		free(pad);
	}

	/* Bad arguments. */
	o.max_bytes = 0;
	T_CHECK(jpeg_encode(img, 0, 480, 640 * 3, &o, &b, err, sizeof(err)) == -1);
	T_CHECK(jpeg_encode(img, 640, 480, 10, &o, &b, err, sizeof(err)) == -1);
	o.quality = 0;
	T_CHECK(jpeg_encode(img, 640, 480, 640 * 3, &o, &b, err, sizeof(err)) == -1);

	jpeg_out_free(&a);
	jpeg_out_free(NULL);
	free(img);
	return T_DONE();
}
