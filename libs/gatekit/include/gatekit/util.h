/*
 * Small helpers every ecogate daemon needs and libc does not give: a bounded string
 * copy (glibc 2.36 has no strlcpy), monotonic and wall clocks in milliseconds, ISO 8601
 * UTC timestamps, and event ids. An event id is minted once, at the edge, and is the
 * idempotency key end to end, so ids are UUIDv7 (RFC 9562): time-ordered, so they sort
 * and index well in PostgreSQL and Kafka, and random enough to never collide across
 * gates.
 */
#ifndef GATEKIT_UTIL_H
#define GATEKIT_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define GK_ID_LEN	37	/* UUID text: 36 characters and the NUL */
#define GK_TS_LEN	25	/* "2026-11-28T12:00:00.123Z" and the NUL */

#define GK_NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * Copies src into dst of size dsize, always NUL-terminating when dsize > 0.
 * Returns strlen(src): a result >= dsize means the copy was truncated, which callers
 * treat as an error (over-long input is rejected, never truncated silently).
 */
size_t	gk_strlcpy(char *dst, const char *src, size_t dsize);

/*
 * CRC-32C (Castagnoli, reflected, as iSCSI and ext4 use it) of p[0..n): the
 * checksum of our on-disk record formats (the verifier's outbox and read journal),
 * which tells a record torn by a crash from a whole one.
 */
uint32_t gk_crc32c(const void *p, size_t n);

/* v as n (1..8) little-endian bytes at p, and back: our on-disk integers. */
void	gk_put_le(unsigned char *p, uint64_t v, int n);
uint64_t gk_get_le(const unsigned char *p, int n);

/* Milliseconds of CLOCK_MONOTONIC: for timeouts and durations, never for records. */
int64_t	gk_mono_ms(void);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME): for timestamps in records. */
int64_t	gk_wall_ms(void);

/*
 * Writes wall_ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC) into buf (at least GK_TS_LEN).
 * Returns 0, or -1 when buf is too small or the time is out of range.
 */
int	gk_ts_format(int64_t wall_ms, char *buf, size_t len);

/*
 * Parses an RFC 3339 timestamp ("...Z" or with a "+08:00" offset; fraction optional)
 * into milliseconds since the epoch. Returns 0, or -1 when s is not one.
 */
int	gk_ts_parse(const char *s, int64_t *wall_ms);

/*
 * Mints a new UUIDv7 into out (GK_ID_LEN bytes), lower-case hex with dashes. Ids minted
 * by one process are strictly increasing even within one millisecond or when the wall
 * clock steps back. Thread-safe. Returns 0, or -1 when no randomness was to be had.
 */
int	gk_id_new(char out[GK_ID_LEN]);

/*
 * A UUIDv7 whose 48-bit time is wall_ms (clamped to 0..2^48-1) and whose other bits
 * come from the first 10 bytes of digest (a hash of what the id stands for), so the
 * same input always gives the same id: for ids derived from an event (a passage from
 * its first read, an imported ledger row from its file and line).
 */
void	gk_id_from_digest(int64_t wall_ms, const unsigned char digest[10],
	    char out[GK_ID_LEN]);

/* n bytes from 2n hex digits (either case) that end hex. 0, or -1 when not so. */
int	gk_hex_decode(const char *hex, unsigned char *out, size_t n);

/*
 * Days since 1970-01-01 of a proleptic Gregorian date, and back; pure arithmetic,
 * independent of TZ and of time_t's range.
 */
int64_t	gk_days_from_civil(int64_t y, int m, int d);
void	gk_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/*
 * Returns 1 when s is a well-formed UUID (any version, lower or upper case hex), else 0.
 * gk_id_time returns 0 and the embedded millisecond time of a UUIDv7 in *wall_ms
 * (when not NULL), or -1 when s is not a well-formed version 7 UUID.
 */
int	gk_id_valid(const char *s);
int	gk_id_time(const char *s, int64_t *wall_ms);

/*
 * Returns 1 when s is a UUID in canonical lower-case text, the one spelling the
 * message schemas accept for an idempotency key (compared as a string), else 0.
 */
int	gk_id_canonical(const char *s);

/*
 * Returns 1 when s is usable as a site, lane, scale, service or instance id, i.e. as
 * one MQTT topic level in the schemas: ^[a-z0-9][a-z0-9_-]{0,31}$. Else 0 (NULL too).
 */
int	gk_topic_id_valid(const char *s);

/*
 * Counts the code points of s, or returns -1 when s is not valid UTF-8 (overlong
 * forms and surrogates included) or holds a control character other than those
 * allowed (ctl_ok: tab and line breaks in free text). For checking imported text
 * cells before they reach the database.
 */
long	gk_utf8_count(const char *s, int ctl_ok);

/*
 * Formats an error message into err (errlen bytes), the caller-provided error buffer
 * that gatekit constructors and loaders take; does nothing when err is NULL or errlen
 * is 0, so callers may pass NULL when they do not want the text.
 */
void	gk_errf(char *err, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#endif
