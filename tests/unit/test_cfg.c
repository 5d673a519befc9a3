/*
 * Unit tests of gatekit/cfg: defaults, the file (fixtures in tests/unit/data/cfg), the
 * environment and _FILE secrets in their order of precedence, every error kind with
 * its exact "file:line" message, the masked dumps, and that reloading neither leaks
 * nor half-applies a bad config (ASan's leak checker watches the whole run).
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gatekit/cfg.h"
#include "gatekit/log.h"
#include "t.h"

struct tcfg {
	char		*url;
	long long	 port;
	int		 tls;
	double		 score_min;
	int64_t		 timeout_ms;
	char		*password;
	char		*site;
	char		*lane;
	int64_t		 retry_ms;
};

static const struct gk_cfg_key keys[] = {
	{ "mqtt.url", GK_CFG_STR, offsetof(struct tcfg, url),
	    "tcp://127.0.0.1:1883", 0, 0, 0, "broker URL" },
	{ "mqtt.port", GK_CFG_INT, offsetof(struct tcfg, port), "1883", 1, 65535,
	    0, "broker port" },
	{ "mqtt.tls", GK_CFG_BOOL, offsetof(struct tcfg, tls), "no", 0, 0, 0,
	    "use TLS" },
	{ "score.min", GK_CFG_DOUBLE, offsetof(struct tcfg, score_min), "0.8", 0, 1,
	    0, "lowest plate confidence" },
	{ "decide.timeout", GK_CFG_MS, offsetof(struct tcfg, timeout_ms), "800ms",
	    0, 0, 0, "decision wait" },
	{ "redis.password", GK_CFG_STR, offsetof(struct tcfg, password), NULL, 0, 0,
	    GK_CFG_SECRET, "Redis AUTH" },
	{ "site.id", GK_CFG_STR, offsetof(struct tcfg, site), NULL, 0, 0,
	    GK_CFG_REQUIRED, "site" },
	{ "lane.name", GK_CFG_STR, offsetof(struct tcfg, lane), "in-1", 1, 8, 0,
	    "lane, fits an 8-byte field" },
	{ "retry.max", GK_CFG_MS, offsetof(struct tcfg, retry_ms), "5s", 100, 60000,
	    0, "retry cap" },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL }
};

static const char *env_vars[] = {
	"ECOGATE_MQTT_URL", "ECOGATE_MQTT_PORT", "ECOGATE_MQTT_TLS",
	"ECOGATE_SCORE_MIN", "ECOGATE_DECIDE_TIMEOUT", "ECOGATE_REDIS_PASSWORD",
	"ECOGATE_SITE_ID", "ECOGATE_LANE_NAME", "ECOGATE_RETRY_MAX",
};

static char datadir[1024];
static char tmpdir[] = "/tmp/test_cfg.XXXXXX";

static void
env_clear(void)
{
	char name[128];
	size_t i;

	for (i = 0; i < sizeof(env_vars) / sizeof(env_vars[0]); i++) {
		unsetenv(env_vars[i]);
		snprintf(name, sizeof(name), "%s_FILE", env_vars[i]);
		unsetenv(name);
	}
}

static const char *
fixture(const char *name)
{
	static char path[1200];

	snprintf(path, sizeof(path), "%s/%s", datadir, name);
	return path;
}

/* Writes content (len bytes) to a new file in tmpdir; returns its path (static). */
static const char *
tmpfile_with(const char *name, const char *content, size_t len)
{
	static char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fp = fopen(path, "w");
	T_REQUIRE(fp != NULL);
	T_REQUIRE(fwrite(content, 1, len, fp) == len);
	T_REQUIRE(fclose(fp) == 0);
	return path;
}

/* Loads path (NULL: none) into a fresh struct; returns load's result. */
static int
load(struct tcfg *c, const char *path, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	return gk_cfg_load(c, keys, path, err, errlen);
}

