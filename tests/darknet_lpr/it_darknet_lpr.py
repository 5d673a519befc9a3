#!/usr/bin/python3
"""End-to-end test of the built darknet-lpr daemon on the real mosquitto of the CTest
"servers" fixture. JPEG frames (made with the ffmpeg CLI: a lane view with a blue
plate-sized box) are published with mosquitto_pub on lane/{lane}/frame with the MQTT 5
user properties camera-capture sets (frame_id, ts, camera, trigger_id); the daemon's
plate reads are read back with mosquitto_sub and its JSON log is watched.

What is asserted holds with the random weights darknet runs with until trained ones
are committed (docs/lpr-models.md): every frame ends in exactly one frame.processed,
frame.rejected or frame.dropped event naming its frame_id; every read published is
schema-valid plate-read.v1 (Debian's python3-jsonschema), a legal plate, and carries
the frame's SHA-256 (as hashlib computes it), frame_id, camera, trigger_id and the
model versions. With trained weights (models/*.weights present) the plate frame must
also be read. Bad payloads (zero bytes, not a JPEG, truncated, damaged scan, absurd
dimensions, over frame.max_bytes) are rejected with their reason and counted, and the
daemon goes on to process the next good frame. A flood on one lane with one worker
drops that lane's oldest frames while a frame of another lane is still processed.
SIGTERM ends it with exit status 0 and its counters. A province prior that adds up to
1 (province.prior) stops it at start with lpr.init_failed; the run uses a good one,
which its lpr.models line names.

Environment: DARKNET_LPR (the binary), ECOGATE_MQTT_PORT, ECOGATE_SOURCE_DIR.
"""
import hashlib
import json
import os
import random
import signal
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
LPR = ENV["DARKNET_LPR"]


def ffmpeg_jpeg(path, size, boxes):
    """A lane-view JPEG of size WxH with the given drawbox filters."""
    vf = ",".join(boxes) if boxes else "null"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=%s:rate=1" % size, "-vf", vf, "-frames:v", "1",
                    "-q:v", "4", path], check=True, timeout=60)
    with open(path, "rb") as f:
        return f.read()


def pub(topic, payload_file, props):
    cmd = ["mosquitto_pub", "-p", MQTT, "-V", "mqttv5", "-q", "1", "-t", topic]
    for k, v in props.items():
        cmd += ["-D", "publish", "user-property", k, v]
    if payload_file is None:
        cmd.append("-n")
    else:
        cmd += ["-f", payload_file]
    subprocess.run(cmd, check=True, timeout=20)


def frame_props(fid, lane, trig):
    return {"frame_id": fid, "ts": time.strftime("%Y-%m-%dT%H:%M:%S.000Z",
                                                 time.gmtime()),
            "camera": "cam-" + lane, "trigger_id": trig}


def outcome(logpath, fid):
    """The events that ended frame fid."""
    return [e for ev in ("frame.processed", "frame.rejected", "frame.dropped")
            for e in log_events(logpath, ev) if e.get("frame_id") == fid]


def start(env, logpath):
    log = open(logpath, "w", encoding="utf-8")
    return subprocess.Popen([LPR, "-f", os.path.join(
        SRC, "services/darknet-lpr/darknet-lpr.conf")], env=env, stdout=log,
        stderr=subprocess.DEVNULL)


