/*
 * gk_daemon_main(): the command line, configuration, loop and signals every daemon
 * shares, so each daemon's file holds only what is its own. See gatekit/daemon.h.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>

#include "gatekit/cfg.h"
#include "gatekit/daemon.h"
#include "gatekit/log.h"
#include "gatekit/loop.h"

struct run {
	const struct gk_daemon	*d;
	const char		*conffile;
};

static void
on_stop(struct gk_loop *l, int signo, void *arg)
{
	(void)arg;
	gk_log(GK_LOG_INFO, "svc.signal", "signo=%d action=stop", signo);
	gk_loop_stop(l, 0);
}

static void
on_hup(struct gk_loop *l, int signo, void *arg)
{
	struct run *r = arg;

	(void)l;
	gk_log(GK_LOG_INFO, "svc.signal", "signo=%d action=reload", signo);
	if (r->d->reload != NULL)
		r->d->reload(r->d->arg, r->conffile);
	else
		gk_log(GK_LOG_WARN, "cfg.reload_unsupported", "hint=%s",
		    "every setting shapes connections or topics: restart the service");
}

static void
usage(const char *name)
{
	fprintf(stderr, "usage: %s [-dn] [-f conffile]\n"
	    "  -f conffile  configuration file (keys may also come from ECOGATE_*)\n"
	    "  -n           check the configuration, print it and exit\n"
	    "  -d           debug logging\n", name);
}

int
gk_daemon_main(const struct gk_daemon *d, int argc, char *argv[])
{
	struct run	 r = { d, NULL };
	struct gk_loop	*loop;
	char		 err[512];
	int		 ch, nflag = 0, dflag = 0, code;

	while ((ch = getopt(argc, argv, "df:n")) != -1) {
		switch (ch) {
		case 'd':
			dflag = 1;
			break;
		case 'f':
			r.conffile = optarg;
			break;
		case 'n':
			nflag = 1;
			break;
		default:
			usage(d->name);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		usage(d->name);
		return EX_USAGE;
	}
	gk_log_init(d->name);
	if (dflag)
		gk_log_set_level(GK_LOG_DEBUG);
	if (nflag) {
		if (gk_cfg_check(d->cfg, d->keys, r.conffile, stdout, err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "%s: %s\n", d->name, err);
			return EX_CONFIG;
		}
		return puts("configuration OK") == EOF ? EX_IOERR : 0;
	}
	if (gk_cfg_load(d->cfg, d->keys, r.conffile, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", d->name, err);
		gk_log(GK_LOG_ERR, "cfg.invalid", "reason=%s", err);
		return EX_CONFIG;
	}
	gk_log(GK_LOG_INFO, "svc.start", "version=%s conf=%s pid=%ld", d->version,
	    r.conffile != NULL ? r.conffile : "(none)", (long)getpid());
	gk_cfg_log(d->cfg, d->keys);
	if ((loop = gk_loop_new()) == NULL) {
		gk_cfg_free(d->cfg, d->keys);
		return EX_OSERR;
	}
	/* Before any library starts a thread, so its threads inherit them blocked. */
	if (gk_loop_signal(loop, SIGTERM, on_stop, &r) == -1 ||
	    gk_loop_signal(loop, SIGINT, on_stop, &r) == -1 ||
	    gk_loop_signal(loop, SIGHUP, on_hup, &r) == -1) {
		gk_loop_free(loop);
		gk_cfg_free(d->cfg, d->keys);
		return EX_OSERR;
	}
	signal(SIGPIPE, SIG_IGN);	/* a dead peer is an error return, not death */
	if ((code = d->init(d->arg, loop, r.conffile)) == 0) {
		while (!gk_loop_done(loop))
			if (gk_loop_once(loop, -1) == -1)
				gk_loop_stop(loop, EX_OSERR);
		code = gk_loop_exit_code(loop);
	}
	d->shutdown(d->arg);
	/* What the adapters posted while closing, then the loop itself. */
	while (gk_loop_once(loop, 0) > 0)
		;
	gk_loop_free(loop);
	gk_cfg_free(d->cfg, d->keys);
	gk_log(GK_LOG_INFO, "svc.stop", "code=%d", code);
	return code;
}
