/*
 * ecogatectl: the operator's tool (DESIGN §2). This file is only the shell: it picks a
 * subcommand from a table, parses its options and wires it to the database; the work
 * lives in one file per subcommand (migrate.c, ...). Human-readable results go to
 * stdout, errors to stderr, JSON log lines (gatekit/log.h) to stderr at level warn
 * unless ECOGATE_LOG_LEVEL or -v says otherwise. Exit codes are <sysexits.h>.
 *
 * To add a subcommand: write cmd_<name>(argc, argv) and add a row to cmds[].
 */
#include <sys/stat.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "gatekit/db.h"
#include "gatekit/log.h"

#include "audit.h"
#include "ctl_barrier.h"
#include "ctl_policy.h"
#include "migrate.h"
#include "ledger_cmd.h"
#include "registry.h"
#include "registry_csv.h"
#include "selftest.h"

/* Where the servers are when the environment does not say (the demo's ports). */
#define DEFAULT_PG_CONNINFO	"host=127.0.0.1 port=25432 dbname=ecogate user=postgres"
#define DEFAULT_KAFKA_BROKERS	"127.0.0.1:29092"
#define DEFAULT_MQTT_URL	"tcp://127.0.0.1:21883"
#define DEFAULT_SITE		"site1"

#ifndef ECOGATE_SQL_INSTALL_DIR
#define ECOGATE_SQL_INSTALL_DIR	"/usr/local/share/ecogate/sql"
#endif

struct cmd {
	const char	*name;
	int		(*run)(int argc, char *argv[]);
	const char	*usage;		/* the arguments, for "ecogatectl help" */
	const char	*help;		/* one line */
};

static int	cmd_help(int, char *[]);
static int	cmd_migrate(int, char *[]);
static int	cmd_registry(int, char *[]);
static int	cmd_policy(int, char *[]);
static int	cmd_barrier(int, char *[]);
static int	cmd_ledger(int, char *[]);

static const struct cmd cmds[] = {
	{ "migrate", cmd_migrate,
	    "[--dir DIR] [--db CONNINFO] [--dry-run | --status] [-v]",
	    "apply the SQL migrations to the database" },
	{ "registry", cmd_registry,
	    "import FILE.csv | get PLATE [--json] | remove PLATE [--force] | "
	    "publish [PLATE]\n             [--colour C] --operator NAME "
	    "[--reason TEXT] [--site S] [--db CONNINFO]\n             "
	    "[--brokers HOSTS]",
	    "keep the vehicle registry (PostgreSQL) and publish it to "
	    REGISTRY_TOPIC "\n             (import and remove audited on "
	    AUDIT_TOPIC "; remove needs --reason)" },
	{ "policy", cmd_policy,
	    "show [--json] | load FILE | set-alert LEVEL | publish\n"
	    "             [--site S] [--operator NAME] [--reason TEXT] [--db CONNINFO]\n"
	    "             [--brokers HOSTS] [--mqtt URL]",
	    "show or change the admission policy (audited on " AUDIT_TOPIC ")" },
	{ "barrier", cmd_barrier,
	    "open --lane L --operator NAME --reason TEXT [--site S] [--wait]\n"
	    "             [--brokers HOSTS] [--mqtt URL]",
	    "release a lane's barrier by hand (audited on " AUDIT_TOPIC ")" },
	{ "ledger", cmd_ledger,
	    "verify [--site S] [--from SEQ] [--pubkey KEY.pem] |\n"
	    "             prove EVENT_ID [--site S] [-o FILE] |\n"
	    "             check-proof FILE --pubkey KEY.pem |\n"
	    "             export --from DATE --to DATE --format csv|xlsx\n"
	    "               [--ledger transport|fleet|machinery|audit] [-o FILE] |\n"
	    "             migrate-import FILE --operator NAME --reason TEXT [--dry-run]\n"
	    "             [--db CONNINFO]",
	    "check, prove and export the verifiable ledger (docs/ledger.md)" },
	{ "selftest", selftest_run, "[-n] [-f FILE]",
	    "send sample plate reads through MQTT, Redis, Kafka and PostgreSQL" },
	{ "help", cmd_help, "", "show this help" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: ecogatectl COMMAND [options]\n\ncommands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %s\n  %-8s   %s\n", cmds[i].name, cmds[i].usage,
		    "", cmds[i].help);
	fprintf(f, "\nenvironment: ECOGATE_PG_CONNINFO (database), "
	    "ECOGATE_KAFKA_BROKERS (Kafka),\n  ECOGATE_MQTT_URL (MQTT), "
	    "ECOGATE_SITE (site id), ECOGATE_SQL_DIR (migrations),\n  "
	    "ECOGATE_LOG_LEVEL\n");
}

