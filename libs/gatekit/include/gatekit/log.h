/*
 * Logging: one JSON object per line on stdout, one write(2) per line so lines from
 * different threads never interleave, and stable dotted event names ("bus.connected",
 * "cfg.error") that operators grep for and tests wait on.
 *
 *	gk_log(GK_LOG_INFO, "passage.decided", "lane=%s plate=%s ms=%d", lane, plate, ms);
 *
 * prints
 *
 *	{"ts":"2026-11-28T12:00:00.123Z","lvl":"info","svc":"verifier",
 *	 "event":"passage.decided","lane":"in-1","plate":"沪A12345","ms":12}
 *
 * The format is a list of space-separated key=%conv fields (key=literal too). %s
 * values become JSON strings (escaped; a NULL becomes null), integer and floating
 * conversions become JSON numbers. Supported conversions: %s %d %i %u %ld %lu %lld %llu
 * %zu %zd %f %g %c %x. The format is a printf format, so the compiler checks the
 * arguments. A level below the threshold costs one comparison.
 */
#ifndef GATEKIT_LOG_H
#define GATEKIT_LOG_H

enum gk_log_level {
	GK_LOG_DEBUG = 0,
	GK_LOG_INFO,
	GK_LOG_WARN,
	GK_LOG_ERR,
};

/* Sets the service name printed as "svc" (copied) and the level from ECOGATE_LOG_LEVEL. */
void	gk_log_init(const char *svc);

/* Sets the threshold; events below it are dropped at no cost. */
void	gk_log_set_level(enum gk_log_level level);
enum gk_log_level gk_log_get_level(void);

/* Parses "debug", "info", "warn", "error". Returns 0, or -1 for anything else. */
int	gk_log_level_parse(const char *s, enum gk_log_level *level);

/* Sends lines to fd instead of stdout (tests capture them with a pipe). */
void	gk_log_set_fd(int fd);

/* Logs one event. Safe from any thread. A line longer than 8 KiB is cut at a field
 * boundary and marked "truncated":true, so it is still valid JSON. For an event
 * without fields pass NULL as fmt ("" draws -Wformat-zero-length). errno is kept. */
void	gk_log(enum gk_log_level level, const char *event, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#define gk_log_enabled(level)	((level) >= gk_log_get_level())

#endif
