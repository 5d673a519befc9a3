/*
 * Table-driven configuration. Each daemon declares one table of keys that drives the
 * defaults, the parsing of its config file, the environment overrides, the required
 * check, "-n" and the startup dump, so a key is declared once and cannot drift:
 *
 *	struct verifier_cfg {
 *		char		*mqtt_url;
 *		long long	 queue_max;
 *		int64_t		 decide_timeout_ms;
 *		char		*redis_password;
 *	};
 *	static const struct gk_cfg_key verifier_keys[] = {
 *		{ "mqtt.url", GK_CFG_STR, offsetof(struct verifier_cfg, mqtt_url),
 *		    "tcp://127.0.0.1:1883", 0, 0, 0, "MQTT broker URL" },
 *		{ "queue.max", GK_CFG_INT, offsetof(struct verifier_cfg, queue_max),
 *		    "1000", 1, 1000000, 0, "plate reads held while deciding" },
 *		{ "decide.timeout", GK_CFG_MS,
 *		    offsetof(struct verifier_cfg, decide_timeout_ms), "800ms", 0, 0, 0,
 *		    "how long to wait for more reads" },
 *		{ "redis.password", GK_CFG_STR,
 *		    offsetof(struct verifier_cfg, redis_password), NULL, 0, 0,
 *		    GK_CFG_SECRET, "Redis AUTH password" },
 *		{ NULL }
 *	};
 *
 * Precedence: default < file < environment. Every key "a.b-c" may be overridden by
 * ECOGATE_A_B_C (dots and dashes become underscores, letters upper case), or by
 * ECOGATE_A_B_C_FILE naming a file whose content (one trailing "\n" or "\r\n" removed)
 * is the value; the _FILE form is how secrets should arrive (Docker/systemd
 * credentials). Setting both forms of one key is an error. Environment variables
 * that match no key are ignored (ECOGATE_LOG_LEVEL and friends belong to others). An
 * empty environment value counts as set (to the empty string).
 *
 * File syntax, one setting per line:
 *
 *	# a whole-line comment
 *	mqtt.url = tcp://10.0.0.5:1883     # a trailing comment
 *	lane.name = "gate #1"              # quotes keep '#'; \" and \\ are the escapes
 *	site.tag = a#b                     # '#' not after whitespace is part of the value
 *
 * A '#' starts a comment at the start of a line, at the start of a value, or after
 * whitespace; to put " #" in a value, quote it. Leading and trailing whitespace of an
 * unquoted value is dropped; quote the value to keep it. CRLF line ends are accepted.
 * Keys are lower-case letters, digits, '.', '-' and '_'. A key may appear only once.
 *
 * Every error is fatal and says where: "FILE:LINE: unknown key 'x'", "FILE:LINE: key
 * 'x': ...", "environment ECOGATE_X: key 'x': ...", "FILE: missing required key 'x'".
 */
#ifndef GATEKIT_CFG_H
#define GATEKIT_CFG_H

#include <stddef.h>
#include <stdio.h>

enum gk_cfg_type {
	GK_CFG_STR = 1,	/* char *, heap, owned by the struct; "" when unset with no default */
	GK_CFG_INT,	/* long long; min/max bound the value when either is non-zero */
	GK_CFG_BOOL,	/* int 0/1; yes/no, true/false, on/off, 1/0 (any case) */
	GK_CFG_DOUBLE,	/* double, finite; min/max bound it when either is non-zero */
	GK_CFG_MS,	/* int64_t ms: "800ms" "5s" "2m" "1h" "1d", bare number = ms;
			   never negative; min/max (in ms) bound it when either is non-zero */
};

#define GK_CFG_REQUIRED	0x01	/* must come from the file or environment (a STR non-empty) */
#define GK_CFG_SECRET	0x02	/* shown as *** in dumps and logs */

/*
 * One key of a daemon's table; the table ends with { NULL }. def is the default as it
 * would be written in the file (parsed like a file value; NULL: "", 0, no, 0.0, 0ms).
 * For GK_CFG_STR, min/max bound the length in bytes when either is non-zero, so a
 * value meant for a fixed-size field is rejected rather than truncated.
 */
struct gk_cfg_key {
	const char		*name;
	enum gk_cfg_type	 type;
	size_t			 offset;
	const char		*def;
	long long		 min;
	long long		 max;
	unsigned int		 flags;
	const char		*help;
};

/*
 * Loads defaults, then the file at path (NULL: no file, defaults and environment
 * only; a path that cannot be opened is an error), then the environment, into the
 * struct at cfg. cfg must be zeroed before its first load, or hold an earlier load:
 * the new values replace the old ones (whose strings are freed) only when the whole
 * load succeeded, so a failed reload (SIGHUP) leaves the running config untouched.
 * Returns 0, or -1 with the message in err (always NUL-terminated when errlen > 0)
 * and logged as event "cfg.error".
 */
int	gk_cfg_load(void *cfg, const struct gk_cfg_key *keys, const char *path,
	    char *err, size_t errlen);

/* Frees the strings of a loaded cfg and sets them to NULL. Safe on a zeroed cfg. */
void	gk_cfg_free(void *cfg, const struct gk_cfg_key *keys);

/*
 * Writes "key = value" lines in table order to fp, secrets as ***, values quoted
 * when needed so that the output reads back as a config file. Returns 0, or -1 on a
 * write error.
 */
int	gk_cfg_dump(const void *cfg, const struct gk_cfg_key *keys, FILE *fp);

/* Logs one "cfg.value" event (key=, value=) per key, secrets masked: the startup dump. */
void	gk_cfg_log(const void *cfg, const struct gk_cfg_key *keys);

/*
 * What a daemon's "-n" does: loads like gk_cfg_load(), writes the effective config to
 * fp as gk_cfg_dump() does, each line followed by where the value came from
 * ("# default", "# FILE:LINE", "# env ECOGATE_X"), then frees it again. cfg must be
 * zeroed. Returns 0 (config OK), or -1 with err filled as gk_cfg_load() does.
 */
int	gk_cfg_check(void *cfg, const struct gk_cfg_key *keys, const char *path,
	    FILE *fp, char *err, size_t errlen);

#endif