/* Expects loading path to fail with exactly "<path>:<rest>" (rest starts at ':'). */
static void
expect_file_err(const char *name, const char *rest)
{
	char path[1200], want[1600], err[512];
	struct tcfg c;

	snprintf(path, sizeof(path), "%s", fixture(name));
	snprintf(want, sizeof(want), "%s%s", path, rest);
	T_CHECKF(load(&c, path, err, sizeof(err)) == -1, "%s loaded", name);
	T_STREQ(err, want);
	gk_cfg_free(&c, keys);
}

static void
expect_env_err(const char *var, const char *val, const char *want)
{
	char err[512];
	struct tcfg c;

	env_clear();
	setenv("ECOGATE_SITE_ID", "a", 1);
	setenv(var, val, 1);
	T_CHECKF(load(&c, NULL, err, sizeof(err)) == -1, "%s=%s loaded", var, val);
	T_STREQ(err, want);
	gk_cfg_free(&c, keys);
	env_clear();
}

static void
test_defaults(void)
{
	char err[512];
	struct tcfg c;

	env_clear();
	setenv("ECOGATE_SITE_ID", "plant-1", 1);
	T_REQUIRE(load(&c, NULL, err, sizeof(err)) == 0);
	T_STREQ(c.url, "tcp://127.0.0.1:1883");
	T_CHECK(c.port == 1883);
	T_CHECK(c.tls == 0);
	T_CHECK(c.score_min == 0.8);
	T_CHECK(c.timeout_ms == 800);
	T_REQUIRE(c.password != NULL);	/* unset strings are "", never NULL */
	T_STREQ(c.password, "");
	T_STREQ(c.site, "plant-1");
	T_STREQ(c.lane, "in-1");
	T_CHECK(c.retry_ms == 5000);
	gk_cfg_free(&c, keys);
	T_CHECK(c.url == NULL && c.site == NULL);
	gk_cfg_free(&c, keys);	/* twice is harmless */
	env_clear();
}

static void
test_file(void)
{
	char err[512];
	struct tcfg c;

	env_clear();
	T_REQUIRE(load(&c, fixture("full.conf"), err, sizeof(err)) == 0);
	T_STREQ(c.url, "tcp://10.0.0.5:1883/x#y");
	T_CHECK(c.port == 8883);
	T_CHECK(c.tls == 1);
	T_CHECK(c.score_min == 0.25);
	T_CHECK(c.timeout_ms == 120000);
	T_STREQ(c.site, "plant-7");
	T_STREQ(c.lane, "gate #1");
	T_STREQ(c.password, "s3cr\"et\\x");
	T_CHECK(c.retry_ms == 1500);
	gk_cfg_free(&c, keys);

	T_REQUIRE(load(&c, fixture("crlf.conf"), err, sizeof(err)) == 0);
	T_STREQ(c.site, "crlf");
	T_CHECK(c.port == 1999);
	gk_cfg_free(&c, keys);
}

