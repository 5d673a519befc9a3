/*
 * The camera sources of camera-capture (see source.h): one thread per source, FFmpeg
 * for video, libcurl for JPEG snapshots, a folder replay, and the one-frame slot
 * shared with the loop thread under a mutex. The thread owns its library handles and
 * its scratch frame; the slot's frame moves to the loop by pointer, and the frame it
 * replaces comes back to the thread as its next scratch buffer, so a steady camera
 * allocates nothing per frame.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>

#include <gatekit/log.h>
#include <gatekit/util.h>

#include "jpeg.h"
#include "source.h"

#define SOURCE_PATH_MAX	2048

enum run_result {
	RUN_STOP = 0,	/* asked to stop */
	RUN_END,	/* a file or folder ended cleanly */
	RUN_FAIL,	/* open or read failed: back off and try again */
};

struct source {
	struct source_opts	 o;
	char			 target[SOURCE_PATH_MAX];
	pthread_t		 thread;
	int			 started;

	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;	/* wakes the thread's sleeps on stop */
	/* Under mu. */
	int			 stop;
	struct frame		*latest;
	uint64_t		 seq;
	int64_t			 last_ms;
	int64_t			 want_ms;
	int			 post_pending;
	struct source_stats	 st;

	/* The thread's own. */
	struct frame		*scratch;
	int64_t			 io_deadline;	/* FFmpeg interrupt: mono ms */
	char			 why[256];	/* the last failure, for the log */
	uint64_t		 run_frames;	/* frames read since the last open */
};

void
frame_free(struct frame *f)
{
	if (f == NULL)
		return;
	free(f->data);
	free(f);
}

static int
stopping(struct source *s)
{
	int v;

	pthread_mutex_lock(&s->mu);
	v = s->stop;
	pthread_mutex_unlock(&s->mu);
	return v;
}

/* Sleeps ms or until stopped. Returns 1 when stopped. */
static int
nap(struct source *s, int64_t ms)
{
	struct timespec ts;
	int v;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (ms < 0)
		ms = 0;
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&s->mu);
	while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu, &ts) != ETIMEDOUT)
		;
	v = s->stop;
	pthread_mutex_unlock(&s->mu);
	return v;
}

