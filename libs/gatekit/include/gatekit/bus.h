/*
 * The MQTT 5 bus every edge daemon talks through: frames, plate reads, decisions and
 * status go over mosquitto. This header hides the client library (Eclipse Paho MQTT C,
 * async API) behind an opaque handle so a daemon sees only our own types, and every
 * callback it registers runs on its own loop thread.
 *
 *	struct gk_bus_opts o = { .url = "tcp://127.0.0.1:1883", .client_id = "verifier-1",
 *	    .status_topic = "ecogate/v1/site1/status/verifier/1",
 *	    .on_message = on_msg, .on_state = on_state, .arg = &v };
 *	struct gk_bus *b = gk_bus_new(loop, &o, err, sizeof(err));
 *	gk_bus_subscribe(b, "ecogate/v1/site1/lane/+/plate", 1);
 *	gk_bus_start(b);
 *
 * Delivery: QoS 1 with a persistent session (clean start off, a session expiry) so
 * messages published while a subscriber is away wait for it at the broker. The
 * adapter reconnects by itself with capped exponential backoff and jitter (the
 * backoff starts again from retry_min_ms only after a connection that stayed up for
 * max(retry_max_ms, 10 s), so a broker that drops us right after each connect is not
 * hammered), re-makes
 * the subscriptions the broker no longer holds, publishes a retained "online" status
 * on every connect and leaves a retained "offline" last will.
 */
#ifndef GATEKIT_BUS_H
#define GATEKIT_BUS_H

#include <stddef.h>
#include <stdint.h>

struct gk_bus;
struct gk_loop;

#define GK_BUS_MAX_PAYLOAD	(4 * 1024 * 1024)	/* default: frames are JPEGs */
#define GK_BUS_CLIENT_ID_LEN	65	/* longest client id and the NUL */

/* One MQTT 5 user property. */
struct gk_bus_prop {
	const char	*key;
	const char	*value;
};

/*
 * A message, both ways. For gk_bus_publish() everything is borrowed from the caller for
 * the duration of the call. For on_message() everything is borrowed from the adapter
 * for the duration of the callback: copy what you keep. Incoming payloads are followed
 * by a NUL byte (not counted in len) so a text payload can be read as a string.
 */
struct gk_bus_msg {
	const char	*topic;
	const void	*payload;
	size_t		 len;
	int		 qos;		/* 0, 1 or 2 */
	int		 retain;
	int		 dup;		/* incoming only: a redelivery */
	uint32_t	 expiry_s;	/* message expiry interval; 0: none. Incoming: what
					 * the broker says is left of it */
	const char	*response_topic;	/* NULL: none */
	const void	*correlation;		/* NULL: none */
	size_t		 correlation_len;
	const char	*content_type;		/* NULL: none */
	const struct gk_bus_prop *props;	/* user properties, in order */
	size_t		 nprops;
	int64_t		 recv_ms;	/* incoming: gk_mono_ms() when Paho handed it over */
	uint64_t	 tag;		/* incoming: what on_receive set; 0 otherwise */
};

/*
 * Settings for gk_bus_new(). Zero means the default named on each field. Strings are
 * copied. Callbacks run on the loop thread; any may be NULL.
 */
struct gk_bus_opts {
	const char	*url;		/* tcp://host:port, or ssl://host:port for TLS */
	const char	*client_id;	/* [A-Za-z0-9._:-], 1..64 characters */
	const char	*username;	/* NULL: none */
	const char	*password;	/* NULL: none */
	const char	*ca_file;	/* TLS: PEM trust store; NULL: system default */
	const char	*cert_file;	/* TLS client certificate (PEM), optional */
	const char	*key_file;	/* TLS client key (PEM), optional */
	/*
	 * Directory where Paho keeps its QoS 1 in-flight and buffered messages so they
	 * survive a restart of the daemon (created if missing). NULL: memory only.
	 */
	const char	*persist_dir;
	/*
	 * Retained status topic, ending in status/{service}/{instance} (DESIGN §3);
	 * NULL: no status, no will. The payloads are device-status.v1 messages
	 * (schemas/device-status.v1.schema.json) for that service and instance:
	 * "online" with version and uptime on every connect; the last will, "offline"
	 * with "reason":"connection_lost" and the connect time, left by the broker when
	 * the connection dies; "offline" with "reason":"shutdown" from gk_bus_free().
	 */
	const char	*status_topic;
	/* Online payload replacing the built-in one (e.g. a daemon's own health
	 * report); NULL: the built-in device-status.v1 "online". */
	const char	*status_online;
	/* Software version in the status, 1..64 of [A-Za-z0-9.+_~-]; NULL: "unknown". */
	const char	*version;
	int		 clean_start;	/* 1: new session each connect, ending at
					 * disconnect (session_expiry_s ignored) */
	uint32_t	 session_expiry_s;	/* 0: 7 days */
	int		 keepalive_s;		/* 0: 30 */
	int		 connect_timeout_s;	/* 0: 10 */
	int		 retry_min_ms;		/* 0: 500; first reconnect delay */
	int		 retry_max_ms;		/* 0: 30000; backoff cap */
	int		 max_buffered;		/* 0: 1000 publishes queued in Paho */
	size_t		 max_payload;		/* 0: GK_BUS_MAX_PAYLOAD */