static void
test_env(void)
{
	char err[512];
	const char *p;
	struct tcfg c;

	/* Environment beats the file, the file beats the default. */
	env_clear();
	setenv("ECOGATE_MQTT_PORT", "1884", 1);
	setenv("ECOGATE_MQTT_TLS", "off", 1);
	setenv("ECOGATE_LANE_NAME", "out-2", 1);
	T_REQUIRE(load(&c, fixture("full.conf"), err, sizeof(err)) == 0);
	T_CHECK(c.port == 1884);
	T_CHECK(c.tls == 0);
	T_STREQ(c.lane, "out-2");
	T_STREQ(c.site, "plant-7");		/* from the file */
	gk_cfg_free(&c, keys);

	/* A secret from a _FILE, its trailing newline (LF or CRLF) removed. */
	env_clear();
	p = tmpfile_with("pw", "from-file\n", 10);
	setenv("ECOGATE_REDIS_PASSWORD_FILE", p, 1);
	T_REQUIRE(load(&c, fixture("full.conf"), err, sizeof(err)) == 0);
	T_STREQ(c.password, "from-file");
	gk_cfg_free(&c, keys);
	p = tmpfile_with("pw2", "two\r\n\n", 6);	/* only one newline goes */
	setenv("ECOGATE_REDIS_PASSWORD_FILE", p, 1);
	T_REQUIRE(load(&c, fixture("full.conf"), err, sizeof(err)) == 0);
	T_STREQ(c.password, "two\r\n");
	gk_cfg_free(&c, keys);
	p = tmpfile_with("pw3", "crlf\r\n", 6);
	setenv("ECOGATE_REDIS_PASSWORD_FILE", p, 1);
	T_REQUIRE(load(&c, fixture("full.conf"), err, sizeof(err)) == 0);
	T_STREQ(c.password, "crlf");
	gk_cfg_free(&c, keys);

	/* _FILE works for any key, and the plain form works for a secret. */
	env_clear();
	p = tmpfile_with("site", "from-file-site\n", 15);
	setenv("ECOGATE_SITE_ID_FILE", p, 1);
	setenv("ECOGATE_REDIS_PASSWORD", "plain", 1);
	T_REQUIRE(load(&c, NULL, err, sizeof(err)) == 0);
	T_STREQ(c.site, "from-file-site");
	T_STREQ(c.password, "plain");
	gk_cfg_free(&c, keys);

	/* An empty variable sets the empty string. */
	env_clear();
	setenv("ECOGATE_SITE_ID", "a", 1);
	setenv("ECOGATE_MQTT_URL", "", 1);
	T_REQUIRE(load(&c, NULL, err, sizeof(err)) == 0);
	T_STREQ(c.url, "");
	gk_cfg_free(&c, keys);
	env_clear();
}

