/*
 * The life of an ecogate daemon, written once: the command line (-f conffile, -n to
 * check the configuration and exit, -d for debug logs), the configuration loaded
 * through gatekit/cfg.h, the event loop with SIGTERM and SIGINT stopping it and SIGHUP
 * asking for a reload, the daemon's own setup and teardown around the loop, and the
 * exit status (sysexits). A daemon's main() fills a struct gk_daemon and returns
 * gk_daemon_main(); its code starts at init().
 *
 *	static struct verifier v;
 *	static const struct gk_daemon d = { "verifier", VERSION, &v.cfg, keys, &v,
 *	    verifier_init, verifier_reload, verifier_shutdown };
 *	int main(int argc, char *argv[]) { return gk_daemon_main(&d, argc, argv); }
 *
 * Logged: svc.start (version, config file), the effective configuration (cfg.value),
 * svc.signal, svc.stop (exit code).
 */
#ifndef GATEKIT_DAEMON_H
#define GATEKIT_DAEMON_H

#include "gatekit/cfg.h"
#include "gatekit/loop.h"

struct gk_daemon {
	const char		*name;		/* program and log service name */
	const char		*version;
	void			*cfg;		/* the daemon's configuration struct */
	const struct gk_cfg_key	*keys;		/* ... and its keys */
	void			*arg;		/* passed to the hooks */
	/*
	 * Sets the daemon up once the configuration is loaded and the loop made (its
	 * signals already routed, so threads started here inherit them blocked).
	 * conffile is the -f file or NULL. Returns 0, or a sysexits code to exit with
	 * (shutdown() is still called).
	 */
	int	(*init)(void *arg, struct gk_loop *loop, const char *conffile);
	/*
	 * SIGHUP. NULL: the daemon cannot reload; a warning says to restart it.
	 */
	void	(*reload)(void *arg, const char *conffile);
	/*
	 * Tears down after the loop stopped or init() failed; the loop still exists
	 * (it is drained and freed afterwards), the configuration too.
	 */
	void	(*shutdown)(void *arg);
};

/* Runs the daemon; returns its exit status. Never returns before it is done. */
int	gk_daemon_main(const struct gk_daemon *d, int argc, char *argv[]);

#endif