static void
fail(struct source *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records why the source failed, for the retry's log line. */
static void
fail(struct source *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
}

static void
count_bad(struct source *s, const char *why)
{
	pthread_mutex_lock(&s->mu);
	s->st.bad++;
	pthread_mutex_unlock(&s->mu);
	gk_log(GK_LOG_WARN, "source.bad_frame", "source=%s why=%s", s->target, why);
}

/* A frame was read from the camera (kept or not): the camera is alive. */
static int64_t
alive(struct source *s)
{
	int64_t now = gk_mono_ms(), want;

	pthread_mutex_lock(&s->mu);
	s->st.frames++;
	s->last_ms = now;
	want = s->want_ms;
	pthread_mutex_unlock(&s->mu);
	s->run_frames++;
	return now >= want;
}

/* Makes sure the scratch frame exists with room for n bytes. Returns 0 or -1. */
static int
scratch_reserve(struct source *s, size_t n)
{
	unsigned char *p;

	if (s->scratch == NULL && (s->scratch = calloc(1, sizeof(*s->scratch))) == NULL)
		return -1;
	if (s->scratch->cap < n) {
		if ((p = realloc(s->scratch->data, n)) == NULL)
			return -1;
		s->scratch->data = p;
		s->scratch->cap = n;
	}
	return 0;
}

/* Puts the scratch frame in the slot and wakes the loop when it is not woken yet. */
static void
put(struct source *s)
{
	struct frame *old;
	int post;

	s->scratch->wall_ms = s->scratch->wall_ms != 0 ? s->scratch->wall_ms :
	    gk_wall_ms();
	pthread_mutex_lock(&s->mu);
	old = s->latest;
	s->latest = s->scratch;
	s->latest->seq = ++s->seq;
	s->st.kept++;
	post = !s->post_pending;
	s->post_pending = 1;
	pthread_mutex_unlock(&s->mu);
	s->scratch = old;
	if (s->scratch != NULL)
		s->scratch->wall_ms = 0;
	if (post && gk_loop_post(s->o.gloop, s->o.on_frame, NULL, s->o.arg) == -1) {
		/* The loop takes the frame on its next schedule tick instead. */
		pthread_mutex_lock(&s->mu);
		s->post_pending = 0;
		pthread_mutex_unlock(&s->mu);
	}
}

/* Puts a camera's JPEG (checked here) in the slot. Returns 0, or -1 when unusable. */
static int
put_jpeg(struct source *s, const void *buf, size_t len, int64_t wall_ms)
{
	char err[160];
	int w, h;

	if (jpeg_probe(buf, len, &w, &h, err, sizeof(err)) == -1) {
		count_bad(s, err);
		return -1;
	}
	if (!alive(s))
		return 0;
	if (scratch_reserve(s, len) == -1) {
		count_bad(s, "out of memory");
		return -1;
	}
	memcpy(s->scratch->data, buf, len);
	s->scratch->len = len;
	s->scratch->jpeg = 1;
	s->scratch->width = w;
	s->scratch->height = h;
	s->scratch->wall_ms = wall_ms;
	put(s);
	return 0;
}

/* ---- FFmpeg: RTSP, HTTP MJPEG, files ---- */

/* FFmpeg's blocking calls poll this: stop, or the I/O deadline passed. */
static int
ff_interrupt(void *arg)
{
	struct source *s = arg;

	if (stopping(s))
		return 1;
	return s->io_deadline != 0 && gk_mono_ms() > s->io_deadline;
}

static const char *
ff_err(int e, char *buf, size_t len)
{
	if (av_strerror(e, buf, len) < 0)
		snprintf(buf, len, "error %d", e);
	return buf;
}

struct ff {
	AVFormatContext		*fc;
	AVCodecContext		*cc;
	struct SwsContext	*sws;
	AVPacket		*pkt;
	AVFrame			*frm;
	int			 vidx;
	AVRational		 tb;
	int64_t			 pts0;		/* first pts of this pass; AV_NOPTS_VALUE */
	int64_t			 mono0;		/* when it was shown */
};

static void
ff_close(struct ff *f)
{
	sws_freeContext(f->sws);
	av_frame_free(&f->frm);
	av_packet_free(&f->pkt);
	avcodec_free_context(&f->cc);
	avformat_close_input(&f->fc);
	memset(f, 0, sizeof(*f));
}

static int
ff_open(struct source *s, struct ff *f)
{
	const AVCodec *codec = NULL;
	AVDictionary *opts = NULL;
	char eb[128];
	int e;

	memset(f, 0, sizeof(*f));
	f->pts0 = AV_NOPTS_VALUE;
	if ((f->fc = avformat_alloc_context()) == NULL) {
		fail(s, "out of memory");
		return -1;
	}
	f->fc->interrupt_callback.callback = ff_interrupt;
	f->fc->interrupt_callback.opaque = s;
	if (s->o.kind == SOURCE_STREAM && strncasecmp(s->target, "rtsp", 4) == 0 &&
	    s->o.rtsp_tcp)
		av_dict_set(&opts, "rtsp_transport", "tcp", 0);
	s->io_deadline = gk_mono_ms() + s->o.timeout_ms;
	e = avformat_open_input(&f->fc, s->target, NULL, &opts);
	av_dict_free(&opts);
	if (e < 0) {
		fail(s, "open: %s", ff_err(e, eb, sizeof(eb)));
		return -1;	/* avformat_open_input freed the context */
	}
	if ((e = avformat_find_stream_info(f->fc, NULL)) < 0) {
		fail(s, "stream info: %s", ff_err(e, eb, sizeof(eb)));
		goto bad;
	}
	if ((f->vidx = av_find_best_stream(f->fc, AVMEDIA_TYPE_VIDEO, -1, -1, &codec,
	    0)) < 0 || codec == NULL) {
		fail(s, "no video stream or no decoder for it");
		goto bad;
	}
	f->tb = f->fc->streams[f->vidx]->time_base;
	if ((f->cc = avcodec_alloc_context3(codec)) == NULL ||
	    avcodec_parameters_to_context(f->cc, f->fc->streams[f->vidx]->codecpar) < 0) {
		fail(s, "decoder context");
		goto bad;
	}
	/* One decoding thread: the host's cores belong to the plate reader. */
	f->cc->thread_count = 1;
	if ((e = avcodec_open2(f->cc, codec, NULL)) < 0) {
		fail(s, "decoder: %s", ff_err(e, eb, sizeof(eb)));
		goto bad;
	}
	if ((f->pkt = av_packet_alloc()) == NULL || (f->frm = av_frame_alloc()) == NULL) {
		fail(s, "out of memory");
		goto bad;
	}
	gk_log(GK_LOG_INFO, "source.opened", "source=%s format=%s codec=%s width=%d "
	    "height=%d", s->target, f->fc->iformat->name, codec->name, f->cc->width,
	    f->cc->height);
	return 0;
bad:
	ff_close(f);
	return -1;
}

/* A file plays at its own pace, as a camera would: waits until frame's time. */
static int
ff_pace(struct source *s, struct ff *f, const AVFrame *frm)
{
	int64_t pts = frm->best_effort_timestamp, at;

	if (s->o.kind != SOURCE_FILE || pts == AV_NOPTS_VALUE)
		return 0;
	if (f->pts0 == AV_NOPTS_VALUE || pts < f->pts0) {
		f->pts0 = pts;
		f->mono0 = gk_mono_ms();
		return 0;
	}
	at = f->mono0 + av_rescale_q(pts - f->pts0, f->tb, (AVRational){ 1, 1000 });
	return nap(s, at - gk_mono_ms());
}

/* Converts a decoded frame to RGB in the scratch frame and puts it. */
static void
ff_deliver(struct source *s, struct ff *f, const AVFrame *frm)
{
	uint8_t *dst[4] = { NULL };
	int dstride[4] = { 0 };
	int w = frm->width, h = frm->height;

	if (!alive(s))
		return;
	if (w < 1 || h < 1 || w > JPEG_MAX_DIM || h > JPEG_MAX_DIM) {
		count_bad(s, "decoded frame of absurd size");
		return;
	}
	f->sws = sws_getCachedContext(f->sws, w, h, frm->format, w, h, AV_PIX_FMT_RGB24,
	    SWS_BILINEAR, NULL, NULL, NULL);
	if (f->sws == NULL || scratch_reserve(s, (size_t)w * (size_t)h * 3) == -1) {
		count_bad(s, "no converter or no memory");
		return;
	}
	dst[0] = s->scratch->data;
	dstride[0] = w * 3;
	if (sws_scale(f->sws, (const uint8_t *const *)frm->data, frm->linesize, 0, h,
	    dst, dstride) != h) {
		count_bad(s, "sws_scale failed");
		return;
	}
	s->scratch->len = (size_t)w * (size_t)h * 3;
	s->scratch->jpeg = 0;
	s->scratch->width = w;
	s->scratch->height = h;
	s->scratch->wall_ms = gk_wall_ms();
	put(s);
}

/* Takes every frame the decoder has ready. Returns 1 when stopped, -1 on error. */
static int
ff_drain(struct source *s, struct ff *f)
{
	char eb[128];
	int e;

	for (;;) {
		e = avcodec_receive_frame(f->cc, f->frm);
		if (e == AVERROR(EAGAIN) || e == AVERROR_EOF)
			return 0;
		if (e < 0) {
			fail(s, "decode: %s", ff_err(e, eb, sizeof(eb)));
			return -1;
		}
		if (ff_pace(s, f, f->frm) == 1) {
			av_frame_unref(f->frm);
			return 1;
		}
		ff_deliver(s, f, f->frm);
		av_frame_unref(f->frm);
	}
}

static enum run_result
run_ffmpeg(struct source *s)
{
	enum run_result rr = RUN_FAIL;
	char eb[128];
	struct ff f;
	int e, d;

	if (ff_open(s, &f) == -1)
		return stopping(s) ? RUN_STOP : RUN_FAIL;
	pthread_mutex_lock(&s->mu);
	s->st.opens++;
	pthread_mutex_unlock(&s->mu);
	for (;;) {
		s->io_deadline = gk_mono_ms() + s->o.timeout_ms;
		e = av_read_frame(f.fc, f.pkt);
		if (stopping(s)) {
			rr = RUN_STOP;
			break;
		}
		if (e == AVERROR_EOF) {
			/* Flush what the decoder holds, then end the pass. */
			(void)avcodec_send_packet(f.cc, NULL);
			rr = ff_drain(s, &f) == 1 ? RUN_STOP : RUN_END;
			if (rr == RUN_END && s->o.kind != SOURCE_FILE) {
				fail(s, "the stream ended");
				rr = RUN_FAIL;
			}
			break;
		}
		if (e < 0) {
			fail(s, "read: %s", e == AVERROR_EXIT ? "timed out" :
			    ff_err(e, eb, sizeof(eb)));
			break;
		}
		if (f.pkt->stream_index != f.vidx) {
			av_packet_unref(f.pkt);
			continue;
		}
		e = avcodec_send_packet(f.cc, f.pkt);
		av_packet_unref(f.pkt);
		if (e < 0 && e != AVERROR(EAGAIN)) {
			/* One damaged packet is a bad frame, not a dead camera. */
			count_bad(s, ff_err(e, eb, sizeof(eb)));
			continue;
		}
		if ((d = ff_drain(s, &f)) == 1) {
			rr = RUN_STOP;
			break;
		}
		if (d == -1) {
			count_bad(s, s->why);
			avcodec_flush_buffers(f.cc);
		}
	}
	s->io_deadline = 0;
	ff_close(&f);
	return rr;
}

/* ---- libcurl: one JPEG per GET ---- */

struct body {
	unsigned char	*buf;
	size_t		 len;
	size_t		 cap;
	size_t		 max;
	int		 over;
};

static size_t
curl_write(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t add = size * n, ncap;
	unsigned char *nb;

	if (add > b->max - b->len) {
		b->over = 1;
		return 0;	/* aborts the transfer: CURLE_WRITE_ERROR */
	}
	if (b->len + add > b->cap) {
		ncap = b->cap != 0 ? b->cap : 65536;
		while (ncap < b->len + add)
			ncap *= 2;
		if (ncap > b->max)
			ncap = b->max;
		if ((nb = realloc(b->buf, ncap)) == NULL)
			return 0;
		b->buf = nb;
		b->cap = ncap;
	}
	memcpy(b->buf + b->len, p, add);
	b->len += add;
	return add;
}

static int
curl_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return stopping(arg);
}