static void
test_errors(void)
{
	char err[512], want[1600], missing[256];
	struct tcfg c;
	const char *p;

	env_clear();
	expect_file_err("unknown.conf", ":3: unknown key 'mqtt.uri'");
	expect_file_err("syntax.conf",
	    ":3: syntax error: expected 'key = value'");
	expect_file_err("nokey.conf", ":2: syntax error: no key before '='");
	expect_file_err("badkey.conf",
	    ":2: bad key 'Mqtt.Port' (keys are lower-case a-z 0-9 . - _)");
	expect_file_err("badnum.conf", ":1: key 'mqtt.port': bad number '18x3'");
	expect_file_err("range.conf",
	    ":3: key 'mqtt.port': 65536 is out of range 1..65535");
	expect_file_err("badbool.conf",
	    ":2: key 'mqtt.tls': bad boolean 'maybe' (use yes or no)");
	expect_file_err("baddur.conf", ":2: key 'decide.timeout': bad duration "
	    "'5 s' (use e.g. 800ms, 5s, 2m, 1h; a bare number is ms)");
	expect_file_err("dup.conf",
	    ":4: key 'mqtt.port' already set at line 2");
	expect_file_err("norequired.conf",
	    ": missing required key 'site.id' (or set ECOGATE_SITE_ID)");
	expect_file_err("emptyrequired.conf",
	    ": missing required key 'site.id' (or set ECOGATE_SITE_ID)");
	expect_file_err("badquote.conf",
	    ":2: key 'lane.name': missing closing quote");
	expect_file_err("afterquote.conf",
	    ":2: key 'lane.name': unexpected text after closing quote");
	expect_file_err("badescape.conf", ":2: key 'lane.name': bad escape "
	    "'\\q' in quoted value (use \\\" or \\\\)");
	expect_file_err("toolong.conf",
	    ":2: key 'lane.name': value is 16 bytes, more than 8");
	expect_file_err("does-not-exist.conf",
	    ": cannot open: No such file or directory");

	/* A NUL byte in the file. */
	p = tmpfile_with("nul.conf", "site.id = a\nmqtt.url = x\0y\n", 26);
	snprintf(want, sizeof(want), "%s:2: NUL byte in line", p);
	T_CHECK(load(&c, p, err, sizeof(err)) == -1);
	T_STREQ(err, want);

	/* No file at all and no required key. */
	T_CHECK(load(&c, NULL, err, sizeof(err)) == -1);
	T_STREQ(err, "(no config file): missing required key 'site.id' "
	    "(or set ECOGATE_SITE_ID)");

	/* Environment errors name the variable. */
	expect_env_err("ECOGATE_MQTT_PORT", "abc",
	    "environment ECOGATE_MQTT_PORT: key 'mqtt.port': bad number 'abc'");
	expect_env_err("ECOGATE_MQTT_PORT", "0", "environment ECOGATE_MQTT_PORT: "
	    "key 'mqtt.port': 0 is out of range 1..65535");
	expect_env_err("ECOGATE_MQTT_TLS", "2", "environment ECOGATE_MQTT_TLS: "
	    "key 'mqtt.tls': bad boolean '2' (use yes or no)");
	expect_env_err("ECOGATE_SCORE_MIN", "1.5", "environment ECOGATE_SCORE_MIN: "
	    "key 'score.min': 1.5 is out of range 0..1");
	expect_env_err("ECOGATE_SCORE_MIN", "nan", "environment ECOGATE_SCORE_MIN: "
	    "key 'score.min': bad number 'nan'");
	expect_env_err("ECOGATE_RETRY_MAX", "2m", "environment ECOGATE_RETRY_MAX: "
	    "key 'retry.max': 2m is out of range 100ms..1m");
	expect_env_err("ECOGATE_REDIS_PASSWORD_FILE", "/nonexistent/pw",
	    "environment ECOGATE_REDIS_PASSWORD_FILE: key 'redis.password': "
	    "cannot open '/nonexistent/pw': No such file or directory");
	expect_env_err("ECOGATE_LANE_NAME", "",
	    "environment ECOGATE_LANE_NAME: key 'lane.name': "
	    "value is 0 bytes, fewer than 1");

	/* Both forms of one variable. */
	env_clear();
	setenv("ECOGATE_SITE_ID", "a", 1);
	setenv("ECOGATE_SITE_ID_FILE", "/dev/null", 1);
	T_CHECK(load(&c, NULL, err, sizeof(err)) == -1);
	T_STREQ(err, "environment ECOGATE_SITE_ID_FILE: ECOGATE_SITE_ID is set "
	    "too; set only one");
	env_clear();

	/* A required secret hints at the _FILE form. */
	{
		struct sec { char *pw; } s;
		static const struct gk_cfg_key skeys[] = {
			{ "db.password", GK_CFG_STR, offsetof(struct sec, pw), NULL,
			    0, 0, GK_CFG_REQUIRED | GK_CFG_SECRET, "pw" },
			{ NULL, 0, 0, NULL, 0, 0, 0, NULL }
		};

		memset(&s, 0, sizeof(s));
		T_CHECK(gk_cfg_load(&s, skeys, NULL, missing,
		    sizeof(missing)) == -1);
		T_STREQ(missing, "(no config file): missing required key "
		    "'db.password' (or set ECOGATE_DB_PASSWORD_FILE)");
	}

	/* A secret's bad value is not repeated in the message. */
	{
		struct isec { long long pin; } s;
		static const struct gk_cfg_key skeys[] = {
			{ "door.pin", GK_CFG_INT, offsetof(struct isec, pin), "0",
			    0, 0, GK_CFG_SECRET, "pin" },
			{ NULL, 0, 0, NULL, 0, 0, 0, NULL }
		};

		memset(&s, 0, sizeof(s));
		setenv("ECOGATE_DOOR_PIN", "12x34", 1);
		T_CHECK(gk_cfg_load(&s, skeys, NULL, err, sizeof(err)) == -1);
		T_STREQ(err, "environment ECOGATE_DOOR_PIN: key 'door.pin': "
		    "bad number '(secret)'");
		T_CHECK(strstr(err, "12x34") == NULL);
		unsetenv("ECOGATE_DOOR_PIN");
	}

	/* A tiny error buffer is still NUL-terminated; none at all is allowed. */
	{
		char small[8];

		memset(small, 'x', sizeof(small));
		T_CHECK(load(&c, fixture("unknown.conf"), small,
		    sizeof(small)) == -1);
		T_CHECK(small[sizeof(small) - 1] == '\0');
		T_CHECK(load(&c, fixture("unknown.conf"), NULL, 0) == -1);
	}
}

