/*
 * Fuzz target for the config loader (gatekit/cfg.h): a config file is written by a
 * person on a plant host and may hold anything, so any bytes must give a loaded
 * config or an error naming file and line, never a crash or a leak. A config that
 * loads must dump to text that loads back to the same values.
 */
#include <sys/mman.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gatekit/cfg.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fcfg {
	char		*url;
	char		*secret;
	long long	 port;
	int		 flag;
	double		 ratio;
	int64_t		 wait;
};

static const struct gk_cfg_key keys[] = {
	{ "mqtt.url", GK_CFG_STR, offsetof(struct fcfg, url), "tcp://127.0.0.1:1883",
	    0, 64, 0, "broker" },
	{ "db.password", GK_CFG_STR, offsetof(struct fcfg, secret), "", 0, 0,
	    GK_CFG_SECRET, "secret" },
	{ "redis.port", GK_CFG_INT, offsetof(struct fcfg, port), "6379", 1, 65535, 0,
	    "port" },
	{ "debug", GK_CFG_BOOL, offsetof(struct fcfg, flag), "no", 0, 0, 0, "flag" },
	{ "ratio", GK_CFG_DOUBLE, offsetof(struct fcfg, ratio), "0.5", 0, 0, 0, "ratio" },
	{ "fusion.window", GK_CFG_MS, offsetof(struct fcfg, wait), "800ms", 0, 60000, 0,
	    "window" },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL },
};

/* Writes buf to an anonymous file and returns its /proc path in path, or -1. */
static int
memfile(const void *buf, size_t len, char *path, size_t pathlen)
{
	int fd;

	if ((fd = memfd_create("fuzz_cfg", 0)) == -1)
		return -1;
	if (len > 0 && write(fd, buf, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	snprintf(path, pathlen, "/proc/self/fd/%d", fd);
	return fd;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fcfg	 a, b;
	char		 path[64], path2[64], err[512], *dump = NULL;
	size_t		 dumplen = 0;
	FILE		*fp;
	int		 fd, fd2;

	/* The fuzzer's own environment must not decide the outcome. */
	unsetenv("ECOGATE_MQTT_URL");
	unsetenv("ECOGATE_DB_PASSWORD");
	if ((fd = memfile(data, size, path, sizeof(path))) == -1)
		return 0;
	memset(&a, 0, sizeof(a));
	err[0] = '\0';
	if (gk_cfg_load(&a, keys, path, err, sizeof(err)) == -1) {
		if (strncmp(err, path, strlen(path)) != 0)
			abort();	/* every error names the file */
		gk_cfg_free(&a, keys);
		close(fd);
		return 0;
	}
	close(fd);
	/* Dump (secrets masked) and load again: the same values must come back. */
	if ((fp = open_memstream(&dump, &dumplen)) == NULL)
		abort();
	if (gk_cfg_dump(&a, keys, fp) == -1)
		abort();
	fclose(fp);
	if ((fd2 = memfile(dump, dumplen, path2, sizeof(path2))) == -1)
		abort();
	memset(&b, 0, sizeof(b));
	if (gk_cfg_load(&b, keys, path2, err, sizeof(err)) == -1)
		abort();	/* our own dump must load */
	if (strcmp(a.url, b.url) != 0 || a.port != b.port || a.flag != b.flag ||
	    a.wait != b.wait || (a.ratio != b.ratio && a.ratio == a.ratio))
		abort();
	close(fd2);
	free(dump);
	gk_cfg_free(&a, keys);
	gk_cfg_free(&b, keys);
	return 0;
}
