/*
 * stream: Kafka for ecogate daemons, over librdkafka, without letting a librdkafka type
 * into a daemon. A handle is either a producer (idempotent, acks=all: the verifier's
 * outbox and the ledger-writer publish through it) or a group consumer that never
 * commits on its own (the ledger-writer stores an offset only after PostgreSQL has
 * committed the record). librdkafka works on its own threads; this adapter wakes the
 * daemon's loop through a descriptor (rd_kafka_queue_io_event_enable) and runs every
 * callback below on the loop thread, inside gk_loop_once(), so daemon state needs no
 * locks. A callback must not close or free the handle that called it.
 *
 *	struct gk_stream_opts o = { .brokers = "127.0.0.1:9092",
 *	    .on_delivery = on_delivery, .arg = &d };
 *	struct gk_stream *p = gk_stream_producer_new(loop, &o, err, sizeof(err));
 *	gk_stream_produce(p, "ecogate.passage.v1", site, strlen(site), json, len,
 *	    NULL, 0, rec);
 *	...	on_delivery(&d, dr) runs later on the loop thread, once per message
 *	gk_stream_close(p, 5000);
 *	gk_stream_free(p);
 */
#ifndef GATEKIT_STREAM_H
#define GATEKIT_STREAM_H

#include <stddef.h>
#include <stdint.h>

struct gk_loop;
struct gk_stream;

/* A record header. value may be NULL (a null header, len 0); names are NUL-terminated. */
struct gk_stream_header {
	const char	*name;
	const void	*value;
	size_t		 len;
};

/* Whether a message that failed may nevertheless have reached the broker. */
enum gk_stream_persisted {
	GK_STREAM_NOT_PERSISTED = 0,	/* never written: safe to send again */
	GK_STREAM_POSSIBLY_PERSISTED,	/* may be in the log: a resend may duplicate */
	GK_STREAM_PERSISTED,		/* acknowledged by all in-sync replicas */
};

/*
 * The outcome of one produced message. Every message accepted by gk_stream_produce()
 * gets exactly one report, also when the handle is closed before the broker answered
 * (err != 0, "purged"), so a caller may free what msg_opaque points to in the report.
 * Pointers are borrowed for the duration of the callback.
 */
struct gk_stream_delivery {
	const char	*topic;
	int		 partition;	/* -1 when never assigned */
	int64_t		 offset;	/* -1 unless delivered */
	int		 err;		/* 0: delivered; else a librdkafka error code */
	const char	*errstr;	/* "Success" or what went wrong */
	enum gk_stream_persisted persisted;
	void		*msg_opaque;	/* as passed to gk_stream_produce() */
};

/*
 * One consumed record. Every pointer (topic, key, value, hdrs and what they point to)
 * is borrowed from librdkafka for the duration of the on_message callback only: copy
 * what must outlive it. key is NULL for a record without a key, value NULL for a
 * tombstone.
 */
struct gk_stream_message {
	const char	*topic;
	int		 partition;
	int64_t		 offset;
	const void	*key;
	size_t		 keylen;
	const void	*value;
	size_t		 vallen;
	const struct gk_stream_header *hdrs;
	size_t		 nhdrs;
	int64_t		 timestamp_ms;	/* ms since the epoch, -1 when the record has none */
};

typedef void gk_stream_delivery_cb(void *arg, const struct gk_stream_delivery *d);
typedef void gk_stream_message_cb(void *arg, const struct gk_stream_message *m);
/*
 * An error librdkafka reported. fatal is 1 for rd_kafka_fatal_error() (e.g. the
 * idempotent producer lost its guarantees): the handle is unusable and the daemon
 * should exit (EX_SOFTWARE) and let its supervisor restart it. It is reported once;
 * from then on a producer fails what it still holds (each message still gets its one
 * report) and refuses new messages, and a consumer hands over no more records, so no
 * offset can be stored past one it could not deliver. Non-fatal errors
 * (broker down, transport) are normal weather; librdkafka retries them itself.
 */
typedef void gk_stream_error_cb(void *arg, int fatal, const char *reason);

struct gk_stream_opts {
	const char	*brokers;	/* "host:port,host:port"; required */
	const char	*client_id;	/* NULL: "ecogate" */
	/*
	 * Extra librdkafka properties as "key=value" strings, NULL-terminated, applied
	 * after gatekit's defaults (so they override them), e.g. "debug=broker". The keys
	 * that carry the delivery guarantees (enable.idempotence, acks,
	 * enable.auto.commit, enable.auto.offset.store) are refused.
	 */
	const char *const *config;

	/* Producer. */
	gk_stream_delivery_cb *on_delivery;	/* may be NULL */
	/*
	 * How long librdkafka keeps retrying one message before reporting it failed; 0
	 * means 300000 (5 min). Within that time, retries are free of duplicates
	 * (idempotent producer), and a broker restart or leader election goes unnoticed.
	 * A longer outage ends in failed reports (_MSG_TIMED_OUT): the caller's durable
	 * outbox keeps the record and produces it again later. Such a resend may duplicate
	 * a POSSIBLY_PERSISTED message, which consumers absorb by event_id. Keeping the
	 * timeout bounded keeps the backlog in the outbox, on disk, rather than in
	 * librdkafka's memory.
	 */
	int		 message_timeout_ms;