static void
test_durations(void)
{
	static const struct {
		const char	*in;
		long long	 ms;	/* -1: must be rejected */
	} cases[] = {
		{ "800ms", 800 }, { "5s", 5000 }, { "2m", 120000 },
		{ "1h", 3600000 }, { "1d", 86400000 }, { "250", 250 }, { "0", 0 },
		{ "0ms", 0 }, { "5x", -1 }, { "-5s", -1 }, { "5 s", -1 },
		{ "", -1 }, { "1.5s", -1 }, { "ms", -1 }, { "5S", -1 },
		{ " 5s", -1 }, { "9223372036854775807", 9223372036854775807LL },
		{ "9223372036854775808", -1 }, { "9223372036854776s", -1 },
	};
	char err[512];
	struct tcfg c;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		env_clear();
		setenv("ECOGATE_SITE_ID", "a", 1);
		setenv("ECOGATE_DECIDE_TIMEOUT", cases[i].in, 1);
		if (cases[i].ms >= 0) {
			T_CHECKF(load(&c, NULL, err, sizeof(err)) == 0,
			    "'%s': %s", cases[i].in, err);
			T_CHECKF(c.timeout_ms == cases[i].ms, "'%s' -> %lld",
			    cases[i].in, (long long)c.timeout_ms);
		} else {
			T_CHECKF(load(&c, NULL, err, sizeof(err)) == -1,
			    "'%s' accepted", cases[i].in);
			T_CHECKF(strstr(err, "key 'decide.timeout'") != NULL,
			    "'%s': %s", cases[i].in, err);
		}
		gk_cfg_free(&c, keys);
	}
	env_clear();
}

static void
test_bounds(void)
{
	static const struct {
		const char	*var, *val;
		int		 ok;
	} cases[] = {
		{ "ECOGATE_MQTT_PORT", "1", 1 }, { "ECOGATE_MQTT_PORT", "65535", 1 },
		{ "ECOGATE_MQTT_PORT", "0", 0 }, { "ECOGATE_MQTT_PORT", "65536", 0 },
		{ "ECOGATE_MQTT_PORT", "-1", 0 }, { "ECOGATE_MQTT_PORT", "+80", 1 },
		{ "ECOGATE_MQTT_PORT", "0x50", 0 }, { "ECOGATE_MQTT_PORT", " 80", 0 },
		{ "ECOGATE_MQTT_PORT", "99999999999999999999", 0 },
		{ "ECOGATE_SCORE_MIN", "0", 1 }, { "ECOGATE_SCORE_MIN", "1", 1 },
		{ "ECOGATE_SCORE_MIN", ".5", 1 }, { "ECOGATE_SCORE_MIN", "-0.1", 0 },
		{ "ECOGATE_SCORE_MIN", "inf", 0 }, { "ECOGATE_SCORE_MIN", "1e999", 0 },
		{ "ECOGATE_RETRY_MAX", "100", 1 }, { "ECOGATE_RETRY_MAX", "99", 0 },
		{ "ECOGATE_RETRY_MAX", "1m", 1 }, { "ECOGATE_RETRY_MAX", "60001", 0 },
		{ "ECOGATE_LANE_NAME", "12345678", 1 },
		{ "ECOGATE_LANE_NAME", "123456789", 0 },
		{ "ECOGATE_MQTT_TLS", "YES", 1 }, { "ECOGATE_MQTT_TLS", "True", 1 },
		{ "ECOGATE_MQTT_TLS", "1", 1 }, { "ECOGATE_MQTT_TLS", "0", 1 },
		{ "ECOGATE_MQTT_TLS", "y", 0 }, { "ECOGATE_MQTT_TLS", "", 0 },
	};
	char err[512];
	struct tcfg c;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		env_clear();
		setenv("ECOGATE_SITE_ID", "a", 1);
		setenv(cases[i].var, cases[i].val, 1);
		T_CHECKF((load(&c, NULL, err, sizeof(err)) == 0) == cases[i].ok,
		    "%s='%s': %s", cases[i].var, cases[i].val, err);
		gk_cfg_free(&c, keys);
	}
	env_clear();
	setenv("ECOGATE_SITE_ID", "a", 1);
	setenv("ECOGATE_MQTT_TLS", "True", 1);
	setenv("ECOGATE_SCORE_MIN", ".5", 1);
	setenv("ECOGATE_MQTT_PORT", "+80", 1);
	T_REQUIRE(load(&c, NULL, err, sizeof(err)) == 0);
	T_CHECK(c.tls == 1 && c.score_min == 0.5 && c.port == 80);
	gk_cfg_free(&c, keys);
	env_clear();
}

