#!/usr/bin/python3
"""End-to-end test of the built camera-capture daemon on the real mosquitto and Kafka
of the CTest "servers" fixture. The cameras are made here: an H.264 .mp4 and an
MJPEG .avi written by the ffmpeg CLI (testsrc, 320x240, 5 s), a snapshot camera served
by Python's http.server, and a folder of JPEG files (one of them garbage). Several
daemons run at once, one per lane of a site unique to this run:

  in-1  the .mp4, continuous at 4 fps
  in-2  the .avi, trigger mode: a trigger.v1 gives exactly burst.count frames with
        its trigger_id; a released loop, a stale, a malformed and a repeated trigger
        give none
  in-3  the snapshot camera, continuous: frames are the server's JPEG byte for byte;
        the server is stopped (alarm.v1 camera.no_frame raised) and started again
        (frames return, alarm cleared)
  in-4  the folder, continuous, evidence off: frames are the files byte for byte, the
        garbage file is logged as a bad frame, nothing goes to Kafka
  in-7  the folder with a jpeg.max_bytes its files exceed: frames made to fit
  in-8  an HTTP MJPEG camera (multipart/x-mixed-replace from http.server) through
        FFmpeg, its stream ending every 3 s: frames, and the stream reopened
  in-5  a missing file, in-6 an address nobody serves: logged, retried, no crash

Frames are read back with mosquitto_sub (-F with %P for the MQTT 5 user properties
and %x for the payload) and kcat (ecogate.evidence.v1: key = the hex SHA-256, the same
bytes, header content-type=image/jpeg). Every daemon must exit 0 on SIGTERM. Every
wait has a deadline.

Environment: CAMERA_CAPTURE (the binary), ECOGATE_{MQTT,KAFKA}_PORT, ECOGATE_OPS,
ECOGATE_SOURCE_DIR.
"""
import hashlib
import http.server
import json
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from gatetest import FAILURES as failures, check, log_events, wait_for  # noqa: E402
import gatetest  # noqa: E402

ENV = os.environ
SRC = ENV["ECOGATE_SOURCE_DIR"]
MQTT = ENV["ECOGATE_MQTT_PORT"]
KAFKA = "127.0.0.1:" + ENV["ECOGATE_KAFKA_PORT"]
OPS = ENV["ECOGATE_OPS"]
BIN = ENV["CAMERA_CAPTURE"]
EVIDENCE = "ecogate.evidence.v1"
BURST = 3
UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def ffmpeg(*args):
    subprocess.run(["nice", "ffmpeg", "-loglevel", "error", "-y"] + list(args),
                   check=True, timeout=60)


def is_jpeg(b):
    return len(b) > 4 and b[:2] == b"\xff\xd8" and b[-2:] == b"\xff\xd9"


def jpeg_size(b):
    """(width, height) of a JPEG, from PIL when there is one, else from its SOF."""
    try:
        import io
        from PIL import Image
        with Image.open(io.BytesIO(b)) as im:
            im.load()
            return im.size
    except ImportError:
        pass
    i = 2
    while i + 9 < len(b):
        if b[i] != 0xFF:
            return None
        m, n = b[i + 1], struct.unpack(">H", b[i + 2:i + 4])[0]
        if 0xC0 <= m <= 0xCF and m not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", b[i + 5:i + 9])
            return (w, h)
        i += 2 + n
    return None


class Snapshot:
    """A snapshot camera: GET /snap.jpg answers with one JPEG; stop() and start()
    take it away and bring it back on the same port."""

    def __init__(self, body):
        self.body = body
        self.frames = []
        self.srv = None
        self.port = None
        self.gets = 0

    def start(self):
        cam = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                cam.gets += 1
                if self.path == "/video.mjpg" and cam.frames:
                    self.mjpeg()
                    return
                if self.path != "/snap.jpg":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(cam.body)))
                self.end_headers()
                self.wfile.write(cam.body)

            def mjpeg(self):
                """An MJPEG camera: multipart/x-mixed-replace at 10 fps, 3 s per
                connection (the stream ends; the camera must be reopened)."""
                self.send_response(200)
                self.send_header("Content-Type",
                                 "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    for i in range(30):
                        b = cam.frames[i % len(cam.frames)]
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n"
                                         b"Content-Length: %d\r\n\r\n" % len(b))
                        self.wfile.write(b + b"\r\n")
                        self.wfile.flush()
                        time.sleep(0.1)
                except OSError:
                    pass

            def log_message(self, *a):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", self.port or 0), H)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


