#!/usr/bin/python3
"""Exactly-once tests of the built ledger-writer on the real servers of the CTest
"servers" fixture (issue 4). Three scenarios, chosen by the first argument:

kill        10,000 passages, each with its evidence image(s), plus audit events, a
            few malformed messages and a few passages whose image never comes, are
            produced to Kafka (kcat) while the writer is SIGKILLed at random moments
            (0.3 to 2.0 s after each start) and started again at once.
pg_restart  the same flow while PostgreSQL is restarted twice (ops/servers.sh
            restart postgres); the writer is never killed.
commit_cut  the same flow, the writer talking to PostgreSQL through a TCP proxy
            (commit_cut_proxy.py, plain text) that, at every 2nd to 5th COMMIT of a
            batch that wrote records (seeded), lets the COMMIT through, waits for
            the server's answer and then drops the writer's connection instead of
            passing it on: committed, but the writer cannot know (in doubt). Its
            retry finds the records as duplicates; they must still reach the
            ledger topic. At least 3 such cuts must happen.

Afterwards, read with psql and judged here in Python, independent of the C code:
every event_id exactly once in ledger_index and ledger_record; seq gapless
0..N-1; every leaf_hash equal to SHA-256(0x00 || body) (hashlib); each body's seq
and event_id equal to the row's; every image a passage names stored in `evidence`
with the SHA-256 of its bytes, marked "stored" in the record, except the images
never sent, marked "missing"; the malformed messages kept in ledger_reject, once
each; the last checkpoint's root equal to the RFC 9162 root of the leaves computed
here. And on the run's ecogate.ledger.v1 topic: every committed record
with its committed body (at least once, as docs/ledger.md promises); in commit_cut,
where the writer is never restarted and its producer is idempotent, every seq
exactly once and in seq order.

Each run uses its own site, topics and consumer group. Environment: LEDGER_WRITER,
ECOGATE_PG_CONNINFO, ECOGATE_{MQTT,KAFKA}_PORT, ECOGATE_OPS; optionally
LW_PASSAGES (10000), LW_SEED, LW_KEEP=1 (keep the temp dir).
"""
import base64
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import commit_cut_proxy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from gatetest import FAILURES, check, uuid7  # noqa: E402
import gatetest  # noqa: E402

