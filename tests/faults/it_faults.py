#!/usr/bin/python3
"""Fault tests of the built verifier on the real servers of the CTest "servers"
fixture (issue 3, "Faults"). Two scenarios, chosen by the first argument:

kill   2,000 passages' plate reads (three reads each, eight lanes, QoS 1) are
       published while the verifier is killed with SIGKILL at random moments (a
       random 0.3 to 2.0 s after each start, until the publishing is over) and
       started again at once. Afterwards every passage must be on Kafka
       ecogate.passage.v1 exactly once by event_id.

kafka  The Kafka broker is stopped (ops/servers.sh stop kafka), 400 passages' reads
       are published, and every decision must still arrive on MQTT within its
       deadline (the gate keeps deciding). The verifier is then restarted, Kafka
       still down, so the backlog survives only in the outbox; then Kafka is
       started again and the backlog must drain: every passage on Kafka exactly
       once by event_id.

"Exactly once by event_id": the ledger downstream dedupes on event_id, so the same
event_id delivered twice (a resend after a crash between Kafka's acknowledgement and
the outbox's done mark) is one ledger record and is allowed (and counted); what must
hold is that the distinct event_ids on Kafka are exactly the passages the harness
sent, one each, none missing, none extra. A passage is identified by its plate,
unique per passage in a run, and its lane; each passage's reads carry their own
trigger_id, so the verifier cannot merge two vehicles of one lane.

The reads of a passage: the first two at confidence 0.95 for half the passages (the
window closes early, on agreement, and the third read is suppressed by the hold as
the same vehicle still standing there), at 0.8 for the other half (the window
closes at its deadline or on the next vehicle's trigger). The third read of an
early-closed passage is what a crash must not turn into a second passage.

Every wait has a deadline. Each run uses its own site id, so runs and other tests on
the same servers do not see each other (the Kafka records are told apart by key).

Environment: VERIFIER, ECOGATE_{MQTT,REDIS,KAFKA}_PORT, ECOGATE_OPS, and optionally
FAULTS_PASSAGES, FAULTS_SEED, FAULTS_KEEP=1 (keep the temp dir).
"""
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

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from gatetest import FAILURES as failures, check, log_events, uuid7, wait_for  # noqa: E402

ENV = os.environ
MQTT = ENV["ECOGATE_MQTT_PORT"]
REDIS = ENV["ECOGATE_REDIS_PORT"]
KAFKA = "127.0.0.1:" + ENV["ECOGATE_KAFKA_PORT"]
OPS = ENV["ECOGATE_OPS"]
VERIFIER = ENV["VERIFIER"]
TOPIC = "ecogate.passage.v1"
LANES = ["in-%d" % i for i in range(1, 9)]
LETTERS = "ABCDEFGH"

def log(msg):
    print("     " + msg, flush=True)


def read_doc(rnd, site, lane, plate, conf, trigger):
    return {"schema": "ecogate.plate-read.v1", "event_id": uuid7(rnd),
            "site": site, "lane": lane,
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "plate": plate, "colour": "blue", "confidence": conf, "source": "lpr",
            "trigger_id": trigger}


ALL_PUBS = []


class Publishers:
    """One mosquitto_pub -l per lane: each line written is one QoS 1 message."""

    def __init__(self, base):
        ALL_PUBS.append(self)
        self.procs = {}
        for lane in LANES:
            self.procs[lane] = subprocess.Popen(
                ["mosquitto_pub", "-p", MQTT, "-V", "mqttv5", "-q", "1", "-l",
                 "-i", "faults-pub-%s-%d" % (lane, os.getpid()),
                 "-t", base + "lane/%s/plate" % lane],
                stdin=subprocess.PIPE, text=True, encoding="utf-8")

    def send(self, lane, doc):
        p = self.procs[lane].stdin
        p.write(json.dumps(doc, ensure_ascii=False) + "\n")
        p.flush()

    def close(self):
        ok = True
        for p in self.procs.values():
            p.stdin.close()
        for p in self.procs.values():
            try:
                ok = p.wait(timeout=60) == 0 and ok
            except subprocess.TimeoutExpired:
                p.kill()
                ok = False
        return ok