	/* A message arrived on a subscription. */
	void	(*on_message)(void *arg, const struct gk_bus_msg *m);
	/*
	 * Optional, and the one callback that runs on Paho's thread, not the loop's:
	 * called for each incoming message before Paho acknowledges it (a QoS 1 PUBACK
	 * goes out when this returns) and before on_message is queued. For a daemon
	 * that must make a message durable before the broker forgets it (the verifier
	 * journals plate reads). It must be thread-safe and quick (a write(2), not a
	 * network call) and may set m->tag, which on_message then sees. Returns 0 to
	 * pass the message on to on_message, 1 to acknowledge it without passing it on
	 * (the callee consumed it, e.g. as a duplicate), -1 to leave it with Paho
	 * unacknowledged, which offers it again later.
	 */
	int	(*on_receive)(void *arg, struct gk_bus_msg *m);
	/* The connection came up (connected 1) or went down (0); why says how. */
	void	(*on_state)(void *arg, int connected, const char *why);
	/*
	 * A publish accepted by gk_bus_publish() finished: ok 1 when the broker
	 * acknowledged it (QoS 1/2) or it was written (QoS 0); ok 0 with why when it
	 * failed or the bus was freed first. Called exactly once per accepted publish.
	 */
	void	(*on_published)(void *arg, void *opaque, int ok, const char *why);
	/* The broker granted (ok 1) or refused (0) a subscription. */
	void	(*on_subscribed)(void *arg, const char *filter, int ok);
	void	*arg;
};

/*
 * Makes a bus on loop l; it does not connect until gk_bus_start(). Fails only on local
 * errors (bad options, no memory, unusable persistence directory), logging why and
 * writing it into err (which may be NULL). Returns the bus, owned by the caller
 * (gk_bus_free()), or NULL.
 */
struct gk_bus	*gk_bus_new(struct gk_loop *l, const struct gk_bus_opts *o,
		    char *err, size_t errlen);

/*
 * Starts connecting; a broker that is away is retried on the loop for ever and is
 * reported through on_state, never as an error here. Returns 0, or -1 when already
 * started or closing.
 */
int	gk_bus_start(struct gk_bus *b);

/*
 * Subscribes to filter with qos. The subscription is remembered and made again after
 * a reconnect whenever the broker no longer holds it. Allowed before gk_bus_start().
 * Subscribing to a filter again changes its qos. Returns 0, or -1 with errno EINVAL
 * (invalid filter or qos), ENOMEM, or ESHUTDOWN (the bus is closing).
 */
int	gk_bus_subscribe(struct gk_bus *b, const char *filter, int qos);

/*
 * Publishes m (all borrowed; copied before return). While disconnected the message is
 * buffered, up to opts.max_buffered messages, and sent after the next connect.
 * Returns 0 when accepted: on_published(arg, opaque, ...) will follow exactly once.
 * Returns -1, with no callback, when rejected: errno EINVAL (topic with wildcards or
 * empty, bad qos, over-long property), EMSGSIZE (payload over opts.max_payload),
 * ENOBUFS (the buffer is full), ENOMEM, ESHUTDOWN (the bus is closing) or EIO (Paho
 * refused).
 */
int	gk_bus_publish(struct gk_bus *b, const struct gk_bus_msg *m, void *opaque);

/* Returns 1 when the bus is connected to the broker (as last seen by the loop), else 0. */
int	gk_bus_connected(const struct gk_bus *b);

/*
 * Publishes the shutdown status, disconnects cleanly (bounded: a few seconds at most),
 * reports every publish still unfinished through on_published(..., 0, "bus closed"),
 * and frees the bus. NULL-safe. No callback runs after it returns. Call on the loop
 * thread; calling it from inside one of the bus's own callbacks is allowed.
 */
void	gk_bus_free(struct gk_bus *b);

/*
 * Builds a topic into buf (size len) from fmt, which may hold only %s, %d, %u and %%.
 * Each substituted string must be one non-empty topic level: a '/', '+', '#' or
 * control character in it is rejected, so a lane named "a/b" or "+" cannot reach
 * another topic. The result must be a valid topic name (no wildcards). Returns 0, or
 * -1 (errno EINVAL for bad input, ENAMETOOLONG when it does not fit).
 */
int	gk_bus_topic(char *buf, size_t len, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* Returns 1 when topic is a valid topic name to publish to (non-empty, no wildcards). */
int	gk_bus_topic_valid(const char *topic);

/* Returns 1 when filter is a valid subscription filter ('+' and '#' whole levels,
 * '#' last). */
int	gk_bus_filter_valid(const char *filter);

/*
 * MQTT wildcard matching: returns 1 when topic matches filter, else 0 (also for an
 * invalid filter or topic). "+" matches one level, a trailing "#" the parent and any
 * levels below, and a wildcard at the start never matches a topic beginning with '$'.
 */
int	gk_bus_topic_match(const char *filter, const char *topic);

/*
 * The delay before reconnect attempt number attempt (0 for the first): min_ms doubled
 * per attempt, capped at max_ms, then "equal jitter" from rnd: a value in [d/2, d].
 * Pure, for tests.
 */
int64_t	gk_bus_backoff_ms(unsigned attempt, int64_t min_ms, int64_t max_ms, uint32_t rnd);

#endif