ENV = os.environ
MODE = sys.argv[1] if len(sys.argv) > 1 else "kill"
WRITER = ENV["LEDGER_WRITER"]
PG = ENV["ECOGATE_PG_CONNINFO"]
OPS = ENV.get("ECOGATE_OPS", "ops")
SRC = ENV.get("ECOGATE_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "..", ".."))
KAFKA = "127.0.0.1:" + ENV["ECOGATE_KAFKA_PORT"]
MQTT = "tcp://127.0.0.1:" + ENV.get("ECOGATE_MQTT_PORT", "1883")
N = int(ENV.get("LW_PASSAGES", "10000"))
SEED = int(ENV.get("LW_SEED", str(int(time.time()))))
NAUDIT = 200
NMISSING = 3
rnd = random.Random(SEED)
RUN = "%d%d" % (os.getpid() % 100000, int(time.time()) % 100000)
SITE = "lw" + RUN
T_PASS, T_AUDIT, T_EV = ("it.lw.%s.%s" % (RUN, t) for t in ("passage", "audit", "evidence"))
GROUP = "it-lw-" + RUN
TMP = tempfile.mkdtemp(prefix="it_lw_")
KEY = os.path.join(TMP, "key.pem")
T_LEDGER = "it.lw.%s.ledger" % RUN
PROXY = None	# commit_cut: the CommitCutProxy the writer talks through


def conninfo(**change):
    """PG's key=value conninfo with some keys changed."""
    kv = dict(x.split("=", 1) for x in PG.split())
    kv.update(change)
    return kv


def psql(sql):
    r = subprocess.run(["psql", PG, "-XAtq", "-F", "\t", "-c", sql], capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise RuntimeError("psql: " + r.stderr)
    return [ln.split("\t") for ln in r.stdout.splitlines() if ln]


def psql_try(sql):
    try:
        return psql(sql)
    except RuntimeError:
        return None


def ts(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + ".%03dZ" % (ms % 1000)


def make_messages():
    """Evidence, passages, audits and malformed messages, as (topic, key, value)."""
    evidence, passages, audits, bad = [], [], [], []
    expect = {}	# event_id -> {"kind", "images": {hex: "stored"/"missing"}}
    t0 = int(time.time() * 1000)
    for i in range(N + NMISSING):
        eid = uuid7(rnd)
        imgs = {}
        for _ in range(1 if i % 5 else 2):
            # An "image": printable bytes, so kcat's line format carries it.
            data = ("%s-%d-%s" % (eid, len(imgs), "".join(rnd.choice("abcdefgh") for _ in range(200))))
            h = hashlib.sha256(data.encode()).hexdigest()
            imgs[h] = "stored" if i < N else "missing"
            if i < N:
                evidence.append((T_EV, h, data))
        msg = {"schema": "ecogate.passage-decision.v1", "event_id": eid, "site": SITE,
               "lane": "in-%d" % (i % 4), "direction": "in", "plate": "沪A%05d" % i,
               "colour": "blue", "result": "allow", "reasons": ["registry.hit"],
               "display": {"lines": ["沪A%05d" % i]}, "policy_version": "p1",
               "vehicle": {"category": ["external", "own_fleet", "nrmm"][i % 3]},
               "registry": {"source": "redis", "age_ms": 5},
               "fused": {"confidence": 0.95, "reads": 1, "read_event_ids": [uuid7(rnd)]},
               "evidence": [{"sha256": h, "role": "plate_frame"} for h in imgs],
               "ts_first_read": ts(t0 + i), "ts_decided": ts(t0 + i + 100)}
        passages.append((T_PASS, SITE, json.dumps(msg, ensure_ascii=False)))
        expect[eid] = {"kind": "passage", "images": imgs}
    for i in range(NAUDIT):
        eid = uuid7(rnd)
        msg = {"schema": "ecogate.audit.v1", "event_id": eid, "ts": ts(t0 + i),
               "site": SITE, "actor": {"kind": "operator", "id": "op.%d" % i},
               "action": "barrier.open", "target": "lane/in-1", "reason": "人工放行 %d" % i}
        audits.append((T_AUDIT, SITE, json.dumps(msg, ensure_ascii=False)))
        expect[eid] = {"kind": "audit", "images": {}}
    bad = [(T_PASS, SITE, "not json at all"),
           (T_PASS, SITE, json.dumps({"schema": "ecogate.passage-decision.v1"})),
           (T_AUDIT, SITE, json.dumps({"schema": "ecogate.audit.v1", "event_id": "x"})),
           (T_EV, "00" * 32, "bytes that do not hash to the key"),
           (T_PASS, SITE, json.dumps({"schema": "ecogate.unknown.v9"}))]
    return evidence, passages, audits, bad, expect


def produce(msgs):
    """One kcat run per topic; key TAB value per line."""
    by = {}
    for t, k, v in msgs:
        by.setdefault(t, []).append("%s\t%s" % (k, v))
    for t, lines in by.items():
        args = ["kcat", "-P", "-b", KAFKA, "-t", t, "-K", "\t", "-z", "lz4"]
        if t == T_EV:
            args += ["-H", "content-type=image/jpeg"]
        subprocess.run(args, input=("\n".join(lines) + "\n").encode(), check=True,
                       timeout=120)


def producer(evidence, passages, audits, bad, done):
    """Interleaves the flow in chunks over a few seconds; images mostly first."""
    chunk = max(1, N // 40)
    for k in range(0, N + NMISSING, chunk):
        ev = evidence[k * len(evidence) // (N + NMISSING):(k + chunk) * len(evidence) // (N + NMISSING)]
        # Now and then a chunk's passages go before their images.
        if rnd.random() < 0.3:
            produce(passages[k:k + chunk])
            produce(ev)
        else:
            produce(ev)
            produce(passages[k:k + chunk])
        a = audits[k * NAUDIT // N:(k + chunk) * NAUDIT // N]
        if a:
            produce(a)
        if k == chunk * 5:
            produce(bad)
        time.sleep(rnd.uniform(0.2, 0.7))
    done.set()


class Writer:
    def __init__(self):
        self.p = None
        self.starts = 0
        self.log = open(os.path.join(TMP, "writer.log"), "ab")

    def start(self):
        env = dict(ENV)
        env.update({"ECOGATE_SITE": SITE, "ECOGATE_KAFKA_BROKERS": KAFKA,
                    "ECOGATE_KAFKA_GROUP": GROUP, "ECOGATE_KAFKA_PASSAGE_TOPIC": T_PASS,
                    "ECOGATE_KAFKA_AUDIT_TOPIC": T_AUDIT,
                    "ECOGATE_KAFKA_EVIDENCE_TOPIC": T_EV,
                    "ECOGATE_KAFKA_LEDGER_TOPIC": T_LEDGER,
                    "ECOGATE_KAFKA_CHECKPOINT_TOPIC": "it.lw.%s.checkpoint" % RUN,
                    "ECOGATE_MQTT_URL": MQTT, "ECOGATE_LEDGER_KEY_FILE": KEY,
                    "ECOGATE_EVIDENCE_WAIT": "15s", "ECOGATE_BATCH_SIZE": "500",
                    "ECOGATE_BATCH_DELAY": "100ms", "ECOGATE_CHECKPOINT_EVERY": "2000",
                    "ECOGATE_INSTANCE": "t" + RUN[-6:],
                    "ASAN_OPTIONS": "detect_leaks=0"})
        if MODE == "pg_restart":
            # A small queue bound, so the outage makes the writer pause fetching
            # (and resume after): backpressure must lose and double nothing.
            env["ECOGATE_QUEUE_MAX"] = "200"
        if PROXY is not None:
            # Through the proxy, in plain text so that it can read the protocol.
            kv = conninfo(host="127.0.0.1", port=str(PROXY.port), sslmode="disable",
                          gssencmode="disable")
            env["ECOGATE_PG_CONNINFO"] = " ".join("%s=%s" % x for x in kv.items())
        self.p = subprocess.Popen([WRITER], env=env, stdout=self.log, stderr=self.log)
        self.starts += 1

    def kill(self):
        if self.p is not None and self.p.poll() is None:
            self.p.send_signal(signal.SIGKILL)
            self.p.wait()

    def stop(self):
        if self.p is not None and self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
                check(False, "writer stopped on SIGTERM within 30 s")


def count():
    r = psql_try("SELECT count(*) FROM ledger_index WHERE site = '%s'" % SITE)
    return int(r[0][0]) if r else -1


def mth(leaves):
    """RFC 9162 Merkle tree hash of a list of leaf hashes (iterative)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = list(leaves)
    # Split as RFC 9162 does: the largest power of two smaller than n on the left.
    def rec(lo, hi):
        if hi - lo == 1:
            return level[lo]
        k = 1
        while k * 2 < hi - lo:
            k *= 2
        return hashlib.sha256(b"\x01" + rec(lo, lo + k) + rec(lo + k, hi)).digest()
    return rec(0, len(level))


def judge(expect, writer):
    rows = psql("SELECT seq, event_id, encode(leaf_hash, 'hex'), body FROM ledger_record "
                "WHERE site = '%s' ORDER BY seq" % SITE)
    idx = psql("SELECT seq, event_id FROM ledger_index WHERE site = '%s' ORDER BY seq" % SITE)
    check(len(rows) == len(expect), "records: %d, expected %d" % (len(rows), len(expect)))
    check(len(idx) == len(rows), "ledger_index %d rows, ledger_record %d" % (len(idx), len(rows)))
    seqs = [int(r[0]) for r in rows]
    check(seqs == list(range(len(rows))), "seq gapless 0..N-1")
    ids = [r[1] for r in rows]
    check(len(set(ids)) == len(ids), "every event_id once (%d distinct of %d)" % (len(set(ids)), len(ids)))
    check(set(ids) == set(expect), "the event_ids are exactly those sent")
    check([r[1] for r in idx] == ids, "ledger_index agrees with ledger_record")
    leaves, bad_leaf, bad_body, missing_ev, wrong_status = [], 0, 0, 0, 0
    stored = {r[0]: r[1] for r in psql(
        "SELECT encode(sha256, 'hex'), encode(sha256(content), 'hex') FROM evidence")}
    for seq, eid, leaf, body in rows:
        h = hashlib.sha256(b"\x00" + body.encode()).hexdigest()
        leaves.append(bytes.fromhex(h))
        bad_leaf += h != leaf
        rec = json.loads(body)
        bad_body += rec["seq"] != int(seq) or rec["event_id"] != eid or rec["site"] != SITE
        want = expect.get(eid, {"images": {}})
        for e in rec.get("evidence", []):
            wrong_status += want["images"].get(e["sha256"]) != e["status"]
            if e["status"] == "stored":
                missing_ev += stored.get(e["sha256"]) != e["sha256"]
    check(bad_leaf == 0, "every leaf_hash = SHA-256(0x00 || body): %d differ" % bad_leaf)
    check(bad_body == 0, "bodies carry their seq, event_id, site: %d differ" % bad_body)
    check(missing_ev == 0, "every stored image is in evidence, hash right: %d not" % missing_ev)
    check(wrong_status == 0, "image statuses as expected: %d wrong" % wrong_status)
    rej = psql("SELECT count(*), count(DISTINCT (topic, partition, \"offset\")) FROM "
               "ledger_reject WHERE topic LIKE 'it.lw.%s.%%'" % RUN)
    check(rej[0] == ["5", "5"], "5 malformed messages kept once each: %s" % rej[0])
    cp = psql("SELECT tree_size, encode(root_hash, 'hex') FROM ledger_checkpoint WHERE "
              "site = '%s' ORDER BY tree_size DESC LIMIT 1" % SITE)
    check(len(cp) == 1 and int(cp[0][0]) == len(rows), "final checkpoint at the full size")
    if cp:
        n = int(cp[0][0])
        check(mth(leaves[:n]).hex() == cp[0][1], "checkpoint root = RFC 9162 root of the leaves")
    print("records %d, writer starts %d, evidence rows checked %d" %
          (len(rows), writer.starts, len(stored)))
    outputs({int(r[0]): r[3] for r in rows}, cp[0] if cp else None)


def ledger_topic():
    """The run's ledger topic as it stands, in offset order: [(seq, value)]."""
    r = subprocess.run(["kcat", "-C", "-b", KAFKA, "-t", T_LEDGER, "-e", "-q", "-f",
                        "%s\n"], capture_output=True, text=True, timeout=120)
    return [(json.loads(line)["seq"], line) for line in r.stdout.splitlines()]


def outputs(bodies, cp):
    """What the writer told the world after its commits: every record on the
    analytics topic with its committed body (duplicates allowed: at least once), and
    the newest checkpoint on Kafka and retained on MQTT, schema-valid and equal to the
    table's."""
    on_topic = ledger_topic()
    seen, wrong = set(), 0
    for seq, line in on_topic:
        seen.add(seq)
        wrong += bodies.get(seq) != line
    check(seen == set(bodies), "ecogate.ledger.v1 carries every committed record "
          "(%d of %d)" % (len(seen & set(bodies)), len(bodies)))
    check(wrong == 0, "ecogate.ledger.v1 values are the committed bodies: %d differ" % wrong)
    if MODE == "commit_cut":
        # One writer run, never restarted, with an idempotent producer: nothing
        # may produce a seq twice or out of turn, in-doubt batches included (their
        # records go out from the table before the next batch's).
        seqs = [seq for seq, _ in on_topic]
        dup = len(seqs) - len(set(seqs))
        check(dup == 0, "ecogate.ledger.v1 carries each seq once: %d extra" % dup)
        check(seqs == sorted(seqs), "ecogate.ledger.v1 in seq order (first out of "
              "order at offset %s)" % next((i for i in range(1, len(seqs))
                                            if seqs[i] < seqs[i - 1]), None))
    v = gatetest.validator(SRC, "checkpoint.v1")
    r = subprocess.run(["kcat", "-C", "-b", KAFKA, "-t", "it.lw.%s.checkpoint" % RUN,
                        "-e", "-q", "-f", "%s\n"], capture_output=True, text=True,
                       timeout=60)
    cps = [json.loads(x) for x in r.stdout.splitlines()]
    check(bool(cps) and all(not list(v.iter_errors(c)) for c in cps),
          "checkpoints on Kafka schema-valid (%d)" % len(cps))
    newest = max(cps, key=lambda c: c["tree_size"]) if cps else None
    check(cp is not None and newest is not None and
          newest["tree_size"] == int(cp[0]) and
          base64.b64decode(newest["root_hash"]).hex() == cp[1],
          "newest Kafka checkpoint = the table's newest")
    r = subprocess.run(["mosquitto_sub", "-p", MQTT.rsplit(":", 1)[1], "-t",
                        "ecogate/v1/%s/checkpoint" % SITE, "-C", "1", "-W", "10"],
                       capture_output=True, text=True)
    m = json.loads(r.stdout) if r.stdout.strip() else None
    check(m is not None and not list(v.iter_errors(m)) and newest is not None and
          m["tree_size"] == newest["tree_size"],
          "retained MQTT checkpoint schema-valid and the newest")


def main():
    t_start = time.time()
    print("seed %d site %s" % (SEED, SITE))
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", KEY],
                   check=True, capture_output=True)
    for t, n in ((T_PASS, 3), (T_AUDIT, 1), (T_EV, 3), (T_LEDGER, 1),
                 ("it.lw.%s.checkpoint" % RUN, 1)):
        subprocess.run([os.path.join(OPS, "servers.sh"), "kafka-topic", t, str(n)],
                       check=True, capture_output=True)
    evidence, passages, audits, bad, expect = make_messages()
    global PROXY
    if MODE == "commit_cut":
        kv = conninfo()
        cut_rnd = random.Random(SEED + 1)	# the proxy's threads, not rnd's order
        nxt = [cut_rnd.randint(2, 5)]

        def decide(n):
            """Cuts the n-th candidate COMMIT when its turn has come."""
            if n < nxt[0]:
                return False
            nxt[0] = n + cut_rnd.randint(2, 5)
            return True
        PROXY = commit_cut_proxy.CommitCutProxy(
            (kv.get("host", "127.0.0.1"), int(kv.get("port", "5432"))), decide)
    w = Writer()
    w.start()
    done = threading.Event()
    th = threading.Thread(target=producer, args=(evidence, passages, audits, bad, done))
    th.start()
    kills = restarts = 0
    try:
        if MODE == "kill":
            while not done.is_set() or kills < 20:
                time.sleep(rnd.uniform(0.3, 2.0))
                w.kill()
                kills += 1
                w.start()
        elif MODE == "pg_restart":
            for _ in range(2):
                time.sleep(rnd.uniform(2.0, 4.0))
                subprocess.run([os.path.join(OPS, "servers.sh"), "restart", "postgres"],
                               check=True, capture_output=True, timeout=120)
                restarts += 1
            # And once while a backlog waits, if the flow is still going.
        th.join()
        want = len(expect)
        deadline = time.time() + 120
        while time.time() < deadline and count() < want:
            time.sleep(0.5)
        # The last passages' missing images: their wait ends, then one more batch.
        time.sleep(1.0)
        if PROXY is not None:
            # No cut at shutdown (that one only the next start could make good);
            # the writer must hand over the last in-doubt batch without a restart.
            PROXY.enabled = False
            deadline = time.time() + 60
            while (time.time() < deadline and
                   len({s for s, _ in ledger_topic()}) < count()):
                time.sleep(2.0)
        w.stop()
        judge(expect, w)
        if MODE == "pg_restart":
            with open(os.path.join(TMP, "writer.log"), encoding="utf-8",
                      errors="replace") as f:
                bp = [json.loads(x).get("action") for x in f
                      if '"ledger.backpressure"' in x]
            check("pause" in bp and "resume" in bp,
                  "queue bound reached during the outage: fetching paused and "
                  "resumed (%s)" % bp[:6])
        if PROXY is not None:
            check(PROXY.cuts >= 3, "COMMITs cut in doubt: %d (of %d candidates), "
                  "at least 3" % (PROXY.cuts, PROXY.candidates))
            print("writer logged %d in-doubt catch-ups (ledger.republished "
                  "reason=commit_in_doubt)" % sum(
                      1 for e in gatetest.log_events(os.path.join(TMP, "writer.log"),
                                                     "ledger.republished")
                      if e.get("reason") == "commit_in_doubt"))
        print("mode %s: kills %d, postgres restarts %d, commit cuts %d, %.1f s" %
              (MODE, kills, restarts, PROXY.cuts if PROXY else 0,
               time.time() - t_start))
    finally:
        w.kill()
        th.join()
        if PROXY is not None:
            PROXY.close()
        if ENV.get("LW_KEEP") != "1":
            shutil.rmtree(TMP, ignore_errors=True)
        else:
            print("kept", TMP)


if __name__ == "__main__":
    main()
    if FAILURES:
        print("%d failed" % len(FAILURES))
        sys.exit(1)
    print("all passed")