def plan(rnd, site, n):
    """The passages: (lane, plate, [reads]) in publishing order, round robin."""
    out = []
    for k in range(n):
        li = k % len(LANES)
        lane = LANES[li]
        seq = k // len(LANES)
        plate = "沪%s%05d" % (LETTERS[li], seq)
        conf = 0.95 if k % 2 == 0 else 0.8
        trig = "t-%s-%d" % (lane, seq)
        reads = [read_doc(rnd, site, lane, plate, conf, trig) for _ in range(3)]
        out.append((lane, plate, reads))
    return out


def publish(pubs, passages, per_read_s):
    """Publishes the reads lane-interleaved: read i of passage k after read i-1."""
    # Reads of one passage go out spaced; eight lanes run side by side.
    for k in range(0, len(passages), len(LANES)):
        group = passages[k:k + len(LANES)]
        for i in range(3):
            for lane, _, reads in group:
                pubs.send(lane, reads[i])
            time.sleep(per_read_s)


def kafka_passages(site):
    r = subprocess.run(["kcat", "-C", "-b", KAFKA, "-t", TOPIC, "-o", "beginning",
                        "-e", "-q", "-f", "%k\t%s\n"],
                       capture_output=True, text=True, timeout=120)
    out = []
    for line in r.stdout.splitlines():
        key, _, val = line.partition("\t")
        if key == site:
            out.append(json.loads(val))
    return out


def judge(site, passages, deadline_s):
    """Waits until every passage is on Kafka, then checks exactly once by event_id."""
    want = {plate: lane for lane, plate, _ in passages}
    end = time.monotonic() + deadline_s
    got = []
    while time.monotonic() < end:
        got = kafka_passages(site)
        if {j["plate"] for j in got} >= set(want):
            break
        time.sleep(2)
    ids_by_plate = {}
    docs = 0
    for j in got:
        docs += 1
        ids_by_plate.setdefault(j["plate"], set()).add(j["event_id"])
    ids = {j["event_id"] for j in got}
    missing = sorted(set(want) - set(ids_by_plate))
    extra = sorted(set(ids_by_plate) - set(want))
    twice = {p: sorted(s) for p, s in ids_by_plate.items() if len(s) > 1}
    wrong_lane = sorted(j["plate"] for j in got if want.get(j["plate"], j["lane"])
                        != j["lane"])
    log("kafka: %d records, %d distinct event_ids, %d passages sent, %d resent "
        "records" % (docs, len(ids), len(want), docs - len(ids)))
    check(not missing, "every passage on Kafka (%d missing: %s)" % (
        len(missing), missing[:10]))
    check(not twice, "no passage under two event_ids (%d: %s)" % (
        len(twice), list(twice.items())[:5]))
    check(not extra, "no passage the harness did not send (%d: %s)" % (
        len(extra), extra[:10]))
    check(not wrong_lane, "every passage on its lane (%s)" % wrong_lane[:10])
    check(len(ids) == len(want), "distinct event_ids == passages (%d == %d)" % (
        len(ids), len(want)))
    return got


def venv_for(site, tmp):
    venv = dict(ENV)
    venv.update({"ECOGATE_SITE": site, "ECOGATE_INSTANCE": "faults",
                 "ECOGATE_MQTT_URL": "tcp://127.0.0.1:" + MQTT,
                 "ECOGATE_KAFKA_BROKERS": KAFKA,
                 "ECOGATE_REDIS_HOST": "127.0.0.1", "ECOGATE_REDIS_PORT": REDIS,
                 "ECOGATE_OUTBOX_DIR": os.path.join(tmp, "outbox"),
                 "ECOGATE_SNAPSHOT_PATH": os.path.join(tmp, "registry.jsonl"),
                 "ECOGATE_REGISTRY_CONSUME": "no",
                 "ECOGATE_OUTBOX_RETRY": "1s", "ECOGATE_LOG_LEVEL": "info"})
    return venv


