/*
 * bench_lpr: per-frame latency of darknet-lpr's pipeline on one core, as the daemon
 * runs it in one worker: JPEG decode (libjpeg-turbo), detector (letterboxed, YOLO
 * output decoded directly), then the box refiner, the reader, the province and
 * character readers and the constrained decoding for each plate box. Prints median
 * and p99 of the whole and of each stage. Not a test. -G 0 leaves the character
 * reader out (chars.mix = 0), to see what it costs.
 *
 *	bench_lpr [-m models_dir] [-n frames] [-p max_plates] [-G chars_mix]
 *	    [frame.jpg ...]
 *
 * Without files it uses a synthetic 1920x1080 lane view (a grey gradient with a blue
 * plate-sized box), encoded at quality 85. With random weights (no .weights files)
 * the figures are the networks' real cost; only what is read is meaningless.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <turbojpeg.h>

#include "lpr.h"
#include "pct.h"

struct input {
	unsigned char	*buf;
	size_t		 len;
};

static unsigned char *
synth(size_t *len)
{
	const int w = 1920, h = 1080;
	unsigned char *rgb = malloc((size_t)w * h * 3), *jpg = NULL;
	unsigned long jl = 0;
	tjhandle tj = tjInitCompress();
	int x, y;

	for (y = 0; y < h; y++)
		for (x = 0; x < w; x++) {
			unsigned char *p = rgb + ((size_t)y * w + x) * 3;
			int plate = x >= 860 && x < 1080 && y >= 700 && y < 770;

			p[0] = plate ? 20 : (unsigned char)(60 + (x + y) % 120);
			p[1] = plate ? 60 : (unsigned char)(60 + (x * 3 + y) % 110);
			p[2] = plate ? 200 : (unsigned char)(60 + (y * 2) % 100);
			if (plate && (x / 24) % 2 == 0 && y > 712 && y < 758 &&
			    x > 870 && x < 1070)
				p[0] = p[1] = p[2] = 240;	/* "characters" */
		}
	tjCompress2(tj, rgb, w, 0, h, TJPF_RGB, &jpg, &jl, TJSAMP_420, 85, 0);
	tjDestroy(tj);
	free(rgb);
	*len = jl;
	return jpg;
}

static int
slurp(const char *path, struct input *in)
{
	FILE *fp = fopen(path, "rb");
	long n;

	if (fp == NULL)
		return -1;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	in->buf = malloc((size_t)n);
	in->len = fread(in->buf, 1, (size_t)n, fp);
	fclose(fp);
	return 0;
}

int
main(int argc, char *argv[])
{
	static struct lpr_models m;
	static struct lpr_result r;
	const char *dir = "models";
	struct input *in;
	struct lpr *l;
	char err[256];
	double *tot, *dec, *det, *rd;
	struct lpr_files files = lpr_files_default;
	double gmix = -1;
	int c, i, n = 200, nin, plates = 0, maxp = 4;

	while ((c = getopt(argc, argv, "m:n:p:G:")) != -1)
		switch (c) {
		case 'm':
			dir = optarg;
			break;
		case 'n':
			n = atoi(optarg);
			break;
		case 'p':
			maxp = atoi(optarg);
			break;
		case 'G':
			gmix = atof(optarg);
			break;
		default:
			fprintf(stderr, "usage: bench_lpr [-m models] [-n frames] "
			    "[-p max_plates] [-G chars_mix] [frame.jpg ...]\n");
			return 2;
		}
	if (gmix == 0)
		files.chars_cfg = NULL;
	if (lpr_models_load(&m, dir, &files, err, sizeof(err)) == -1) {
		fprintf(stderr, "bench_lpr: %s\n", err);
		return 1;
	}
	printf("model detector=%s reader=%s\n", m.det_version, m.rd_version);
	m.max_plates = maxp;
	if (gmix > 0)
		m.chars_mix = (float)gmix;
	m.limits.max_bytes = 16u << 20;
	m.limits.max_w = m.limits.max_h = 8192;
	m.limits.max_pixels = 40000000;
	printf("weights: detector %s, reader %s, refiner %s, character reader %s\n",
	    access(m.det_weights, R_OK) == 0 ? "trained" : "random",
	    access(m.rd_weights, R_OK) == 0 ? "trained" : "random",
	    m.ref_cfg[0] == '\0' ? "none" : access(m.ref_weights, R_OK) == 0 ?
	    "trained" : "random", m.chars_cfg[0] == '\0' ? "none" :
	    access(m.chars_weights, R_OK) == 0 ? "trained" : "random");
	if ((l = lpr_new(&m, err, sizeof(err))) == NULL) {
		fprintf(stderr, "bench_lpr: %s\n", err);
		return 1;
	}
	nin = argc - optind > 0 ? argc - optind : 1;
	in = calloc((size_t)nin, sizeof(*in));
	if (argc - optind == 0)
		in[0].buf = synth(&in[0].len);
	else
		for (i = 0; i < nin; i++)
			if (slurp(argv[optind + i], &in[i]) == -1) {
				perror(argv[optind + i]);
				return 1;
			}
	tot = calloc((size_t)n, sizeof(double));
	dec = calloc((size_t)n, sizeof(double));
	det = calloc((size_t)n, sizeof(double));
	rd = calloc((size_t)n, sizeof(double));
	lpr_run(l, in[0].buf, in[0].len, &r);	/* warm caches */
	for (i = 0; i < n; i++) {
		lpr_run(l, in[i % nin].buf, in[i % nin].len, &r);
		if (r.reason != FRAME_OK) {
			fprintf(stderr, "frame %d: %s %s\n", i % nin,
			    frame_reason_name(r.reason), r.err);
			return 1;
		}
		dec[i] = r.decode_ms;
		det[i] = r.detect_ms;
		rd[i] = r.read_ms;
		tot[i] = r.decode_ms + r.detect_ms + r.read_ms;
		plates += r.nplates;
	}
	printf("frames %d (%d inputs, %dx%d first), plates read %.2f per frame "
	    "(max %d)\n", n, nin, r.w, r.h, (double)plates / n, maxp);
	printf("%-22s %8s %8s\n", "per frame, 1 core", "median", "p99");
	printf("%-22s %8.2f %8.2f ms\n", "decode (turbojpeg)", bench_pct(dec, n, .5),
	    bench_pct(dec, n, .99));
	printf("%-22s %8.2f %8.2f ms\n", "detector", bench_pct(det, n, .5),
	    bench_pct(det, n, .99));
	printf("%-22s %8.2f %8.2f ms\n", "refine+read (plates)", bench_pct(rd, n, .5),
	    bench_pct(rd, n, .99));
	printf("%-22s %8.2f %8.2f ms   (goal: median <= 60 ms)\n", "total",
	    bench_pct(tot, n, .5), bench_pct(tot, n, .99));
	lpr_free(l);
	for (i = 0; i < nin; i++)
		free(in[i].buf);
	free(in);
	free(tot);
	free(dec);
	free(det);
	free(rd);
	return 0;
}