static enum run_result
run_snapshot(struct source *s)
{
	struct body b = { NULL, 0, 0, s->o.max_jpeg, 0 };
	enum run_result rr = RUN_FAIL;
	char cerr[CURL_ERROR_SIZE];
	int64_t t0, wall;
	long status;
	CURLcode cc;
	CURL *c;

	if ((c = curl_easy_init()) == NULL) {
		fail(s, "curl_easy_init failed");
		return RUN_FAIL;
	}
	curl_easy_setopt(c, CURLOPT_URL, s->target);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)s->o.timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)s->o.timeout_ms);
	/* Cameras want Basic or Digest; a redirect may not leave HTTP(S). */
	curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_ANY);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, curl_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "ecogate-camera-capture");
	for (;;) {
		t0 = gk_mono_ms();
		b.len = 0;
		b.over = 0;
		cerr[0] = '\0';
		wall = gk_wall_ms();
		cc = curl_easy_perform(c);
		if (stopping(s)) {
			rr = RUN_STOP;
			break;
		}
		if (cc != CURLE_OK) {
			if (b.over)
				fail(s, "GET: image over %zu bytes", s->o.max_jpeg);
			else
				fail(s, "GET: %s", cerr[0] != '\0' ? cerr :
				    curl_easy_strerror(cc));
			break;
		}
		status = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (status != 200) {
			fail(s, "GET: HTTP status %ld", status);
			break;
		}
		if (s->run_frames == 0) {
			pthread_mutex_lock(&s->mu);
			s->st.opens++;
			pthread_mutex_unlock(&s->mu);
		}
		/* A 200 with an error page in it is a bad frame from a live camera. */
		(void)put_jpeg(s, b.buf, b.len, wall);
		if (nap(s, t0 + s->o.interval_ms - gk_mono_ms()) == 1) {
			rr = RUN_STOP;
			break;
		}
	}
	free(b.buf);
	curl_easy_cleanup(c);
	return rr;
}