static void
test_table_errors(void)
{
	struct one { long long a; char *b; } o;
	static const struct gk_cfg_key dup[] = {
		{ "a", GK_CFG_INT, offsetof(struct one, a), "1", 0, 0, 0, "" },
		{ "a", GK_CFG_INT, offsetof(struct one, a), "1", 0, 0, 0, "" },
		{ NULL, 0, 0, NULL, 0, 0, 0, NULL }
	};
	static const struct gk_cfg_key badname[] = {
		{ "A b", GK_CFG_INT, offsetof(struct one, a), "1", 0, 0, 0, "" },
		{ NULL, 0, 0, NULL, 0, 0, 0, NULL }
	};
	static const struct gk_cfg_key baddef[] = {
		{ "a", GK_CFG_INT, offsetof(struct one, a), "x", 0, 0, 0, "" },
		{ "b", GK_CFG_STR, offsetof(struct one, b), "leak?", 0, 0, 0, "" },
		{ NULL, 0, 0, NULL, 0, 0, 0, NULL }
	};
	char err[256];

	memset(&o, 0, sizeof(o));
	T_CHECK(gk_cfg_load(&o, dup, NULL, err, sizeof(err)) == -1);
	T_STREQ(err, "key table: key 'a' declared twice");
	T_CHECK(gk_cfg_load(&o, badname, NULL, err, sizeof(err)) == -1);
	T_STREQ(err, "key table: bad key name 'A b'");
	T_CHECK(gk_cfg_load(&o, baddef, NULL, err, sizeof(err)) == -1);
	T_STREQ(err, "key table: key 'a': bad default: bad number 'x'");
	T_CHECK(o.b == NULL);
}

/* Reads what fp holds from the start. */
static char *
slurp(FILE *fp)
{
	char *buf;
	long n;

	T_REQUIRE(fflush(fp) == 0);
	n = ftell(fp);
	T_REQUIRE(n >= 0);
	rewind(fp);
	buf = calloc(1, (size_t)n + 1);
	T_REQUIRE(buf != NULL);
	T_REQUIRE(fread(buf, 1, (size_t)n, fp) == (size_t)n);
	return buf;
}