def main():
    rnd = random.Random()
    site = "lpr-%d-%04x" % (os.getpid() % 100000, rnd.getrandbits(16))
    base = "ecogate/v1/%s/" % site
    tmp = tempfile.mkdtemp(prefix="it_darknet_lpr.")
    logpath = os.path.join(tmp, "lpr.log")
    schema = gatetest.validator(SRC, "plate-read.v1")
    trained = all(os.path.exists(os.path.join(SRC, "models", f)) for f in
                  ("plate-detector.weights", "plate-reader.weights",
                   "plate-refiner.weights", "plate-province.weights",
                   "plate-chars.weights"))
    procs = []
    try:
        # Frames: a 1280x720 lane view with a blue plate box and white "characters".
        plate = ffmpeg_jpeg(os.path.join(tmp, "plate.jpg"), "1280x720", [
            "drawbox=x=540:y=520:w=200:h=60:color=0x1040c0:t=fill",
            "drawbox=x=552:y=532:w=14:h=36:color=white:t=fill",
            "drawbox=x=580:y=532:w=14:h=36:color=white:t=fill",
            "drawbox=x=620:y=532:w=14:h=36:color=white:t=fill",
            "drawbox=x=650:y=532:w=14:h=36:color=white:t=fill",
            "drawbox=x=680:y=532:w=14:h=36:color=white:t=fill",
            "drawbox=x=710:y=532:w=14:h=36:color=white:t=fill"])
        small = ffmpeg_jpeg(os.path.join(tmp, "small.jpg"), "320x240", [])
        bad = {}
        bad["empty"] = None
        bad["not_jpeg"] = b"GIF89a\x01\x00\x01\x00" + b"\x00" * 64
        bad["truncated"] = plate[:len(plate) * 2 // 3]
        dmg = bytearray(small)
        for i in range(len(dmg) // 2, len(dmg) - 8, 7):
            dmg[i] = 0xff if dmg[i] != 0xff else 0x00
        bad["damaged"] = bytes(dmg)
        huge = bytearray(small)
        sof = huge.find(b"\xff\xc0")
        huge[sof + 5:sof + 9] = b"\xea\x60\xea\x60"    # 60000 x 60000
        bad["huge"] = bytes(huge)
        bad["oversized"] = b"\xff\xd8\xff" + b"\x00" * (300 * 1024)
        files = {}
        for k, v in bad.items():
            if v is not None:
                files[k] = os.path.join(tmp, k + ".bin")
                with open(files[k], "wb") as f:
                    f.write(v)
            else:
                files[k] = None

        out = open(os.path.join(tmp, "plates"), "w+", encoding="utf-8")
        sub = subprocess.Popen(["mosquitto_sub", "-p", MQTT, "-V", "mqttv5", "-q",
                                "1", "-t", base + "lane/+/plate", "-F", "%t\t%p"],
                               stdout=out)
        procs.append(sub)

        env = dict(ENV)
        env.update({"ECOGATE_SITE": site, "ECOGATE_INSTANCE": "it",
                    "ECOGATE_MQTT_URL": "tcp://127.0.0.1:" + MQTT,
                    "ECOGATE_READ_MIN_CONFIDENCE": "0",
                    "ECOGATE_WORKERS": "1", "ECOGATE_QUEUE_PER_LANE": "2",
                    "ECOGATE_FRAME_MAX_BYTES": str(256 * 1024),
                    "ECOGATE_STATS_INTERVAL": "2s"})
        # This test is about the pipeline, not accuracy (that is the accuracy
        # regression's job, on generated plates): take any box, random or trained
        # weights, so reads are published and their shape and ids are checked.
        # Its drawn "plate" has no real characters for a trained model to find.
        env["ECOGATE_DETECTOR_THRESHOLD"] = "0.000001"
        # 0. A province prior that would shut out the provinces it does not name
        # stops the daemon at start, saying what is wrong; a good one is taken.
        bad_env = dict(env, ECOGATE_PROVINCE_PRIOR="沪:0.6,苏:0.4",
                       ECOGATE_INSTANCE="it-prior")
        bad_log = os.path.join(tmp, "lpr-prior.log")
        bad_lpr = start(bad_env, bad_log)
        try:
            bad_rc = bad_lpr.wait(timeout=120)
        except subprocess.TimeoutExpired:
            bad_lpr.kill()
            bad_rc = None
        failed = log_events(bad_log, "lpr.init_failed")
        check(bad_rc not in (None, 0) and any(
            e.get("what") == "province.prior" and "add up to 1.000" in
            e.get("reason", "") for e in failed),
            "a prior adding up to 1 stops darknet-lpr at start (rc %s, %s)" %
            (bad_rc, failed))
        prior = "沪:0.5,苏:0.15"
        env["ECOGATE_PROVINCE_PRIOR"] = prior
        lpr = start(env, logpath)
        procs.append(lpr)
        check(wait_for(lambda: log_events(logpath, "lpr.mqtt") and any(
            e.get("connected") == 1 for e in log_events(logpath, "lpr.mqtt")),
            60, "darknet-lpr connected") is not None, "darknet-lpr starts and "
            "connects")
        models = log_events(logpath, "lpr.models")
        check(models and models[0].get("slots") == 8 and
              models[0].get("symbols") == 74, "models loaded as the contract says "
              "(8 slots x 74 symbols)")
        check(models and models[0].get("province_prior") == prior,
              "the province prior taken: %s" % (models[0] if models else None))
        time.sleep(0.5)

        # 1. Good frames, one at a time on lane in-1.
        sent = {}
        for i in range(3):
            fid = "f-good-%d-%s" % (i, site)
            trig = gatetest.uuid7(rnd)
            sent[fid] = (trig, hashlib.sha256(plate).hexdigest())
            pub(base + "lane/in-1/frame", os.path.join(tmp, "plate.jpg"),
                frame_props(fid, "in-1", trig))
            wait_for(lambda: outcome(logpath, fid), 30, "frame %s handled" % fid)
        for fid in sent:
            o = outcome(logpath, fid)
            check(len(o) == 1 and o[0]["event"] == "frame.processed" and
                  o[0].get("w") == 1280 and o[0].get("h") == 720 and
                  o[0].get("sha256") == sent[fid][1],
                  "%s processed once, 1280x720, its SHA-256 logged" % fid)

        # 2. Bad payloads, each rejected with its reason; then a good frame again.
        want = {"empty": "empty", "not_jpeg": "not_jpeg", "truncated": "corrupt",
                "damaged": "corrupt", "huge": "too_big", "oversized": "too_large"}
        for k in want:
            pub(base + "lane/in-1/frame", files[k],
                frame_props("f-bad-%s-%s" % (k, site), "in-1", gatetest.uuid7(rnd)))
        after = "f-after-%s" % site
        sent[after] = (gatetest.uuid7(rnd), hashlib.sha256(plate).hexdigest())
        pub(base + "lane/in-1/frame", os.path.join(tmp, "plate.jpg"),
            frame_props(after, "in-1", sent[after][0]))
        wait_for(lambda: outcome(logpath, after), 30, "good frame after bad ones")
        for k, reason in want.items():
            o = outcome(logpath, "f-bad-%s-%s" % (k, site))
            check(len(o) == 1 and o[0]["event"] == "frame.rejected" and
                  o[0].get("reason") == reason and
                  o[0].get("topic") == base + "lane/in-1/frame",
                  "%s payload rejected as %s with topic and frame_id (%s)" % (
                      k, reason, o[0].get("reason") if o else "nothing"))
        o = outcome(logpath, after)
        check(len(o) == 1 and o[0]["event"] == "frame.processed",
              "a good frame after the bad ones is processed")
        check(lpr.poll() is None, "darknet-lpr survived the bad payloads")

        # 3. A flood on in-2 (one worker, 2 frames per lane) and one frame on in-3.
        flood = ["f-flood-%d-%s" % (i, site) for i in range(12)]
        other = "f-other-%s" % site
        procs_pub = []
        for i, fid in enumerate(flood):
            cmd = ["mosquitto_pub", "-p", MQTT, "-V", "mqttv5", "-q", "1", "-t",
                   base + "lane/in-2/frame", "-f", os.path.join(tmp, "plate.jpg")]
            for k, v in frame_props(fid, "in-2", gatetest.uuid7(rnd)).items():
                cmd += ["-D", "publish", "user-property", k, v]
            procs_pub.append(subprocess.Popen(cmd))
            if i == 6:
                pub(base + "lane/in-3/frame", os.path.join(tmp, "plate.jpg"),
                    frame_props(other, "in-3", gatetest.uuid7(rnd)))
        for p in procs_pub:
            p.wait(timeout=20)
        wait_for(lambda: all(outcome(logpath, f) for f in flood + [other]), 60,
                 "every flood frame handled")
        ends = {f: [e["event"] for e in outcome(logpath, f)] for f in flood}
        check(all(len(v) == 1 for v in ends.values()),
              "each flood frame ends exactly once: %s" % ends)
        dropped = [f for f, v in ends.items() if v == ["frame.dropped"]]
        check(len(dropped) > 0, "the flood's oldest frames are dropped (%d of %d)" %
              (len(dropped), len(flood)))
        # The twelve publishers run at once, so arrival order is the broker's: the
        # newest ARRIVAL is the frame that made the last drop ("for"), and it must
        # be processed, not dropped in its turn.
        drops = [e for e in log_events(logpath, "frame.dropped") if e.get("lane") == "in-2"]
        newest = drops[-1].get("for") if drops else None
        check(newest in ends and ends[newest] == ["frame.processed"],
              "the flood's newest arrival (%s) is processed" % newest)
        o = outcome(logpath, other)
        check(len(o) == 1 and o[0]["event"] == "frame.processed",
              "another lane's frame is processed during the flood")
        for e in log_events(logpath, "frame.dropped"):
            if e.get("frame_id") in dropped:
                check(e.get("lane") == "in-2", "dropped frames are in-2's")
                break

        # 4. What was published.
        time.sleep(1.0)
        out.flush()
        out.seek(0)
        reads = []
        for line in out.read().splitlines():
            topic, _, payload = line.partition("\t")
            reads.append((topic, json.loads(payload)))
        print("reads published: %d (weights %s)" % (
            len(reads), "trained" if trained else "random"))
        published = sum(e.get("published", 0) for e in
                        log_events(logpath, "frame.processed"))
        wait_for(lambda: len(open(out.name, encoding="utf-8").read().splitlines())
                 >= published, 10, "every logged read arrives")
        bad_schema = [r for _, r in reads if list(schema.iter_errors(r))]
        check(not bad_schema, "every read is schema-valid plate-read.v1 (%d bad)" %
              len(bad_schema))
        shas = {hashlib.sha256(plate).hexdigest()}
        for topic, r in reads:
            lane = topic.split("/")[-2]
            ok = (r.get("site") == site and r.get("lane") == lane and
                  r.get("source") == "lpr" and r.get("frame_sha256") in shas and
                  r.get("camera") == "cam-" + lane and
                  r.get("frame_id", "").endswith(site) and
                  r.get("model", {}).get("reader") and
                  len(r.get("char_confidences", [])) == len(r["plate"]))
            if r.get("frame_id") in sent:
                ok = ok and r.get("trigger_id") == sent[r["frame_id"]][0]
            if not check(ok, "read %s on %s carries frame %s's sha256, ids, "
                         "camera, model" % (r.get("plate"), lane,
                                            r.get("frame_id"))):
                print(json.dumps(r, ensure_ascii=False))
        if trained:
            check(any(r.get("frame_id") in sent for _, r in reads),
                  "trained models: the plate frame yields a read through the "
                  "detector and the reader")

        # 5. Counters and a clean stop.
        lpr.send_signal(signal.SIGTERM)
        try:
            rc = lpr.wait(timeout=30)
        except subprocess.TimeoutExpired:
            rc = None
        check(rc == 0, "darknet-lpr exits 0 on SIGTERM (rc %s)" % rc)
        c = log_events(logpath, "lpr.counters")
        check(c and c[-1].get("rejected_corrupt") == 2 and
              c[-1].get("rejected_empty") == 1 and
              c[-1].get("rejected_not_jpeg") == 1 and
              c[-1].get("rejected_too_big") == 1 and
              c[-1].get("rejected_too_large") == 1 and
              c[-1].get("dropped") == len(dropped) and
              c[-1].get("processed") == len(sent) + 1 + len(flood) - len(dropped),
              "counters add up: %s" % (c[-1] if c else None))
        check(log_events(logpath, "lpr.stats") != [], "lpr.stats logged")
    finally:
        rc = gatetest.finish(procs, tmp)
    return rc


if __name__ == "__main__":
    sys.exit(main())
