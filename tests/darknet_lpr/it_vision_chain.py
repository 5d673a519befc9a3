#!/usr/bin/python3
"""The vision chain end to end on the real servers of the CTest "servers" fixture:
camera-capture replays the committed sample gate frames (ops/sample/frames, made by
tools/lpr/gen_frames.py) from a folder, triggered by trigger.v1 messages as a loop
detector sends them; darknet-lpr, with the committed models, reads the frames the
camera publishes and publishes plate reads. Nothing in between is faked: the frames
reach darknet-lpr only through mosquitto.

Checks: every read is schema-valid plate-read.v1; it names a frame the camera
published for a trigger we sent (trigger_id, camera, frame_id of this run's site); its
frame_sha256 is the SHA-256 of one of the sample files (a folder camera publishes the
file's bytes) and that very JPEG is in ecogate.evidence.v1 under that key, so the
ledger can link each passage to its image; reads come for at least a third of the
triggers (the detector finds plates in sample frames; what is read right is the
accuracy regression's business); both daemons stop with exit status 0 on SIGTERM.

Environment: CAMERA_CAPTURE, DARKNET_LPR (the binaries), ECOGATE_{MQTT,KAFKA}_PORT,
ECOGATE_OPS, ECOGATE_SOURCE_DIR.
"""
import glob
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from gatetest import check, log_events, wait_for  # noqa: E402
import gatetest  # noqa: E402

ENV = os.environ
SRC = ENV["ECOGATE_SOURCE_DIR"]
MQTT = ENV["ECOGATE_MQTT_PORT"]
KAFKA = "127.0.0.1:" + ENV["ECOGATE_KAFKA_PORT"]
EVIDENCE = "ecogate.evidence.v1"
LANE = "in-1"
OPS = ENV.get("ECOGATE_OPS", os.path.join(SRC, "ops"))