def start(venv, logpath):
    f = open(logpath, "a", encoding="utf-8")
    return subprocess.Popen([VERIFIER], env=venv, stdout=f, stderr=subprocess.STDOUT)


def online(base):
    r = subprocess.run(["mosquitto_sub", "-p", MQTT, "-t", base + "status/verifier/faults",
                        "-C", "1", "-W", "2"], capture_output=True, text=True)
    return '"online"' in r.stdout


def stop(v):
    v.send_signal(signal.SIGTERM)
    try:
        rc = v.wait(timeout=30)
    except subprocess.TimeoutExpired:
        v.kill()
        rc = None
    check(rc == 0, "verifier exits 0 on SIGTERM (rc %s)" % rc)


def scenario_kill(rnd, site, base, tmp, logpath):
    n = int(ENV.get("FAULTS_PASSAGES", "2000"))
    passages = plan(rnd, site, n)
    venv = venv_for(site, tmp)
    v = start(venv, logpath)
    wait_for(lambda: online(base), 60, "verifier online")
    pubs = Publishers(base)
    done = threading.Event()
    kills = []

    def killer():
        nonlocal v
        while not done.is_set():
            time.sleep(rnd.uniform(0.3, 2.0))
            if done.is_set():
                break
            v.send_signal(signal.SIGKILL)
            v.wait()
            kills.append(time.monotonic())
            v = start(venv, logpath)

    t0 = time.monotonic()
    th = threading.Thread(target=killer)
    th.start()
    publish(pubs, passages, 0.06)
    done.set()
    th.join()
    check(pubs.close(), "publishers delivered every read to the broker")
    pub_s = time.monotonic() - t0
    log("published %d passages (%d reads) in %.1fs with %d SIGKILLs" % (
        n, 3 * n, pub_s, len(kills)))
    check(len(kills) >= 25, "at least 25 kills during the run (%d)" % len(kills))
    judge(site, passages, 120)
    dup = log_events(logpath, "passage.duplicate")
    rdup = log_events(logpath, "read.duplicate")
    rep = log_events(logpath, "journal.replayed")
    log("journal replays %d (messages %d), passages formed again and refused by "
        "the outbox %d, redelivered reads dropped %d" % (
            len(rep), sum(int(e.get("messages", 0)) for e in rep), len(dup),
            len(rdup)))
    stop(v)
    return v