	/* Consumer. */
	const char	*group_id;		/* required for a consumer */
	const char *const *topics;		/* NULL-terminated; required */
	gk_stream_message_cb *on_message;	/* required for a consumer */
	/*
	 * May be NULL. Asked, on the loop thread, for each partition as it is assigned:
	 * the offset to start reading it at (the caller's own record of where it
	 * stands, e.g. the ledger-writer's ledger_offset table, written in the same
	 * transaction as its data), or -1 to start at the group's committed offset
	 * (auto.offset.reset when none). A consumer whose truth is outside Kafka uses
	 * it so that a commit to Kafka lost in a crash costs nothing.
	 */
	int64_t	(*start_offset)(void *arg, const char *topic, int partition);

	gk_stream_error_cb *on_error;		/* may be NULL; errors are logged anyway */
	void		*arg;			/* passed to every callback */
};

/*
 * Creates an idempotent producer (enable.idempotence=true, acks=all, at most 5
 * requests in flight, linger.ms=5, the murmur2 partitioner Java clients use so a key
 * lands on the same partition whoever produces it) served by loop. Connecting happens
 * in the background: an unreachable broker is not an error here. Returns the handle,
 * or NULL with the reason in err (bad or unknown config property, no descriptor).
 * Free with gk_stream_free(); the loop must outlive the handle.
 */
struct gk_stream *gk_stream_producer_new(struct gk_loop *loop,
	    const struct gk_stream_opts *opts, char *err, size_t errlen);

/*
 * Queues one message for topic; key, value and headers are copied, so the caller may
 * free them at once. msg_opaque is handed back in the delivery report. Returns 0, or
 * -1 (logged as stream.produce_failed) with errno ENOBUFS when librdkafka's queue is
 * full (serve the loop and retry), EMSGSIZE when the message is too large, EINVAL
 * otherwise; no report follows a -1.
 */
int	gk_stream_produce(struct gk_stream *s, const char *topic, const void *key,
	    size_t keylen, const void *val, size_t vallen,
	    const struct gk_stream_header *hdrs, size_t nhdrs, void *msg_opaque);

/*
 * Waits up to timeout_ms for every queued message to be reported, running delivery
 * callbacks on the calling (loop) thread. Returns 0, or -1 when messages remain.
 */
int	gk_stream_flush(struct gk_stream *s, int timeout_ms);

/* Returns the number of messages and requests librdkafka still holds for a producer. */
int	gk_stream_pending(struct gk_stream *s);

/*
 * Creates a group consumer of opts->topics in group opts->group_id, served by loop:
 * opts->on_message runs on the loop thread for each record. Offsets are never
 * committed behind the caller's back (enable.auto.commit=false,
 * enable.auto.offset.store=false): the caller stores what it has finished with and
 * commits. A group without committed offsets starts at the earliest record
 * (auto.offset.reset=earliest). Rebalancing is cooperative (cooperative-sticky);
 * assignments and revocations are logged (stream.assign, stream.revoke) and stored
 * offsets are committed before a partition is given up. Returns the handle, or NULL
 * with the reason in err.
 */
struct gk_stream *gk_stream_consumer_new(struct gk_loop *loop,
	    const struct gk_stream_opts *opts, char *err, size_t errlen);

/*
 * Records that the caller has finished with the message at offset (the offset it was
 * given in on_message, not offset + 1): the next commit makes the group resume at
 * offset + 1. Returns 0, or -1 (logged) when the partition is not assigned to this
 * consumer any more (after a rebalance; the new owner will see the message again).
 */
int	gk_stream_store(struct gk_stream *s, const char *topic, int partition,
	    int64_t offset);

/*
 * Commits the stored offsets: when sync is 1, waits for the broker (at most 10 s, on
 * the loop thread) and returns -1 if the commit failed or timed out; else returns at
 * once and logs a failure later (stream.commit_failed). Nothing stored since the last
 * commit is not an error. Returns 0 or -1.
 */
int	gk_stream_commit(struct gk_stream *s, int sync);

/*
 * Stops (pause 1) or restarts (pause 0) fetching on every partition assigned now, so
 * a consumer whose own queue is full (its database away) stops growing it; nothing
 * is skipped: fetching resumes at the next message not yet handed over. Partitions
 * assigned later start unpaused: call again after on_message if still full.
 * Returns 0 or -1 (logged).
 */
int	gk_stream_pause(struct gk_stream *s, int pause);

/*
 * Stops a handle: a producer flushes, then reports whatever is still queued as purged
 * (delivery callbacks run inside this call); a consumer commits its stored offsets
 * and leaves its group, dropping records fetched but not yet handed over (their
 * offsets were not stored, so the group's next owner reads them). Takes timeout_ms,
 * plus at most 2 s for librdkafka's own teardown, which is abandoned past that (seen
 * with librdkafka 2.0.2 when the group coordinator vanished during a commit). No
 * callback runs after it returns; calling it again does nothing. Returns 0, or -1 when
 * it could not finish cleanly in time (messages purged, offsets not committed, group
 * not left, teardown abandoned). Called by gk_stream_free() when not done before.
 */
int	gk_stream_close(struct gk_stream *s, int timeout_ms);

/* Returns 1 after librdkafka raised a fatal error on this handle, else 0. */
int	gk_stream_fatal(const struct gk_stream *s);

/* Closes (10 s bound) when needed and frees the handle. NULL-safe. */
void	gk_stream_free(struct gk_stream *s);

/*
 * Creates topic with partitions partitions (<= 0: the broker's default) and the
 * broker's default replication, log-compacted when compact is 1, through the Admin
 * API, waiting at most timeout_ms. A topic that already exists is success. For tests
 * and tools; daemons expect their topics to exist. Returns 0, or -1 with the reason
 * in err.
 */
int	gk_stream_create_topic(const char *brokers, const char *topic, int partitions,
	    int compact, int timeout_ms, char *err, size_t errlen);

#endif