/* ---- a folder of JPEG files ---- */

static int
jpeg_name(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	if (d->d_name[0] == '.')
		return 0;
	return (n > 4 && strcasecmp(d->d_name + n - 4, ".jpg") == 0) ||
	    (n > 5 && strcasecmp(d->d_name + n - 5, ".jpeg") == 0);
}

/* Reads a whole file of at most max bytes into *buf (malloc'd). Returns 0 or -1. */
static int
read_file(const char *path, size_t max, unsigned char **buf, size_t *len,
    char *err, size_t errlen)
{
	struct stat sb;
	ssize_t r;
	size_t got = 0;
	int fd;

	*buf = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		gk_errf(err, errlen, "open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) || sb.st_size <= 0 ||
	    (uint64_t)sb.st_size > max) {
		gk_errf(err, errlen, "not a regular file of 1..%zu bytes", max);
		close(fd);
		return -1;
	}
	if ((*buf = malloc((size_t)sb.st_size)) == NULL) {
		close(fd);
		gk_errf(err, errlen, "out of memory");
		return -1;
	}
	while (got < (size_t)sb.st_size) {
		r = read(fd, *buf + got, (size_t)sb.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got != (size_t)sb.st_size) {
		free(*buf);
		*buf = NULL;
		gk_errf(err, errlen, "short read");
		return -1;
	}
	*len = got;
	return 0;
}

static enum run_result
run_dir(struct source *s)
{
	char path[SOURCE_PATH_MAX + 256], err[160];
	enum run_result rr = RUN_END;
	struct dirent **names = NULL;
	unsigned char *buf;
	int n, i, good = 0;
	int64_t t0;
	size_t len;

	if ((n = scandir(s->target, &names, jpeg_name, alphasort)) < 0) {
		fail(s, "scandir: %s", strerror(errno));
		return RUN_FAIL;
	}
	if (n == 0) {
		fail(s, "no .jpg or .jpeg files");
		free(names);
		return RUN_FAIL;
	}
	pthread_mutex_lock(&s->mu);
	s->st.opens++;
	pthread_mutex_unlock(&s->mu);
	for (i = 0; i < n; i++) {
		t0 = gk_mono_ms();
		snprintf(path, sizeof(path), "%s/%s", s->target, names[i]->d_name);
		if (read_file(path, s->o.max_jpeg, &buf, &len, err, sizeof(err)) == -1) {
			count_bad(s, err);
			continue;
		}
		if (put_jpeg(s, buf, len, gk_wall_ms()) == 0)
			good++;
		free(buf);
		if (nap(s, t0 + s->o.interval_ms - gk_mono_ms()) == 1) {
			rr = RUN_STOP;
			break;
		}
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (rr == RUN_END && good == 0) {
		fail(s, "no usable JPEG in the folder");
		rr = RUN_FAIL;
	}
	return rr;
}

/* ---- the thread ---- */

static void *
source_main(void *arg)
{
	struct source *s = arg;
	enum run_result rr;
	unsigned attempt = 0;
	int64_t delay;

	while (!stopping(s)) {
		s->run_frames = 0;
		s->why[0] = '\0';
		switch (s->o.kind) {
		case SOURCE_SNAPSHOT:
			rr = run_snapshot(s);
			break;
		case SOURCE_DIR:
			rr = run_dir(s);
			break;
		default:
			rr = run_ffmpeg(s);
			break;
		}
		if (rr == RUN_STOP)
			break;
		if (s->run_frames > 0)
			attempt = 0;
		if (rr == RUN_END) {
			if (!s->o.loop) {
				gk_log(GK_LOG_INFO, "source.end", "source=%s", s->target);
				break;
			}
			gk_log(GK_LOG_DEBUG, "source.rewind", "source=%s", s->target);
			if (s->run_frames > 0)
				continue;
		}
		pthread_mutex_lock(&s->mu);
		s->st.failures++;
		pthread_mutex_unlock(&s->mu);
		delay = backoff_ms(attempt, s->o.backoff_min_ms, s->o.backoff_max_ms,
		    (uint32_t)random());
		gk_log(GK_LOG_WARN, "source.retry", "source=%s why=%s attempt=%u "
		    "delay_ms=%lld frames=%llu", s->target, s->why[0] != '\0' ? s->why :
		    "ended without a frame", attempt + 1, (long long)delay,
		    (unsigned long long)s->run_frames);
		if (attempt < 32)
			attempt++;
		if (nap(s, delay) == 1)
			break;
	}
	return NULL;
}

struct source *
source_start(const struct source_opts *o, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	struct source *s;
	int e;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		gk_errf(err, errlen, "out of memory");
		return NULL;
	}
	s->o = *o;
	if (o->target == NULL ||
	    gk_strlcpy(s->target, o->target, sizeof(s->target)) >= sizeof(s->target)) {
		gk_errf(err, errlen, "source path or URL too long");
		free(s);
		return NULL;
	}
	s->o.target = s->target;
	s->last_ms = gk_mono_ms();
	s->want_ms = INT64_MAX;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((e = pthread_create(&s->thread, NULL, source_main, s)) != 0) {
		gk_errf(err, errlen, "pthread_create: %s", strerror(e));
		source_stop(s);
		return NULL;
	}
	s->started = 1;
	return s;
}

void
source_stop(struct source *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (s->started)
		pthread_join(s->thread, NULL);
	frame_free(s->latest);
	frame_free(s->scratch);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void
source_woken(struct source *s)
{
	pthread_mutex_lock(&s->mu);
	s->post_pending = 0;
	pthread_mutex_unlock(&s->mu);
}

struct frame *
source_take(struct source *s, uint64_t after_seq)
{
	struct frame *f = NULL;

	pthread_mutex_lock(&s->mu);
	if (s->latest != NULL && s->latest->seq > after_seq) {
		f = s->latest;
		s->latest = NULL;
	}
	pthread_mutex_unlock(&s->mu);
	return f;
}

uint64_t
source_seq(struct source *s)
{
	uint64_t v;

	pthread_mutex_lock(&s->mu);
	v = s->seq;
	pthread_mutex_unlock(&s->mu);
	return v;
}

void
source_want(struct source *s, int64_t from_mono_ms)
{
	pthread_mutex_lock(&s->mu);
	s->want_ms = from_mono_ms;
	pthread_mutex_unlock(&s->mu);
}

int64_t
source_last_ms(struct source *s)
{
	int64_t v;

	pthread_mutex_lock(&s->mu);
	v = s->last_ms;
	pthread_mutex_unlock(&s->mu);
	return v;
}

void
source_get_stats(struct source *s, struct source_stats *st)
{
	pthread_mutex_lock(&s->mu);
	*st = s->st;
	pthread_mutex_unlock(&s->mu);
}

/* FFmpeg's own messages go through our logger, as one JSON line each. */
static void
ff_log(void *avcl, int level, const char *fmt, va_list vl)
{
	char line[512];
	int prefix = 1;
	size_t n;

	if (level > av_log_get_level())
		return;
	av_log_format_line2(avcl, level, fmt, vl, line, sizeof(line), &prefix);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (n > 0)
		gk_log(level <= AV_LOG_ERROR ? GK_LOG_WARN : GK_LOG_DEBUG, "ffmpeg.log",
		    "msg=%s", line);
}

int
source_global_init(void)
{
	av_log_set_level(gk_log_enabled(GK_LOG_DEBUG) ? AV_LOG_WARNING : AV_LOG_ERROR);
	av_log_set_callback(ff_log);
	if (avformat_network_init() < 0)
		return -1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		avformat_network_deinit();
		return -1;
	}
	return 0;
}

void
source_global_cleanup(void)
{
	curl_global_cleanup();
	avformat_network_deinit();
}