def scenario_kafka(rnd, site, base, tmp, logpath):
    n = int(ENV.get("FAULTS_PASSAGES", "400"))
    passages = plan(rnd, site, n)
    venv = venv_for(site, tmp)
    v = start(venv, logpath)
    wait_for(lambda: online(base), 60, "verifier online")
    dec_out = open(os.path.join(tmp, "decisions"), "w+", encoding="utf-8")
    dsub = subprocess.Popen(["mosquitto_sub", "-p", MQTT, "-V", "mqttv5", "-q", "1",
                             "-t", base + "lane/+/decision", "-F", "%U\t%p"],
                            stdout=dec_out)
    time.sleep(0.5)
    t = time.monotonic()
    subprocess.run([os.path.join(OPS, "servers.sh"), "stop", "kafka"], check=True,
                   timeout=120)
    log("kafka stopped in %.1fs" % (time.monotonic() - t))
    pubs = Publishers(base)
    sent = {}   # plate -> wall time of its last read
    for k in range(0, len(passages), len(LANES)):
        group = passages[k:k + len(LANES)]
        for i in range(3):
            for lane, plate, reads in group:
                pubs.send(lane, reads[i])
                sent[plate] = time.time()
            time.sleep(0.05)
    check(pubs.close(), "publishers delivered every read to the broker")

    # Decisions within their deadline, Kafka still down: the window (800 ms) plus
    # a margin for a loaded test machine.
    deadline = 5.0
    want = {plate for _, plate, _ in passages}

    def decisions():
        dec_out.flush()
        dec_out.seek(0)
        got = {}
        for line in dec_out.read().splitlines():
            ts, _, payload = line.partition("\t")
            try:
                d = json.loads(payload)
                got.setdefault(d["plate"], float(ts))
            except (ValueError, KeyError):
                continue
        return got if set(got) >= want else None
    got = wait_for(decisions, 30, "decisions while Kafka is down") or {}
    late = sorted((got[p] - sent[p], p) for p in got if p in sent and
                  got[p] - sent[p] > deadline)
    check(set(got) >= want, "a decision for every passage while Kafka is down "
          "(%d of %d)" % (len(set(got) & want), len(want)))
    check(not late, "every decision within %.0fs of its last read (late: %s)" % (
        deadline, late[:5]))
    if got:
        lat = sorted(got[p] - sent[p] for p in got if p in sent)
        log("decision after last read: median %.3fs, max %.3fs" % (
            lat[len(lat) // 2], lat[-1]))
    check(v.poll() is None, "verifier alive with Kafka down")
    # A restart while Kafka is still down: what librdkafka held in memory is gone
    # with the process, so the backlog can only come back from the outbox.
    stop(v)
    cnt = log_events(logpath, "verifier.counters")
    backlog = cnt[-1].get("pending", 0) if cnt else 0
    check(backlog > 0, "outbox holds the backlog across a restart (%d pending)"
          % backlog)
    v = start(venv, logpath)
    wait_for(lambda: online(base), 60, "verifier online again")

    t = time.monotonic()
    subprocess.run([os.path.join(OPS, "servers.sh"), "start", "kafka"], check=True,
                   timeout=240)
    log("kafka started again in %.1fs" % (time.monotonic() - t))
    judge(site, passages, 150)
    dsub.kill()
    dsub.wait()
    stop(v)
    cnt = log_events(logpath, "verifier.counters")
    check(bool(cnt) and cnt[-1].get("pending") == 0,
          "outbox drained at stop: %s" % (cnt[-1] if cnt else None))


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "kill"
    seed = int(ENV.get("FAULTS_SEED", str(random.randrange(1 << 30))))
    rnd = random.Random(seed)
    site = "flt-%d-%04x" % (os.getpid() % 100000, rnd.getrandbits(16))
    base = "ecogate/v1/%s/" % site
    tmp = tempfile.mkdtemp(prefix="it_faults.")
    logpath = os.path.join(tmp, "verifier.log")
    log("scenario %s, seed %d, site %s, dir %s" % (what, seed, site, tmp))
    t0 = time.monotonic()
    try:
        subprocess.run([os.path.join(OPS, "servers.sh"), "kafka-topic", TOPIC, "3"],
                       check=True, timeout=120)
        if what == "kill":
            scenario_kill(rnd, site, base, tmp, logpath)
        elif what == "kafka":
            scenario_kafka(rnd, site, base, tmp, logpath)
        else:
            check(False, "unknown scenario " + what)
    finally:
        # The Kafka scenario must never leave the broker stopped for later tests.
        if what == "kafka":
            subprocess.run([os.path.join(OPS, "servers.sh"), "start", "kafka"],
                           timeout=240)
        for pubs in ALL_PUBS:
            for p in pubs.procs.values():
                if p.poll() is None:
                    p.kill()
                    p.wait()
        subprocess.run(["mosquitto_pub", "-p", MQTT, "-r", "-n", "-t",
                        base + "status/verifier/faults"], capture_output=True)
        if failures:
            print("---- verifier log (tail) ----")
            with open(logpath, encoding="utf-8", errors="replace") as f:
                sys.stdout.write("".join(f.readlines()[-40:]))
        if not failures and ENV.get("FAULTS_KEEP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)
    log("%.1fs" % (time.monotonic() - t0))
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
