#!/usr/bin/python3
"""End-to-end test of the built verifier daemon on the real servers of the CTest
"servers" fixture (mosquitto, Redis, Kafka): registry records in Redis and on the
compacted ecogate.registry.v1 topic, a retained policy, plate reads published with
mosquitto_pub; the decisions, barrier commands and Kafka passages are read back by
independent clients (mosquitto_sub, kcat) and checked against hand-written
expectations and the JSON Schemas (Debian's python3-jsonschema). Malformed reads must
be logged as read.rejected and must not stop the next good read being answered.
A second run of the daemon, with Redis pointed at a dead port, must answer from its
snapshot file (and say so), take a registry removal (Kafka tombstone) into the
snapshot and refuse a policy that fails validation, keeping the old one; a third,
with Redis back, must resync the removal Redis missed.

Every wait is on a condition with a deadline. Each run uses its own site id and
plates, so runs (and other tests on the same servers) do not see each other.

Environment: VERIFIER (the binary), ECOGATE_{MQTT,REDIS,KAFKA}_PORT, ECOGATE_OPS,
ECOGATE_SOURCE_DIR.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from gatetest import FAILURES as failures, check, log_events, wait_for  # noqa: E402
import gatetest  # noqa: E402

ENV = os.environ
SRC = ENV["ECOGATE_SOURCE_DIR"]
MQTT = ENV["ECOGATE_MQTT_PORT"]
REDIS = ENV["ECOGATE_REDIS_PORT"]
KAFKA = "127.0.0.1:" + ENV["ECOGATE_KAFKA_PORT"]
OPS = ENV["ECOGATE_OPS"]
VERIFIER = ENV["VERIFIER"]

def redis(*args):
    return subprocess.run(["redis-cli", "-p", REDIS, "--raw"] + list(args),
                          capture_output=True, text=True, timeout=10)


def pub(topic, payload, retain=False):
    cmd = ["mosquitto_pub", "-p", MQTT, "-V", "mqttv5", "-q", "1", "-t", topic]
    if retain:
        cmd.append("-r")
    if payload is None:
        cmd.append("-n")
    else:
        cmd += ["-m", payload]
    subprocess.run(cmd, check=True, timeout=10)


def vehicle(plate, stage, version):
    return {"schema": "ecogate.vehicle.v1", "plate": plate, "colour": "yellow",
            "registered": True, "version": version, "category": "external",
            "vehicle_type": "H11", "fuel": "B", "emission_stage": stage,
            "emission_source": "manifest"}


def read(site, lane, plate, **extra):
    r = {"schema": "ecogate.plate-read.v1",
         "event_id": "01937a4e-%04x-7%03x-8%03x-%012x" % (
             random.getrandbits(16), random.getrandbits(12),
             random.getrandbits(12), random.getrandbits(48)),
         "site": site, "lane": lane,
         "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
         "plate": plate, "colour": "yellow", "confidence": 0.95, "source": "lpr"}
    r.update(extra)
    return r


def free_port():
    """A loopback port nothing listens on (bound, then released)."""
    import socket
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def start(venv, logpath):
    log = open(logpath, "w", encoding="utf-8")
    return subprocess.Popen([VERIFIER], env=venv, stdout=log, stderr=subprocess.STDOUT)


def stop(v, what):
    v.send_signal(signal.SIGTERM)
    try:
        rc = v.wait(timeout=20)
    except subprocess.TimeoutExpired:
        rc = None
    check(rc == 0, "%s: verifier exits 0 on SIGTERM (rc %s)" % (what, rc))


def main():
    rnd = random.Random()
    site = "vit-%d-%04x" % (os.getpid() % 100000, rnd.getrandbits(16))
    digits = "%04d" % rnd.randrange(10000)
    # Plates of this run: 沪A..沪E followed by 5 digits unique to the run.
    plate = {k: "沪%s%s%d" % (k, digits, i) for i, k in enumerate("ABCDE")}
    policy_version = "it-" + site
    tmp = tempfile.mkdtemp(prefix="it_verifier.")
    logpath = os.path.join(tmp, "verifier.log")
    procs = []
    keys = []
    base = "ecogate/v1/%s/" % site
    status_topic = base + "status/verifier/it"
    try:
        for topic, parts, compact in (("ecogate.passage.v1", "3", []),
                                      ("ecogate.registry.v1", "1", ["compact"])):
            subprocess.run([os.path.join(OPS, "servers.sh"), "kafka-topic", topic,
                            parts] + compact, check=True, timeout=120)

        # Registry: A (stage 6) and B (stage 4) straight into Redis; D only through
        # Kafka, so it reaches Redis only if the verifier's consumer works.
        for k, stage in (("A", "6"), ("B", "4")):
            key = "ecogate:registry:%s|yellow" % plate[k]
            keys.append(key)
            r = redis("SET", key, json.dumps(vehicle(plate[k], stage, 1),
                                             ensure_ascii=False))
            check(r.stdout.strip() == "OK", "redis SET " + key)
        keys.append("ecogate:registry:%s|yellow" % plate["D"])
        kin = "%s|yellow\t%s\n" % (plate["D"], json.dumps(
            vehicle(plate["D"], "6", 7), ensure_ascii=False))
        subprocess.run(["kcat", "-P", "-b", KAFKA, "-t", "ecogate.registry.v1",
                        "-K", "\t"], input=kin, text=True, check=True, timeout=30)

        with open(os.path.join(SRC, "schemas/examples/policy.v1/valid-minimal-red.json"),
                  encoding="utf-8") as f:
            pol = json.load(f)
        pol["version"] = policy_version
        pol["unknown_vehicle"] = "deny"
        # The plant's lanes: in-5 is left out on purpose (a camera the policy does
        # not know), so its passage must be decided as an entry lane and flagged.
        pol["lanes"] = [{"id": "in-%d" % i, "direction": "in"} for i in range(1, 5)]
        pub(base + "config/policy", json.dumps(pol), retain=True)

        dec_out = open(os.path.join(tmp, "decisions"), "w+", encoding="utf-8")
        dsub = subprocess.Popen(["mosquitto_sub", "-p", MQTT, "-V", "mqttv5", "-q", "1",
                                 "-t", base + "lane/+/decision", "-C", "5", "-W", "90",
                                 "-F", "%t\t%p"], stdout=dec_out)
        bar_out = open(os.path.join(tmp, "barrier"), "w+", encoding="utf-8")
        bsub = subprocess.Popen(["mosquitto_sub", "-p", MQTT, "-V", "mqttv5", "-q", "1",
                                 "-t", base + "lane/+/barrier/cmd", "-C", "3", "-W", "90",
                                 "-F", "%t\t%D\t%E\t%p"], stdout=bar_out)
        procs += [dsub, bsub]

        venv = dict(ENV)
        venv.update({"ECOGATE_SITE": site, "ECOGATE_INSTANCE": "it",
                     "ECOGATE_MQTT_URL": "tcp://127.0.0.1:" + MQTT,
                     "ECOGATE_KAFKA_BROKERS": KAFKA,
                     "ECOGATE_REDIS_HOST": "127.0.0.1", "ECOGATE_REDIS_PORT": REDIS,
                     "ECOGATE_OUTBOX_DIR": os.path.join(tmp, "outbox"),
                     "ECOGATE_SNAPSHOT_PATH": os.path.join(tmp, "registry.jsonl"),
                     "ECOGATE_OUTBOX_RETRY": "1s", "ECOGATE_LOG_LEVEL": "info"})
        v = start(venv, logpath)
        procs.append(v)

        def online():
            r = subprocess.run(["mosquitto_sub", "-p", MQTT, "-t", status_topic,
                                "-C", "1", "-W", "2"], capture_output=True, text=True)
            return '"online"' in r.stdout
        wait_for(online, 30, "verifier online status")
        pl = wait_for(lambda: [e for e in log_events(logpath, "policy.loaded")
                               if e.get("version") == policy_version], 30,
                      "policy.loaded")
        check(bool(pl) and pl[0].get("level") == "red", "policy loaded at level red")
        wait_for(lambda: redis("GET", keys[2]).stdout.strip() != "", 60,
                 "registry record of D consumed from Kafka into Redis")
        snap = os.path.join(tmp, "registry.jsonl")
        check(os.path.exists(snap) and plate["D"] in open(snap, encoding="utf-8").read(),
              "registry record of D in the snapshot file")

        # in-1's read names the frame it came from: the decision must carry it as
        # evidence for the ledger.
        frame = "%064x" % random.getrandbits(256)
        for lane, k in (("in-1", "A"), ("in-2", "B"), ("in-3", "C"), ("in-4", "D")):
            extra = {"frame_sha256": frame} if lane == "in-1" else {}
            pub(base + "lane/%s/plate" % lane,
                json.dumps(read(site, lane, plate[k], **extra), ensure_ascii=False))

        # Bad input on lane in-5: each must be rejected, none may crash the daemon.
        bad = ["{not json",
               json.dumps(dict(read(site, "in-5", plate["E"]), extra=1)),
               json.dumps(read(site, "in-5", "A" * 40)),
               json.dumps(read("other-site", "in-5", plate["E"]), ensure_ascii=False),
               json.dumps(read(site, "in-5", plate["E"], confidence=1.5),
                          ensure_ascii=False),
               "x" * 20000]
        for b in bad:
            pub(base + "lane/in-5/plate", b)
        rej = wait_for(lambda: len([e for e in log_events(logpath, "read.rejected")
                                    if site in str(e.get("topic"))]) >= len(bad), 30,
                       "%d read.rejected events" % len(bad))
        check(rej is not None and v.poll() is None, "verifier alive after bad reads")
        for e in log_events(logpath, "read.rejected"):
            print("     rejected: %s" % e.get("reason"))
        # The next good read on the same lane is answered: vehicle A's record.
        pub(base + "lane/in-5/plate",
            json.dumps(read(site, "in-5", plate["A"]), ensure_ascii=False))

        try:
            dsub.wait(timeout=90)
            bsub.wait(timeout=30)
        except subprocess.TimeoutExpired:
            check(False, "decisions and barrier commands within the deadline")
        dec_out.seek(0)
        decs = {}
        vdec = gatetest.validator(SRC, "passage-decision.v1")
        for line in dec_out.read().splitlines():
            topic, payload = line.split("\t", 1)
            d = json.loads(payload)
            decs[d["lane"]] = d
            errs = list(vdec.iter_errors(d))
            check(not errs, "decision %s schema-valid %s" % (d["lane"],
                                                             [e.message for e in errs]))
            check(topic == base + "lane/%s/decision" % d["lane"], "topic " + topic)
        want = {"in-1": (plate["A"], "allow", "stage_ok"),
                "in-2": (plate["B"], "deny", "stage_below_min"),
                "in-3": (plate["C"], "deny", "unknown_vehicle"),
                "in-4": (plate["D"], "allow", "stage_ok"),
                "in-5": (plate["A"], "allow", "stage_ok")}
        for lane, (p, result, reason) in want.items():
            d = decs.get(lane)
            if not check(d is not None, "decision on " + lane):
                continue
            check(d["plate"] == p and d["result"] == result and d["reasons"][0] == reason,
                  "%s: %s %s %s (got %s %s %s)" % (lane, p, result, reason, d["plate"],
                                                    d["result"], d["reasons"]))
            check(d["policy_version"] == policy_version, lane + " policy version")
            check(d["registry"]["source"] == "redis", lane + " registry source redis")
            check(("lane.unknown" in d["reasons"]) == (lane == "in-5"),
                  lane + " lane.unknown exactly on the lane the policy does not list")
        check(decs.get("in-1", {}).get("evidence") ==
              [{"sha256": frame, "role": "plate_frame"}] and
              all("evidence" not in decs.get(ln, {}) for ln in ("in-2", "in-3")),
              "evidence: the frame of in-1's read, nothing for reads without one")
        wait_for(lambda: [e for e in log_events(logpath, "lane.unknown")
                          if e.get("lane") == "in-5"], 10,
                 "lane.unknown logged for in-5")

        bar_out.seek(0)
        vbar = gatetest.validator(SRC, "barrier-command.v1")
        lanes = set()
        for line in bar_out.read().splitlines():
            topic, corr, expiry, payload = line.split("\t", 3)
            c = json.loads(payload)
            lanes.add(c["lane"])
            check(not list(vbar.iter_errors(c)), "barrier command schema-valid")
            check(corr == c["cmd_id"], "correlation data is the cmd_id")
            check(expiry.isdigit() and 0 < int(expiry) <= 10,
                  "message expiry %s s" % expiry)
            check(c["action"] == "open" and c.get("event_id") ==
                  decs.get(c["lane"], {}).get("event_id"), "open for the decided passage")
        check(lanes == {"in-1", "in-4", "in-5"}, "barrier commands for allows only: %s"
              % sorted(lanes))

        # Kafka: the passages, keyed by site, read by an independent consumer.
        want_ids = {d["event_id"] for d in decs.values()}

        def passages():
            r = subprocess.run(["kcat", "-C", "-b", KAFKA, "-t", "ecogate.passage.v1",
                                "-o", "beginning", "-e", "-q", "-f", "%k\t%s\n"],
                               capture_output=True, text=True, timeout=60)
            got = {}
            for line in r.stdout.splitlines():
                key, _, val = line.partition("\t")
                if key == site:
                    j = json.loads(val)
                    got[j["event_id"]] = j
            return got if set(got) >= want_ids else None
        got = wait_for(passages, 60, "passages on Kafka")
        if got is not None:
            check(set(got) == want_ids, "exactly the decided passages on Kafka")
            for j in got.values():
                check(not list(vdec.iter_errors(j)), "passage schema-valid")
                check(j == decs[j["lane"]], "passage equals the published decision")

        stop(v, "phase 1")
        cnt = log_events(logpath, "verifier.counters")
        check(bool(cnt) and cnt[-1].get("pending") == 0 and cnt[-1].get("passages") == 5,
              "counters at stop: %s" % (cnt[-1] if cnt else None))
        check(bool(log_events(logpath, "svc.stop")), "svc.stop logged")

        # Phase 2: Redis unreachable. The snapshot the consumer wrote answers, and
        # the decision says so; a registry removal reaches the snapshot; a policy
        # that fails validation is refused and the one in force stays.
        logpath = os.path.join(tmp, "verifier2.log")
        dead = free_port()
        dec_out = open(os.path.join(tmp, "decisions2"), "w+", encoding="utf-8")
        dsub = subprocess.Popen(["mosquitto_sub", "-p", MQTT, "-V", "mqttv5", "-q", "1",
                                 "-t", base + "lane/+/decision", "-C", "2", "-W", "90",
                                 "-F", "%p"], stdout=dec_out)
        procs.append(dsub)
        venv["ECOGATE_REDIS_PORT"] = str(dead)
        v = start(venv, logpath)
        procs.append(v)
        wait_for(lambda: [e for e in log_events(logpath, "policy.loaded")
                          if e.get("version") == policy_version], 30, "policy.loaded 2")
        badpol = dict(pol, version="it-bad", alert_level="purple")
        pub(base + "config/policy", json.dumps(badpol))
        rej = wait_for(lambda: log_events(logpath, "policy.rejected"), 30,
                       "policy.rejected")
        check(bool(rej) and rej[0].get("kept") == policy_version,
              "bad policy refused, old kept: %s" % (rej[0] if rej else None))
        pub(base + "lane/in-6/plate",
            json.dumps(read(site, "in-6", plate["D"]), ensure_ascii=False))
        wait_for(lambda: [e for e in log_events(logpath, "passage.decided")
                          if e.get("lane") == "in-6"], 30, "decision on in-6")
        kin = "%s|yellow\t\n" % plate["D"]
        subprocess.run(["kcat", "-P", "-b", KAFKA, "-t", "ecogate.registry.v1",
                        "-K", "\t", "-Z"], input=kin, text=True, check=True, timeout=30)
        wait_for(lambda: [e for e in log_events(logpath, "registry.removed")
                          if e.get("key") == plate["D"] + "|yellow"], 60,
                 "registry.removed of D")
        pub(base + "lane/in-7/plate",
            json.dumps(read(site, "in-7", plate["D"]), ensure_ascii=False))
        try:
            dsub.wait(timeout=60)
        except subprocess.TimeoutExpired:
            check(False, "phase 2 decisions within the deadline")
        dec_out.seek(0)
        decs2 = {}
        for line in dec_out.read().splitlines():
            d = json.loads(line)
            decs2[d["lane"]] = d
            check(not list(vdec.iter_errors(d)), "decision %s schema-valid" % d["lane"])
        for lane, (result, reason) in (("in-6", ("allow", "stage_ok")),
                                       ("in-7", ("deny", "unknown_vehicle"))):
            d = decs2.get(lane)
            if not check(d is not None, "decision on " + lane):
                continue
            check(d["result"] == result and d["reasons"][0] == reason,
                  "%s: %s %s (got %s %s)" % (lane, result, reason, d["result"],
                                             d["reasons"]))
            check(d["registry"]["source"] == "snapshot" and
                  isinstance(d["registry"].get("age_ms"), int),
                  "%s registry from the snapshot: %s" % (lane, d["registry"]))
            check(d["policy_version"] == policy_version, lane + " policy kept")
        stop(v, "phase 2")

        # Phase 3: Redis back. It missed the removal of D; the verifier resyncs it
        # from the snapshot.
        check(redis("GET", keys[2]).stdout.strip() != "", "Redis still holds D")
        logpath = os.path.join(tmp, "verifier3.log")
        venv["ECOGATE_REDIS_PORT"] = REDIS
        v = start(venv, logpath)
        procs.append(v)
        wait_for(lambda: redis("GET", keys[2]).stdout.strip() == "", 30,
                 "D removed from Redis by the resync")
        check(bool(log_events(logpath, "registry.resynced")), "registry.resynced logged")
        stop(v, "phase 3")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        try:
            pub(base + "config/policy", None, retain=True)
            pub(status_topic, None, retain=True)
            if keys:
                redis("DEL", *keys)
        except Exception as e:  # cleanup must not hide the result
            print("cleanup: %s" % e)
        if failures:
            print("---- verifier log (tail) ----")
            with open(logpath, encoding="utf-8", errors="replace") as f:
                sys.stdout.write("".join(f.readlines()[-60:]))
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
