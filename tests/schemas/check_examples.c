/*
 * The golden examples in schemas/examples/ seen through our own C code, the way a
 * daemon sees a message off the wire. The Python test proves what the schemas say;
 * this one proves that our strict parser (gatekit/json.h) agrees on what is JSON at
 * all: every valid-* and invalid-* example must parse (the invalid ones break only a
 * schema rule, so a consumer must reject them in code, not in the parser), and every
 * file in _malformed/ must be refused with a message. It also holds the valid plate
 * reads and decisions to gatekit/plate.h, so the examples other tests feed to the
 * daemons carry plates that a real gate could see.
 *
 *	schemas_check_examples SCHEMAS_DIR
 */
#include <sys/stat.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatekit/json.h"
#include "gatekit/plate.h"
#include "t.h"

/* Far above any example (the largest is about 2 KiB), as a daemon's limit would be. */
#define MAX_DOC		(64 * 1024)

/* Fewer than this many of each would mean the examples were not found. */
#define MIN_SCHEMAS	6
#define MIN_MALFORMED	5

/* Joins a and b with a '/' into buf. Returns 0, or -1 (logged) when it does not fit. */
static int
join(char *buf, size_t len, const char *a, const char *b)
{
	int n = snprintf(buf, len, "%s/%s", a, b);

	if (n < 0 || (size_t)n >= len) {
		fprintf(stderr, "path too long: %s/%s\n", a, b);
		return -1;
	}
	return 0;
}

static int
is_json(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

static int
not_hidden(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* stat(2), not d_type: some file systems report DT_UNKNOWN. */
static int
is_dir(const char *parent, const char *name)
{
	char path[4096];
	struct stat st;

	return join(path, sizeof(path), parent, name) == 0 &&
	    stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/*
 * A valid plate read or decision must name a plate that gatekit accepts in the
 * colour the message gives.
 */
static void
check_plate(const char *path, const json_t *doc)
{
	struct gk_plate_info info;
	struct gk_plate_err perr;
	enum gk_plate_colour colour;
	const char *plate = NULL, *cname = NULL;
	int rc;

	T_CHECKF(gk_json_get_str(doc, "plate", &plate) == GK_JSON_OK,
	    "%s: no plate", path);
	T_CHECKF(gk_json_get_str(doc, "colour", &cname) == GK_JSON_OK,
	    "%s: no colour", path);
	if (plate == NULL || cname == NULL)
		return;
	rc = gk_plate_colour_parse(cname, &colour);
	T_CHECKF(rc == 0, "%s: colour \"%s\" unknown to gatekit", path, cname);
	if (rc == -1)
		return;
	memset(&perr, 0, sizeof(perr));
	T_CHECKF(gk_plate_check(plate, colour, 0, &info, &perr) == 0,
	    "%s: plate %s (%s) rejected: %s: %s", path, plate, cname,
	    gk_plate_reason_name(perr.reason), perr.msg);
}

/* Checks one file of a schema's examples folder. */
static void
check_example(const char *dir, const char *schema, const char *name)
{
	char path[4096], err[512], marker[128];
	const char *got = NULL;
	json_t *doc;

	T_REQUIRE(join(path, sizeof(path), dir, name) == 0);
	err[0] = '\0';
	doc = gk_json_parse_file(path, MAX_DOC, err, sizeof(err));
	T_CHECKF(doc != NULL, "%s: refused by the parser: %s", path, err);
	if (doc == NULL)
		return;
	T_CHECKF(json_is_object(doc), "%s: not an object", path);
	if (has_prefix(name, "valid-")) {
		/* The const marker names the schema the folder is for. */
		snprintf(marker, sizeof(marker), "ecogate.%s", schema);
		T_CHECKF(gk_json_get_str(doc, "schema", &got) == GK_JSON_OK &&
		    strcmp(got, marker) == 0, "%s: schema marker %s, want %s",
		    path, got != NULL ? got : "(none)", marker);
		if (strcmp(schema, "plate-read.v1") == 0 ||
		    strcmp(schema, "passage-decision.v1") == 0)
			check_plate(path, doc);
	}
	json_decref(doc);
}

/* Checks every example of one schema and that there are enough of them. */
static void
check_schema_dir(const char *root, const char *schema)
{
	char ex[4096], dir[4096];
	struct dirent **names;
	int i, n, nvalid = 0, ninvalid = 0;

	T_REQUIRE(join(ex, sizeof(ex), root, "examples") == 0);
	T_REQUIRE(join(dir, sizeof(dir), ex, schema) == 0);
	n = scandir(dir, &names, is_json, alphasort);
	T_CHECKF(n > 0, "%s: no examples", dir);
	for (i = 0; i < n; i++) {
		if (has_prefix(names[i]->d_name, "valid-"))
			nvalid++;
		else if (has_prefix(names[i]->d_name, "invalid-"))
			ninvalid++;
		check_example(dir, schema, names[i]->d_name);
		free(names[i]);
	}
	if (n >= 0)
		free(names);
	T_CHECKF(nvalid >= 2 && ninvalid >= 4,
	    "%s: %d valid and %d invalid examples, want at least 2 and 4", dir,
	    nvalid, ninvalid);
}

/* Every malformed file must be refused, with a message saying why. */
static void
check_malformed(const char *root)
{
	char dir[4096], path[4096], err[512];
	struct dirent **names;
	json_t *doc;
	int i, n;

	T_REQUIRE(join(dir, sizeof(dir), root, "examples/_malformed") == 0);
	n = scandir(dir, &names, is_json, alphasort);
	T_CHECKF(n >= MIN_MALFORMED, "%s: %d files, want at least %d", dir, n,
	    MIN_MALFORMED);
	for (i = 0; i < n; i++) {
		T_REQUIRE(join(path, sizeof(path), dir, names[i]->d_name) == 0);
		err[0] = '\0';
		doc = gk_json_parse_file(path, MAX_DOC, err, sizeof(err));
		T_CHECKF(doc == NULL, "%s: accepted by the parser", path);
		T_CHECKF(doc != NULL || err[0] != '\0', "%s: refused without a message",
		    path);
		if (doc == NULL)
			printf("refused %s: %s\n", names[i]->d_name, err);
		json_decref(doc);
		free(names[i]);
	}
	if (n >= 0)
		free(names);
}

int
main(int argc, char *argv[])
{
	char dir[4096];
	struct dirent **names;
	int i, n, nschemas = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: schemas_check_examples SCHEMAS_DIR\n");
		return 2;
	}
	T_REQUIRE(join(dir, sizeof(dir), argv[1], "examples") == 0);
	n = scandir(dir, &names, not_hidden, alphasort);
	T_REQUIRE(n > 0);
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '_' && is_dir(dir, names[i]->d_name)) {
			check_schema_dir(argv[1], names[i]->d_name);
			nschemas++;
		}
		free(names[i]);
	}
	free(names);
	T_CHECKF(nschemas >= MIN_SCHEMAS, "%d example folders, want at least %d",
	    nschemas, MIN_SCHEMAS);
	check_malformed(argv[1]);
	return T_DONE();
}