static void
test_dump(void)
{
	char err[512], *out, path[256];
	struct tcfg c, back;
	FILE *fp;

	env_clear();
	T_REQUIRE(load(&c, fixture("full.conf"), err, sizeof(err)) == 0);
	fp = tmpfile();
	T_REQUIRE(fp != NULL);
	T_REQUIRE(gk_cfg_dump(&c, keys, fp) == 0);
	out = slurp(fp);
	fclose(fp);
	T_STREQ(out,
	    "mqtt.url = \"tcp://10.0.0.5:1883/x#y\"\n"
	    "mqtt.port = 8883\n"
	    "mqtt.tls = yes\n"
	    "score.min = 0.25\n"
	    "decide.timeout = 2m\n"
	    "redis.password = ***\n"
	    "site.id = plant-7\n"
	    "lane.name = \"gate #1\"\n"
	    "retry.max = 1500ms\n");
	T_CHECK(strstr(out, "s3cr") == NULL);

	/* The dump reads back as a config file with the same values. */
	snprintf(path, sizeof(path), "%s", tmpfile_with("dump.conf", out,
	    strlen(out)));
	free(out);
	T_REQUIRE(load(&back, path, err, sizeof(err)) == 0);
	T_STREQ(back.url, c.url);
	T_CHECK(back.port == c.port && back.tls == c.tls);
	T_CHECK(back.score_min == c.score_min);
	T_CHECK(back.timeout_ms == c.timeout_ms && back.retry_ms == c.retry_ms);
	T_STREQ(back.lane, c.lane);
	T_STREQ(back.site, c.site);
	gk_cfg_free(&back, keys);
	gk_cfg_free(&c, keys);

	/* An empty secret shows as "" (so it is visibly missing), odd strings quoted. */
	env_clear();
	setenv("ECOGATE_SITE_ID", " padded ", 1);
	setenv("ECOGATE_MQTT_URL", "a\"b\\c\td", 1);
	T_REQUIRE(load(&c, NULL, err, sizeof(err)) == 0);
	fp = tmpfile();
	T_REQUIRE(fp != NULL);
	T_REQUIRE(gk_cfg_dump(&c, keys, fp) == 0);
	out = slurp(fp);
	fclose(fp);
	T_CHECKF(strstr(out, "redis.password = \"\"\n") != NULL, "%s", out);
	T_CHECKF(strstr(out, "site.id = \" padded \"\n") != NULL, "%s", out);
	T_CHECKF(strstr(out, "mqtt.url = \"a\\\"b\\\\c\\td\"\n") != NULL, "%s",
	    out);
	snprintf(path, sizeof(path), "%s", tmpfile_with("dump2.conf", out,
	    strlen(out)));
	free(out);
	env_clear();
	T_REQUIRE(load(&back, path, err, sizeof(err)) == 0);
	T_STREQ(back.site, " padded ");
	T_STREQ(back.url, "a\"b\\c\td");
	gk_cfg_free(&back, keys);
	gk_cfg_free(&c, keys);
}

static void
test_check(void)
{
	char err[512], *out, want[2048];
	struct tcfg c;
	FILE *fp;

	env_clear();
	setenv("ECOGATE_MQTT_PORT", "1884", 1);
	setenv("ECOGATE_REDIS_PASSWORD_FILE",
	    tmpfile_with("pw", "hunter2\n", 8), 1);
	memset(&c, 0, sizeof(c));
	fp = tmpfile();
	T_REQUIRE(fp != NULL);
	T_REQUIRE(gk_cfg_check(&c, keys, fixture("full.conf"), fp, err,
	    sizeof(err)) == 0);
	out = slurp(fp);
	fclose(fp);
	snprintf(want, sizeof(want),
	    "mqtt.url = \"tcp://10.0.0.5:1883/x#y\"\t# %1$s:2\n"
	    "mqtt.port = 1884\t# env ECOGATE_MQTT_PORT\n"
	    "mqtt.tls = yes\t# %1$s:5\n"
	    "score.min = 0.25\t# %1$s:6\n"
	    "decide.timeout = 2m\t# %1$s:7\n"
	    "redis.password = ***\t# env ECOGATE_REDIS_PASSWORD_FILE\n"
	    "site.id = plant-7\t# %1$s:8\n"
	    "lane.name = \"gate #1\"\t# %1$s:9\n"
	    "retry.max = 1500ms\t# %1$s:11\n", fixture("full.conf"));
	T_STREQ(out, want);
	T_CHECK(strstr(out, "hunter2") == NULL);
	free(out);
	T_CHECK(c.url == NULL && c.password == NULL);	/* freed again */

	env_clear();
	fp = tmpfile();
	T_REQUIRE(fp != NULL);
	T_CHECK(gk_cfg_check(&c, keys, fixture("dup.conf"), fp, err,
	    sizeof(err)) == -1);
	T_CHECK(strstr(err, "dup.conf:4: key 'mqtt.port' already set at line 2")
	    != NULL);
	T_CHECK(ftell(fp) == 0);
	fclose(fp);

	env_clear();
	setenv("ECOGATE_SITE_ID", "a", 1);
	fp = tmpfile();
	T_REQUIRE(fp != NULL);
	T_REQUIRE(gk_cfg_check(&c, keys, NULL, fp, err, sizeof(err)) == 0);
	out = slurp(fp);
	fclose(fp);
	T_CHECKF(strstr(out, "mqtt.port = 1883\t# default\n") != NULL, "%s", out);
	T_CHECKF(strstr(out, "site.id = a\t# env ECOGATE_SITE_ID\n") != NULL,
	    "%s", out);
	free(out);
	env_clear();
}