static int
cmd_help(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return 0;
}

static int
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* --dir, else ECOGATE_SQL_DIR, else the installed files, else a source checkout. */
static const char *
sql_dir(const char *opt)
{
	const char *env;

	if (opt != NULL)
		return opt;
	if ((env = getenv("ECOGATE_SQL_DIR")) != NULL && env[0] != '\0')
		return env;
	if (is_dir(ECOGATE_SQL_INSTALL_DIR))
		return ECOGATE_SQL_INSTALL_DIR;
	return "schemas/sql";
}

static int
cmd_migrate(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "db", required_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "status", no_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct gk_db_opts	 dbo = { .application_name = "ecogatectl" };
	struct gk_db		*db;
	enum migrate_mode	 mode = MIGRATE_APPLY;
	const char		*dir = NULL, *conninfo = NULL;
	int			 ch, rc, nmodes = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:c:nsvh", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'c':
			conninfo = optarg;
			break;
		case 'n':
			mode = MIGRATE_DRY_RUN;
			nmodes++;
			break;
		case 's':
			mode = MIGRATE_STATUS;
			nmodes++;
			break;
		case 'v':
			gk_log_set_level(gk_log_get_level() > GK_LOG_INFO ?
			    GK_LOG_INFO : GK_LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc || nmodes > 1) {
		fprintf(stderr, "ecogatectl migrate: %s\n", nmodes > 1 ?
		    "--dry-run and --status exclude each other" : "unexpected argument");
		return EX_USAGE;
	}
	if (conninfo == NULL)
		conninfo = getenv("ECOGATE_PG_CONNINFO");
	if (conninfo == NULL || conninfo[0] == '\0') {
		fprintf(stderr, "ecogatectl migrate: no database: give --db CONNINFO or "
		    "set ECOGATE_PG_CONNINFO\n");
		return EX_CONFIG;
	}
	if ((db = gk_db_new(conninfo, &dbo)) == NULL)
		return EX_SOFTWARE;
	rc = migrate_run(db, sql_dir(dir), mode, stdout, stderr);
	gk_db_free(db);
	return rc;
}

/* The value of environment variable name, or def when unset or empty. */
static const char *
env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : def;
}

/*
 * The options registry, policy and barrier share, with the same letters in each:
 * --site, --operator, --reason, --db, --brokers, --mqtt and --verbose.
 */
struct ctl_common {
	const char	*site, *operator_name, *reason;
	const char	*conninfo, *brokers, *mqtt_url;
};

/* Takes one shared option into co; 1 when ch was one, 0 for the caller's own. */
static int
common_opt(int ch, const char *arg, struct ctl_common *co)
{
	switch (ch) {
	case 's':
		co->site = arg;
		return 1;
	case 'o':
		co->operator_name = arg;
		return 1;
	case 'r':
		co->reason = arg;
		return 1;
	case 'c':
		co->conninfo = arg;
		return 1;
	case 'b':
		co->brokers = arg;
		return 1;
	case 'm':
		co->mqtt_url = arg;
		return 1;
	case 'v':
		gk_log_set_level(gk_log_get_level() > GK_LOG_INFO ? GK_LOG_INFO :
		    GK_LOG_DEBUG);
		return 1;
	}
	return 0;
}

/* What was not given on the command line: the environment, else the defaults. */
static void
common_defaults(struct ctl_common *co)
{
	if (co->site == NULL)
		co->site = env_or("ECOGATE_SITE", DEFAULT_SITE);
	if (co->conninfo == NULL)
		co->conninfo = env_or("ECOGATE_PG_CONNINFO", DEFAULT_PG_CONNINFO);
	if (co->brokers == NULL)
		co->brokers = env_or("ECOGATE_KAFKA_BROKERS", DEFAULT_KAFKA_BROKERS);
	if (co->mqtt_url == NULL)
		co->mqtt_url = env_or("ECOGATE_MQTT_URL", DEFAULT_MQTT_URL);
}

