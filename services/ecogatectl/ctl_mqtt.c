/*
 * ctl_mqtt: publish one message and wait for its PUBACK (and optionally its answer);
 * see ctl_mqtt.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gatekit/bus.h"
#include "gatekit/log.h"
#include "gatekit/loop.h"
#include "gatekit/util.h"

#include "ctl_mqtt.h"

struct ex {
	int		 up;		/* 1 connected, -1 gave up */
	int		 subscribed;	/* 0 waiting, 1 granted, -1 refused */
	int		 published;	/* 0 waiting, 1 acknowledged, -1 failed */
	char		 why[256];
	const void	*corr;
	size_t		 corrlen;
	const char	*resp_topic;
	char		*reply;
};

static void
on_state(void *arg, int connected, const char *why)
{
	struct ex *x = arg;

	if (connected)
		x->up = 1;
	else if (why != NULL)
		gk_strlcpy(x->why, why, sizeof(x->why));
}

static void
on_subscribed(void *arg, const char *filter, int ok)
{
	struct ex *x = arg;

	(void)filter;
	x->subscribed = ok ? 1 : -1;
}

static void
on_published(void *arg, void *opaque, int ok, const char *why)
{
	struct ex *x = arg;

	(void)opaque;
	x->published = ok ? 1 : -1;
	if (!ok && why != NULL)
		gk_strlcpy(x->why, why, sizeof(x->why));
}

static void
on_message(void *arg, const struct gk_bus_msg *m)
{
	struct ex *x = arg;

	/* Someone else's answer on a shared topic is not ours: match the correlation. */
	if (x->reply != NULL || x->resp_topic == NULL ||
	    strcmp(m->topic, x->resp_topic) != 0 || m->correlation_len != x->corrlen ||
	    m->correlation == NULL || memcmp(m->correlation, x->corr, x->corrlen) != 0)
		return;
	if ((x->reply = malloc(m->len + 1)) == NULL)
		return;
	memcpy(x->reply, m->payload, m->len);
	x->reply[m->len] = '\0';
}

/* Runs the loop until *flag is non-zero or deadline (monotonic ms) passes. */
static int
wait_for(struct gk_loop *loop, const int *flag, int64_t deadline)
{
	while (*flag == 0 && gk_mono_ms() < deadline)
		gk_loop_once(loop, 50);
	return *flag;
}

int
ctl_mqtt_publish(const char *url, const struct gk_bus_msg *m, int timeout_ms,
    char **reply, FILE *errout)
{
	struct gk_bus_opts	 o;
	struct gk_loop		*loop;
	struct gk_bus		*bus = NULL;
	struct ex		 x;
	char			 cid[64], err[256];
	int64_t			 deadline = gk_mono_ms() + timeout_ms;
	int			 rc = -1, got;

	if (reply != NULL)
		*reply = NULL;
	if ((loop = gk_loop_new()) == NULL) {
		fprintf(errout, "mqtt: cannot create the event loop\n");
		return -1;
	}
	memset(&x, 0, sizeof(x));
	x.corr = m->correlation;
	x.corrlen = m->correlation_len;
	x.resp_topic = reply != NULL ? m->response_topic : NULL;
	memset(&o, 0, sizeof(o));
	snprintf(cid, sizeof(cid), "ecogatectl-%ld", (long)getpid());
	o.url = url;
	o.client_id = cid;
	o.clean_start = 1;
	o.connect_timeout_s = timeout_ms / 1000 > 0 ? timeout_ms / 1000 : 1;
	o.on_state = on_state;
	o.on_subscribed = on_subscribed;
	o.on_published = on_published;
	o.on_message = on_message;
	o.arg = &x;
	if ((bus = gk_bus_new(loop, &o, err, sizeof(err))) == NULL) {
		fprintf(errout, "mqtt %s: %s\n", url, err);
		goto out;
	}
	if (gk_bus_start(bus) == -1 || wait_for(loop, &x.up, deadline) != 1) {
		fprintf(errout, "mqtt %s: not connected%s%s\n", url,
		    x.why[0] != '\0' ? ": " : "", x.why);
		goto out;
	}
	if (x.resp_topic != NULL) {
		if (gk_bus_subscribe(bus, x.resp_topic, 1) == -1 ||
		    wait_for(loop, &x.subscribed, deadline) != 1) {
			fprintf(errout, "mqtt %s: cannot subscribe to %s\n", url,
			    x.resp_topic);
			goto out;
		}
	}
	if (gk_bus_publish(bus, m, NULL) == -1) {
		fprintf(errout, "mqtt %s: publish to %s refused\n", url, m->topic);
		goto out;
	}
	if ((got = wait_for(loop, &x.published, deadline)) != 1) {
		fprintf(errout, "mqtt %s: %s not acknowledged%s%s\n", url, m->topic,
		    got == 0 ? " in time" : "", x.why[0] != '\0' ? ": " : "");
		if (x.why[0] != '\0')
			fprintf(errout, "  %s\n", x.why);
		goto out;
	}
	rc = 0;
	if (x.resp_topic != NULL) {
		while (x.reply == NULL && gk_mono_ms() < deadline)
			gk_loop_once(loop, 50);
		if (x.reply == NULL)
			rc = -2;
		*reply = x.reply;
		x.reply = NULL;
	}
out:
	free(x.reply);
	gk_bus_free(bus);
	while (gk_loop_once(loop, 0) > 0)
		;
	gk_loop_free(loop);
	return rc;
}
