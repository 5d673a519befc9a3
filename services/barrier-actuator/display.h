/*
 * The lane display (the LED board that tells the driver 允许通行 or 禁止通行 and why),
 * behind a small driver interface so a plant's particular board needs one new driver
 * and nothing else. Two drivers ship:
 *
 *   "log"            logs each text as the event display.show (for lanes without a
 *                    board, and for tests)
 *   "tcp://HOST:PORT" line-oriented UTF-8 text over TCP: each show writes the lines,
 *                    each ended by "\n", then an empty line that ends the message.
 *                    The connection is made on demand with a bounded, non-blocking
 *                    connect and made again after any failure (with a backoff), so a
 *                    board that restarts shows the next text.
 *
 * Lines must be valid UTF-8 without control characters (so no "\n" can break the
 * framing); an empty line is sent as one space, since an empty line ends a message.
 * Not thread-safe: the loop thread owns a display.
 */
#ifndef DISPLAY_H
#define DISPLAY_H

#include <stddef.h>

#define DISPLAY_LINES_MAX	8	/* lines in one text */
#define DISPLAY_LINE_MAX	256	/* bytes in one line */

/* A driver: open returns its state (NULL with err on failure) for the part of the
 * spec after the driver's prefix; show returns 0 or -1 (logged); close frees. */
struct display_driver {
	const char	*name;
	void		*(*open)(const char *arg, char *err, size_t errlen);
	int		 (*show)(void *st, const char *const lines[], size_t n);
	void		 (*close)(void *st);
};

extern const struct display_driver display_log_driver;
extern const struct display_driver display_tcp_driver;

struct display;

/*
 * Opens the display named by spec: "log" or "tcp://HOST:PORT" (the TCP driver does
 * not connect yet). Returns a handle owned by the caller (display_close), or NULL with
 * the reason in err.
 */
struct display *display_open(const char *spec, char *err, size_t errlen);

/*
 * Shows n lines (at most DISPLAY_LINES_MAX, each under DISPLAY_LINE_MAX bytes, valid
 * UTF-8 without control characters); n 0 blanks the board. Lines are borrowed.
 * Returns 0 when the text was
 * handed to the board, -1 when it was rejected or the board could not be reached
 * (logged as display.error with the reason; the text is not kept).
 */
int	display_show(struct display *d, const char *const lines[], size_t n);

/* The driver's name ("log", "tcp"). */
const char *display_driver_name(const struct display *d);

/* Closes and frees d (NULL-safe). */
void	display_close(struct display *d);

/* Returns 1 when s is valid UTF-8 without control characters (C0, DEL), else 0. */
int	display_line_ok(const char *s);

#endif