/*
 * registry SUBCOMMAND ...: options may come before or after the subcommand's
 * arguments. Exit codes as registry.h says.
 */
static int
cmd_registry(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "colour", required_argument, NULL, 'C' },
		{ "color", required_argument, NULL, 'C' },
		{ "operator", required_argument, NULL, 'o' },
		{ "reason", required_argument, NULL, 'r' },
		{ "site", required_argument, NULL, 's' },
		{ "db", required_argument, NULL, 'c' },
		{ "brokers", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ "force", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct gk_db_opts	 dbo = { .application_name = "ecogatectl" };
	struct ctl_common	 co = { NULL, NULL, NULL, NULL, NULL, NULL };
	struct registry_who	 who;
	struct gk_db		*db;
	const char		*colour = NULL;
	const char		*sub, *arg;
	char			 col[16], msg[REGISTRY_ERR_MAX];
	int			 ch, rc, json = 0, force = 0, nargs;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "C:o:r:s:c:b:jfvh", opts, NULL)) != -1) {
		if (common_opt(ch, optarg, &co))
			continue;
		switch (ch) {
		case 'C':
			colour = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'f':
			force = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	nargs = argc - optind;
	sub = nargs > 0 ? argv[optind] : "";
	arg = nargs > 1 ? argv[optind + 1] : NULL;
	if (nargs > 2 || (nargs < 2 && strcmp(sub, "publish") != 0) ||
	    (strcmp(sub, "import") != 0 && strcmp(sub, "get") != 0 &&
	    strcmp(sub, "remove") != 0 && strcmp(sub, "publish") != 0)) {
		fprintf(stderr, "ecogatectl registry: give import FILE, get PLATE, "
		    "remove PLATE or publish [PLATE]\n");
		return EX_USAGE;
	}
	if (colour != NULL) {
		if (registry_value(REGISTRY_PLATE_COLOUR, colour, col, sizeof(col), msg,
		    sizeof(msg)) == -1) {
			fprintf(stderr, "ecogatectl registry: --colour: %s\n", msg);
			return EX_USAGE;
		}
		colour = col;
	}
	common_defaults(&co);
	who.site = co.site;
	who.operator_name = co.operator_name;
	who.reason = co.reason;
	if ((db = gk_db_new(co.conninfo, &dbo)) == NULL)
		return EX_SOFTWARE;
	if (strcmp(sub, "import") == 0)
		rc = registry_import(db, co.brokers, arg, &who, stdout, stderr);
	else if (gk_db_connect(db) == -1) {
		fprintf(stderr, "ecogatectl registry: database: %s\n", gk_db_errmsg(db));
		rc = EX_UNAVAILABLE;
	} else if (strcmp(sub, "get") == 0)
		rc = registry_get(db, arg, colour, json, stdout, stderr);
	else if (strcmp(sub, "remove") == 0)
		rc = registry_remove(db, co.brokers, arg, colour, force, &who, stdout,
		    stderr);
	else
		rc = registry_publish(db, co.brokers, arg, colour, &who, stdout,
		    stderr);
	gk_db_free(db);
	return rc;
}

/*
 * policy SUBCOMMAND ...: see ctl_policy.h. Options may come before or after the
 * subcommand's arguments.
 */
static int
cmd_policy(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "site", required_argument, NULL, 's' },
		{ "operator", required_argument, NULL, 'o' },
		{ "reason", required_argument, NULL, 'r' },
		{ "db", required_argument, NULL, 'c' },
		{ "brokers", required_argument, NULL, 'b' },
		{ "mqtt", required_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct gk_db_opts	 dbo = { .application_name = "ecogatectl" };
	struct ctl_common	 co = { NULL, NULL, NULL, NULL, NULL, NULL };
	struct ctl_policy_ctx	 c;
	const char		*sub;
	int			 ch, rc, json = 0, nargs, want;

	memset(&c, 0, sizeof(c));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "s:o:r:c:b:m:jvh", opts, NULL)) != -1) {
		if (common_opt(ch, optarg, &co))
			continue;
		switch (ch) {
		case 'j':
			json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	nargs = argc - optind;
	sub = nargs > 0 ? argv[optind] : "";
	want = strcmp(sub, "load") == 0 || strcmp(sub, "set-alert") == 0 ? 2 : 1;
	if (nargs != want || (want == 1 && strcmp(sub, "show") != 0 &&
	    strcmp(sub, "publish") != 0)) {
		fprintf(stderr, "ecogatectl policy: give show, load FILE, set-alert LEVEL "
		    "or publish\n");
		return EX_USAGE;
	}
	common_defaults(&co);
	c.site = co.site;
	c.operator_name = co.operator_name;
	c.reason = co.reason;
	c.brokers = co.brokers;
	c.mqtt_url = co.mqtt_url;
	if (!audit_valid_topic_id(c.site)) {
		fprintf(stderr, "ecogatectl policy: site \"%s\": want "
		    "[a-z0-9][a-z0-9_-]{0,31}\n", c.site);
		return EX_USAGE;
	}
	c.out = stdout;
	c.errout = stderr;
	if ((c.db = gk_db_new(co.conninfo, &dbo)) == NULL)
		return EX_SOFTWARE;
	if (gk_db_connect(c.db) == -1) {
		fprintf(stderr, "ecogatectl policy: database: %s\n", gk_db_errmsg(c.db));
		rc = EX_UNAVAILABLE;
	} else if (strcmp(sub, "show") == 0)
		rc = ctl_policy_show(&c, json);
	else if (strcmp(sub, "load") == 0)
		rc = ctl_policy_load(&c, argv[optind + 1]);
	else if (strcmp(sub, "set-alert") == 0)
		rc = ctl_policy_set_alert(&c, argv[optind + 1]);
	else
		rc = ctl_policy_publish(&c);
	gk_db_free(c.db);
	return rc;
}

/* barrier open --lane L ...: see ctl_barrier.h. */
static int
cmd_barrier(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "site", required_argument, NULL, 's' },
		{ "lane", required_argument, NULL, 'l' },
		{ "operator", required_argument, NULL, 'o' },
		{ "reason", required_argument, NULL, 'r' },
		{ "brokers", required_argument, NULL, 'b' },
		{ "mqtt", required_argument, NULL, 'm' },
		{ "wait", no_argument, NULL, 'w' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_common	 co = { NULL, NULL, NULL, NULL, NULL, NULL };
	struct ctl_barrier_req	 r;
	int			 ch;

	memset(&r, 0, sizeof(r));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "s:l:o:r:b:m:wvh", opts, NULL)) != -1) {
		if (common_opt(ch, optarg, &co))
			continue;
		switch (ch) {
		case 'l':
			r.lane = optarg;
			break;
		case 'w':
			r.wait = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (argc - optind != 1 || strcmp(argv[optind], "open") != 0) {
		fprintf(stderr, "ecogatectl barrier: give open --lane L --operator NAME "
		    "--reason TEXT\n");
		return EX_USAGE;
	}
	common_defaults(&co);
	r.site = co.site;
	r.operator_name = co.operator_name;
	r.reason = co.reason;
	r.brokers = co.brokers;
	r.mqtt_url = co.mqtt_url;
	return ctl_barrier_open(&r, stdout, stderr);
}

int
main(int argc, char *argv[])
{
	size_t	i;
	int	rc;

	gk_log_init("ecogatectl");
	gk_log_set_fd(STDERR_FILENO);
	if (getenv("ECOGATE_LOG_LEVEL") == NULL)
		gk_log_set_level(GK_LOG_WARN);
	if (argc < 2) {
		usage(stderr);
		return EX_USAGE;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0) {
			rc = cmds[i].run(argc - 1, argv + 1);
			if (fflush(stdout) == EOF && rc == 0)
				rc = EX_IOERR;
			return rc;
		}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "ecogatectl: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return EX_USAGE;
}

/* ledger SUBCOMMAND ...: see ledger_cmd.h. */
static int
cmd_ledger(int argc, char *argv[])
{
	optind = 1;
	return ledger_main(argc, argv);
}