def main():
    rnd = random.Random()
    site = "chain-%d-%04x" % (os.getpid() % 100000, rnd.getrandbits(16))
    base = "ecogate/v1/%s/" % site
    tmp = tempfile.mkdtemp(prefix="it_vision_chain.")
    schema = gatetest.validator(SRC, "plate-read.v1")
    samples = sorted(glob.glob(os.path.join(SRC, "ops/sample/frames/*.jpg")))
    procs = []
    try:
        if not check(len(samples) >= 6, "sample frames in ops/sample/frames (%d)" %
                     len(samples)):
            return 1
        shas = {}
        folder = os.path.join(tmp, "camera")
        os.mkdir(folder)
        for p in samples:
            with open(p, "rb") as f:
                shas[hashlib.sha256(f.read()).hexdigest()] = os.path.basename(p)
            shutil.copy(p, folder)

        out = open(os.path.join(tmp, "plates"), "w+", encoding="utf-8")
        sub = subprocess.Popen(["mosquitto_sub", "-p", MQTT, "-V", "mqttv5", "-q",
                                "1", "-t", base + "lane/+/plate", "-F", "%t\t%p"],
                               stdout=out)
        procs.append(sub)

        # The fixture's Kafka creates no topic by itself (servers.sh).
        subprocess.run([os.path.join(OPS, "servers.sh"), "kafka-topic", EVIDENCE, "1"],
                       check=True, timeout=120, stdout=subprocess.DEVNULL)
        env = dict(ENV)
        env.update({"ECOGATE_SITE": site, "ECOGATE_MQTT_URL": "tcp://127.0.0.1:" + MQTT,
                    "ECOGATE_KAFKA_BROKERS": KAFKA})
        lpr_log = os.path.join(tmp, "lpr.log")
        lpr = subprocess.Popen([ENV["DARKNET_LPR"], "-f", os.path.join(
            SRC, "services/darknet-lpr/darknet-lpr.conf")], env=dict(
            env, ECOGATE_INSTANCE="chain", ECOGATE_WORKERS="2",
            ECOGATE_QUEUE_PER_LANE="8", ECOGATE_READ_MIN_CONFIDENCE="0",
            ECOGATE_MODEL_REQUIRE_WEIGHTS="yes"),
            stdout=open(lpr_log, "w"), stderr=subprocess.DEVNULL)
        procs.append(lpr)
        cam_log = os.path.join(tmp, "camera.log")
        cam = subprocess.Popen([ENV["CAMERA_CAPTURE"], "-f", os.path.join(
            SRC, "services/camera-capture/camera-capture.conf")], env=dict(
            env, ECOGATE_LANE=LANE, ECOGATE_CAMERA="cam-chain",
            ECOGATE_SOURCE_URL="dir:" + folder, ECOGATE_SOURCE_INTERVAL="50ms",
            ECOGATE_MODE="trigger", ECOGATE_BURST_COUNT="2",
            ECOGATE_BURST_INTERVAL="100ms", ECOGATE_EVIDENCE="yes"),
            stdout=open(cam_log, "w"), stderr=subprocess.DEVNULL)
        procs.append(cam)
        check(wait_for(lambda: log_events(lpr_log, "bus.subscribed") and
                       log_events(cam_log, "bus.subscribed") and
                       log_events(cam_log, "source.start"), 60,
                       "both daemons up"), "camera-capture and darknet-lpr online")

        def send(tid):
            msg = json.dumps({"schema": "ecogate.trigger.v1", "trigger_id": tid,
                              "site": site, "lane": LANE, "source": "loop",
                              "occupied": True, "ts": time.strftime(
                                  "%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
            subprocess.run(["mosquitto_pub", "-p", MQTT, "-V", "mqttv5", "-q", "1",
                            "-t", base + "lane/%s/trigger" % LANE, "-m", msg],
                           check=True, timeout=10)

        def accepted(tid):
            return any(e.get("trigger_id") == tid
                       for e in log_events(cam_log, "trigger.accepted"))

        def done(tid):
            return sum(e.get("trigger_id") == tid
                       for e in log_events(lpr_log, "frame.processed")) >= 2

        # The camera's subscription may lag its connection: the first trigger is
        # sent again (a new id each time) until the camera takes one.
        triggers = []
        deadline = time.monotonic() + 30
        while not triggers and time.monotonic() < deadline:
            tid = gatetest.uuid7(rnd)
            send(tid)
            if wait_for(lambda: accepted(tid), 2, "first trigger"):
                triggers.append(tid)
        check(triggers != [], "camera-capture takes a trigger.v1")
        # One vehicle after another: each trigger's burst of 2 frames is read
        # before the next vehicle's loop closes.
        while triggers and len(triggers) < len(samples):
            if not wait_for(lambda: done(triggers[-1]), 30, "burst read"):
                break
            tid = gatetest.uuid7(rnd)
            send(tid)
            triggers.append(tid)
        check(wait_for(lambda: done(triggers[-1]) if triggers else False, 30,
                       "last burst read") and all(done(t) for t in triggers),
              "darknet-lpr processed both frames of each of %d triggers" %
              len(triggers))

        published = sum(e.get("published", 0) for e in
                        log_events(lpr_log, "frame.processed"))

        def lines():
            out.flush()
            with open(out.name, encoding="utf-8") as f:
                return len(f.read().splitlines())
        check(wait_for(lambda: lines() >= published, 20, "reads arrive"),
              "the %d reads darknet-lpr published arrive on MQTT" % published)
        reads = []
        out.seek(0)
        for line in out.read().splitlines():
            topic, _, payload = line.partition("\t")
            try:
                reads.append((topic, json.loads(payload)))
            except ValueError:
                reads.append((topic, None))
        bad = [r for _, r in reads if r is None or list(schema.iter_errors(r))]
        check(reads and not bad, "%d reads, every one schema-valid plate-read.v1 "
              "(%d bad)" % (len(reads), len(bad)))
        with_read = {r.get("trigger_id") for _, r in reads if r}
        check(len(with_read & set(triggers)) * 3 >= len(triggers),
              "reads for at least a third of the triggers (%d of %d)" % (
                  len(with_read & set(triggers)), len(triggers)))
        for topic, r in reads:
            if r is None:
                continue
            check(topic == base + "lane/%s/plate" % LANE and
                  r.get("trigger_id") in triggers and r.get("camera") == "cam-chain" and
                  r.get("frame_sha256") in shas and r.get("frame_id"),
                  "read %s: our trigger, camera, and the sha256 of sample %s" % (
                      r.get("plate"), shas.get(r.get("frame_sha256"), "?")))
        keys = {r.get("frame_sha256") for _, r in reads if r}
        ev = {}

        def all_evidence():
            ev.update({k: v for k, (v, _) in gatetest.kafka_records(
                KAFKA, EVIDENCE, timeout=90).items() if k in keys})
            return keys <= set(ev)
        # A broker that has just started may take a while to hand out producer ids.
        wait_for(all_evidence, 90, "evidence in Kafka", interval=2)
        check(keys and all(k in ev and hashlib.sha256(ev[k]).hexdigest() == k
                           for k in keys),
              "every read's frame is in %s under its SHA-256, the same bytes "
              "(%d of %d)" % (EVIDENCE, len(ev), len(keys)))

        gatetest.sigterm(cam, "camera-capture")
        gatetest.sigterm(lpr, "darknet-lpr")
    finally:
        rc = gatetest.finish(procs, tmp)
    return rc

if __name__ == "__main__":
    sys.exit(main())