class Sub:
    """mosquitto_sub on the run's site, every message as topic, properties, hex."""

    def __init__(self, base, path):
        self.path = path
        self.out = open(path, "w", encoding="utf-8")
        self.p = subprocess.Popen(["mosquitto_sub", "-p", MQTT, "-V", "mqttv5", "-q",
                                   "1", "-t", base + "#", "-F", "%t\t%P\t%x"],
                                  stdout=self.out)

    def messages(self):
        out = []
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) != 3:
                    continue
                props = {}
                for kv in parts[1].split(" "):
                    if ":" in kv:
                        k, v = kv.split(":", 1)
                        props[k] = v
                try:
                    payload = bytes.fromhex(parts[2])
                except ValueError:
                    continue
                out.append((parts[0], props, payload))
        return out

    def stop(self):
        self.p.terminate()
        self.p.wait(timeout=10)
        self.out.close()


def pub(topic, payload):
    subprocess.run(["mosquitto_pub", "-p", MQTT, "-V", "mqttv5", "-q", "1", "-t", topic,
                    "-m", payload], check=True, timeout=10)


def trigger(site, lane, tid, occupied=True, ts=None):
    return json.dumps({"schema": "ecogate.trigger.v1", "trigger_id": tid, "site": site,
                       "lane": lane, "source": "loop", "occupied": occupied,
                       "ts": ts or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})