static void
test_reload(void)
{
	char err[512];
	struct tcfg c;

	env_clear();
	T_REQUIRE(load(&c, fixture("full.conf"), err, sizeof(err)) == 0);
	/* Loading again into the loaded struct frees the old strings (ASan). */
	T_REQUIRE(gk_cfg_load(&c, keys, fixture("crlf.conf"), err,
	    sizeof(err)) == 0);
	T_STREQ(c.site, "crlf");
	T_STREQ(c.url, "tcp://127.0.0.1:1883");
	T_CHECK(c.port == 1999);
	/* A failed reload leaves the running config as it was. */
	T_CHECK(gk_cfg_load(&c, keys, fixture("range.conf"), err,
	    sizeof(err)) == -1);
	T_STREQ(c.site, "crlf");
	T_CHECK(c.port == 1999);
	T_CHECK(gk_cfg_load(&c, keys, fixture("badquote.conf"), err,
	    sizeof(err)) == -1);
	T_STREQ(c.site, "crlf");
	gk_cfg_free(&c, keys);
}

/* Reads everything the logger wrote to the pipe so far. */
static char *
drain(int fd)
{
	static char buf[65536];
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(buf) - 1 &&
	    (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	return buf;
}

static void
test_log(void)
{
	char err[512], *out;
	struct tcfg c;
	int p[2];

	T_REQUIRE(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
	gk_log_set_fd(p[1]);
	gk_log_set_level(GK_LOG_INFO);

	env_clear();
	setenv("ECOGATE_REDIS_PASSWORD", "hunter2", 1);
	T_REQUIRE(load(&c, fixture("full.conf"), err, sizeof(err)) == 0);
	(void)drain(p[0]);
	gk_cfg_log(&c, keys);
	out = drain(p[0]);
	T_CHECKF(strstr(out, "\"event\":\"cfg.value\"") != NULL, "%s", out);
	T_CHECKF(strstr(out, "\"key\":\"mqtt.port\",\"value\":\"8883\"") != NULL,
	    "%s", out);
	T_CHECKF(strstr(out, "\"key\":\"redis.password\",\"value\":\"***\"") !=
	    NULL, "%s", out);
	T_CHECKF(strstr(out, "\"key\":\"lane.name\",\"value\":\"gate #1\"") !=
	    NULL, "%s", out);
	T_CHECK(strstr(out, "hunter2") == NULL);
	gk_cfg_free(&c, keys);

	/* A failed load logs cfg.error with the same message. */
	env_clear();
	T_CHECK(load(&c, fixture("unknown.conf"), err, sizeof(err)) == -1);
	out = drain(p[0]);
	T_CHECKF(strstr(out, "\"event\":\"cfg.error\"") != NULL, "%s", out);
	T_CHECKF(strstr(out, ":3: unknown key 'mqtt.uri'") != NULL, "%s", out);

	gk_log_set_fd(1);
	close(p[0]);
	close(p[1]);
}

int
main(void)
{
	snprintf(datadir, sizeof(datadir), "%s/tests/unit/data/cfg",
	    t_env("ECOGATE_SOURCE_DIR", "."));
	T_REQUIRE(mkdtemp(tmpdir) != NULL);
	gk_log_init("test_cfg");

	test_defaults();
	test_file();
	test_env();
	test_errors();
	test_durations();
	test_bounds();
	test_table_errors();
	test_dump();
	test_check();
	test_reload();
	test_log();

	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmpdir);
	}
	return T_DONE();
}