def main():
    rnd = random.Random()
    site = "cit-%d-%04x" % (os.getpid() % 100000, rnd.getrandbits(16))
    base = "ecogate/v1/%s/" % site
    tmp = tempfile.mkdtemp(prefix="it_camera.")
    daemons = {}
    snap = None
    sub = None
    t_start = time.monotonic()
    try:
        subprocess.run([os.path.join(OPS, "servers.sh"), "kafka-topic", EVIDENCE, "1"],
                       check=True, timeout=120, stdout=subprocess.DEVNULL)
        mp4 = os.path.join(tmp, "lane.mp4")
        avi = os.path.join(tmp, "lane.avi")
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-t", "5",
               "-pix_fmt", "yuv420p", mp4)
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-t", "5",
               "-c:v", "mjpeg", "-q:v", "5", avi)
        replay = os.path.join(tmp, "replay")
        os.mkdir(replay)
        ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=1", "-frames:v", "3",
               "-q:v", "4", os.path.join(replay, "f%03d.jpg"))
        with open(os.path.join(replay, "f002b.jpg"), "wb") as f:
            f.write(b"<html>not a picture</html>")
        files = {hashlib.sha256(open(os.path.join(replay, n), "rb").read()).hexdigest()
                 for n in os.listdir(replay) if n != "f002b.jpg"}
        snapjpg = os.path.join(tmp, "snap.jpg")
        ffmpeg("-f", "lavfi", "-i", "smptebars=size=352x288:rate=1", "-frames:v", "1",
               "-q:v", "3", snapjpg)
        snap = Snapshot(open(snapjpg, "rb").read())
        snap.frames = [open(os.path.join(replay, n), "rb").read()
                       for n in sorted(os.listdir(replay)) if n != "f002b.jpg"]
        snap.start()

        sub = Sub(base, os.path.join(tmp, "mqtt"))
        wait_for(lambda: (pub(base + "marker", "x") or True) and
                 any(t == base + "marker" for t, _, _ in sub.messages()), 15,
                 "subscriber ready")

        common = {"ECOGATE_SITE": site, "ECOGATE_MQTT_URL": "tcp://127.0.0.1:" + MQTT,
                  "ECOGATE_KAFKA_BROKERS": KAFKA, "ECOGATE_LOG_LEVEL": "info",
                  "ECOGATE_RECONNECT_MIN": "200ms", "ECOGATE_RECONNECT_MAX": "1s",
                  "ECOGATE_SOURCE_TIMEOUT": "2s", "ECOGATE_STATS_INTERVAL": "2s"}
        lanes = {
            "in-1": {"ECOGATE_SOURCE_URL": mp4, "ECOGATE_MODE": "continuous",
                     "ECOGATE_FPS": "4"},
            "in-2": {"ECOGATE_SOURCE_URL": "file:" + avi, "ECOGATE_MODE": "trigger",
                     "ECOGATE_BURST_COUNT": str(BURST),
                     "ECOGATE_BURST_INTERVAL": "150ms"},
            "in-3": {"ECOGATE_SOURCE_URL": "http://127.0.0.1:%d/snap.jpg" % snap.port,
                     "ECOGATE_MODE": "continuous", "ECOGATE_FPS": "5",
                     "ECOGATE_SOURCE_INTERVAL": "100ms",
                     "ECOGATE_ALARM_NO_FRAME": "1500ms"},
            # Captured faster than the folder yields files: the camera keeps only its
            # newest frame, so at 5 fps over a 4-entry cycle read every 100 ms it
            # could sample every other file for ever (and did, once in the suite).
            "in-4": {"ECOGATE_SOURCE_URL": "dir:" + replay, "ECOGATE_MODE": "continuous",
                     "ECOGATE_FPS": "20", "ECOGATE_SOURCE_INTERVAL": "200ms",
                     "ECOGATE_EVIDENCE": "no"},
            # The folder again, with a limit its files exceed: made to fit.
            "in-7": {"ECOGATE_SOURCE_URL": "dir:" + replay, "ECOGATE_MODE": "continuous",
                     "ECOGATE_FPS": "20", "ECOGATE_SOURCE_INTERVAL": "200ms",
                     "ECOGATE_EVIDENCE": "no", "ECOGATE_JPEG_MAX_BYTES": "4096"},
            # A live HTTP MJPEG camera through FFmpeg, its stream ending every 3 s.
            "in-8": {"ECOGATE_SOURCE_URL": "http://127.0.0.1:%d/video.mjpg" % snap.port,
                     "ECOGATE_MODE": "continuous", "ECOGATE_FPS": "5"},
            "in-5": {"ECOGATE_SOURCE_URL": os.path.join(tmp, "missing.mp4"),
                     "ECOGATE_MODE": "continuous", "ECOGATE_ALARM_NO_FRAME": "1s"},
            "in-6": {"ECOGATE_SOURCE_URL": "http://127.0.0.1:1/video.mjpg",
                     "ECOGATE_MODE": "continuous"},
        }
        for lane, extra in lanes.items():
            env = dict(ENV)
            env.update(common)
            env.update(extra)
            env["ECOGATE_LANE"] = lane
            env["ECOGATE_CAMERA"] = "cam-" + lane
            log = os.path.join(tmp, lane + ".log")
            daemons[lane] = (subprocess.Popen([BIN], env=env, stdout=open(log, "w"),
                                              stderr=subprocess.STDOUT), log)

        def frames(lane):
            return [(p, b) for t, p, b in sub.messages()
                    if t == base + "lane/%s/frame" % lane]

        # in-1: continuous from a video file.
        f1 = wait_for(lambda: len(frames("in-1")) >= 4 and frames("in-1"), 20,
                      "4 frames from the .mp4")
        for p, b in f1 or []:
            ok = (UUID7.match(p.get("frame_id", "")) and RFC3339.match(p.get("ts", ""))
                  and p.get("camera") == "cam-in-1" and "trigger_id" not in p
                  and p.get("sha256") == hashlib.sha256(b).hexdigest()
                  and is_jpeg(b) and jpeg_size(b) == (320, 240)
                  and p.get("width") == "320" and p.get("height") == "240")
            check(bool(ok), "in-1 frame %s: properties, sha256, 320x240 JPEG" %
                  p.get("frame_id"))
        if f1:
            ids = [p["frame_id"] for p, _ in f1]
            check(len(set(ids)) == len(ids) and ids == sorted(ids),
                  "in-1 frame ids unique and time-ordered")

        # in-2: trigger mode. Nothing before a trigger; exactly BURST after one.
        wait_for(lambda: log_events(daemons["in-2"][1], "source.opened") and
                 log_events(daemons["in-2"][1], "bus.connected"), 20,
                 "in-2 camera open and bus up")
        time.sleep(0.5)
        check(len(frames("in-2")) == 0, "in-2 no frame without a trigger")
        tid = gatetest.uuid7(rnd)
        pub(base + "lane/in-2/trigger", trigger(site, "in-2", tid))
        wait_for(lambda: len(frames("in-2")) >= BURST, 15, "in-2 burst of %d" % BURST)
        # Not acted on: a released loop, a stale one, garbage, another lane's, and
        # the same trigger again.
        pub(base + "lane/in-2/trigger", trigger(site, "in-2", gatetest.uuid7(rnd),
                                                occupied=False))
        pub(base + "lane/in-2/trigger", trigger(site, "in-2", gatetest.uuid7(rnd),
                                                ts="2020-01-01T00:00:00Z"))
        pub(base + "lane/in-2/trigger", "{not json")
        pub(base + "lane/in-2/trigger", trigger(site, "in-9", gatetest.uuid7(rnd)))
        pub(base + "lane/in-2/trigger", trigger(site, "in-2", tid))
        wait_for(lambda: len(log_events(daemons["in-2"][1], "trigger.rejected")) >= 2
                 and log_events(daemons["in-2"][1], "trigger.duplicate")
                 and log_events(daemons["in-2"][1], "trigger.stale"), 10,
                 "in-2 logs the triggers it refused")
        time.sleep(1.0)
        f2 = frames("in-2")
        check(len(f2) == BURST, "in-2 exactly %d frames for one trigger (got %d)" %
              (BURST, len(f2)))
        check(all(p.get("trigger_id") == tid and p.get("camera") == "cam-in-2" and
                  p.get("sha256") == hashlib.sha256(b).hexdigest() and is_jpeg(b)
                  for p, b in f2), "in-2 frames carry the trigger_id, sha256, JPEG")
        if len(f2) >= 2:
            ts = [gatetest_ts(p["ts"]) for p, _ in f2]
            check(all(b - a >= 0.09 for a, b in zip(ts, ts[1:])),
                  "in-2 burst frames spaced by the interval: %s" % ts)
        tid2 = gatetest.uuid7(rnd)
        pub(base + "lane/in-2/trigger", trigger(site, "in-2", tid2))
        wait_for(lambda: len([1 for p, _ in frames("in-2")
                              if p.get("trigger_id") == tid2]) >= BURST, 15,
                 "in-2 second burst")

        # in-4: the folder, byte for byte, the garbage file logged.
        f4 = wait_for(lambda: len({p["sha256"] for p, _ in frames("in-4")}) >= 3 and
                      frames("in-4"), 20, "in-4 all three files replayed")
        check(bool(f4) and all(hashlib.sha256(b).hexdigest() in files for _, b in f4),
              "in-4 frames are the folder's files byte for byte")
        check(bool(log_events(daemons["in-4"][1], "source.bad_frame")),
              "in-4 garbage file logged as source.bad_frame")

        # in-7: frames over jpeg.max_bytes are encoded again, smaller, still JPEG.
        f7 = wait_for(lambda: len(frames("in-7")) >= 3 and frames("in-7"), 20,
                      "in-7 frames within jpeg.max_bytes")
        check(bool(f7) and all(len(b) <= 4096 and is_jpeg(b) and jpeg_size(b) and
                               hashlib.sha256(b).hexdigest() == p["sha256"] and
                               p["sha256"] not in files for p, b in f7),
              "in-7 frames re-encoded to <= 4096 bytes: %s" %
              [(len(b), jpeg_size(b)) for _, b in f7 or []][:3])

        # in-8: the MJPEG stream, decoded and encoded again; it ends and is reopened.
        f8 = wait_for(lambda: len(frames("in-8")) >= 3 and frames("in-8"), 20,
                      "in-8 frames from the HTTP MJPEG stream")
        check(bool(f8) and all(is_jpeg(b) and jpeg_size(b) == (320, 240)
                               for _, b in f8), "in-8 frames are 320x240 JPEGs")
        wait_for(lambda: len(log_events(daemons["in-8"][1], "source.opened")) >= 2,
                 15, "in-8 reopens the stream after it ended")

        # in-3: the snapshot camera, its own bytes; then taken away and brought back.
        want = hashlib.sha256(snap.body).hexdigest()
        f3 = wait_for(lambda: len(frames("in-3")) >= 3 and frames("in-3"), 20,
                      "in-3 snapshot frames")
        check(bool(f3) and all(p.get("sha256") == want and b == snap.body
                               for p, b in f3), "in-3 frames are the camera's JPEG")
        alarms = gatetest.validator(SRC, "alarm.v1")

        def alarm(active):
            for t, _, b in sub.messages():
                if t != base + "alarm":
                    continue
                a = json.loads(b)
                if a.get("lane") == "in-3" and a.get("active") is active:
                    return a
            return None
        check(alarm(True) is None, "in-3 no alarm while frames come")
        snap.stop()
        a = wait_for(lambda: alarm(True), 15, "in-3 camera.no_frame raised")
        if a:
            check(not list(alarms.iter_errors(a)) and a["code"] == "camera.no_frame"
                  and a["source"] == "camera-capture" and a["site"] == site,
                  "in-3 alarm is a valid alarm.v1 camera.no_frame")
        check(bool(log_events(daemons["in-3"][1], "source.retry")),
              "in-3 logs its retries while the camera is away")
        n3 = len(frames("in-3"))
        snap.start()
        c = wait_for(lambda: alarm(False), 15, "in-3 alarm cleared when frames return")
        if c:
            check(not list(alarms.iter_errors(c)), "in-3 clear is a valid alarm.v1")
        wait_for(lambda: len(frames("in-3")) > n3, 10, "in-3 frames again")

        # in-5, in-6: bad sources retried, no crash; in-5 alarms too.
        for lane in ("in-5", "in-6"):
            wait_for(lambda: len(log_events(daemons[lane][1], "source.retry")) >= 2,
                     15, "%s retries its bad source" % lane)
            check(daemons[lane][0].poll() is None, "%s alive" % lane)
            check(not frames(lane), "%s published nothing" % lane)
        wait_for(lambda: any(t == base + "alarm" and json.loads(b).get("lane") == "in-5"
                             for t, _, b in sub.messages()), 10, "in-5 alarm")

        # Status: each camera's retained device-status.v1 online.
        st = [json.loads(b) for t, _, b in sub.messages()
              if t.startswith(base + "status/camera-capture/")]
        check(any(s.get("instance") == "cam-in-1" and s.get("state") == "online"
                  for s in st), "status/camera-capture/cam-in-1 online")

        for lane, (p, log) in daemons.items():
            p.send_signal(signal.SIGTERM)
        for lane, (p, log) in daemons.items():
            try:
                rc = p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = None
            check(rc == 0, "%s exits 0 on SIGTERM (rc %s)" % (lane, rc))

        # The evidence: every frame of the lanes with evidence on, on Kafka, keyed by
        # its hash, the same bytes, content-type image/jpeg; none from in-4.
        sent = [b for lane in ("in-1", "in-2", "in-3") for _, b in frames(lane)]
        recs = wait_for(lambda: (lambda r: all(hashlib.sha256(b).hexdigest() in r
                                               for b in sent) and r)(gatetest.kafka_records(KAFKA, EVIDENCE)),
                        30, "every frame on %s" % EVIDENCE)
        if recs:
            check(all(recs[hashlib.sha256(b).hexdigest()][0] == b and
                      "content-type=image/jpeg" in
                      recs[hashlib.sha256(b).hexdigest()][1] for b in sent),
                  "%d frames on Kafka: same bytes, content-type image/jpeg" % len(sent))
            check(not any(k in recs for k in files),
                  "in-4 (evidence off) produced nothing to Kafka")

        # A source.url of a scheme we do not open is a configuration error.
        env = dict(ENV)
        env.update(common)
        env["ECOGATE_SOURCE_URL"] = "ftp://127.0.0.1/x"
        r = subprocess.run([BIN], env=env, capture_output=True, text=True, timeout=30)
        check(r.returncode == 78 and "cfg.error" in r.stdout,
              "ftp:// source refused as a config error (rc %d)" % r.returncode)
    finally:
        for lane, (p, log) in daemons.items():
            if p.poll() is None:
                p.kill()
                p.wait()
        if sub:
            sub.stop()
        if snap and snap.srv:
            try:
                snap.stop()
            except Exception:
                pass
        print("elapsed %.1f s" % (time.monotonic() - t_start))
        if failures:
            print("logs kept in " + tmp)
            for lane, (p, log) in daemons.items():
                print("---- %s" % lane)
                with open(log, encoding="utf-8", errors="replace") as f:
                    print("".join(f.readlines()[-30:]))
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("%d failed" % len(failures))
    return 1 if failures else 0


def gatetest_ts(s):
    """Seconds since the epoch of an RFC 3339 UTC time with milliseconds."""
    import datetime
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


if __name__ == "__main__":
    sys.exit(main())
