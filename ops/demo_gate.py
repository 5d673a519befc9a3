#!/usr/bin/python3
"""Plays sample gate traffic against running daemons and prints what the gate did:
for each vehicle the decision (result, reasons, the LED text) and the barrier's
states, and at the end how many of the passages the core received on Kafka.

Tooling for ops/demo.sh, not part of the gate: the daemons (verifier, one
barrier-actuator per lane, the simulated barriers) are started by demo.sh; this
script only does what the field would do. A vehicle drives onto the lane's loop
(the simulator's control coil 8, written with a raw Modbus TCP request), the
camera's plate reads arrive on MQTT (mosquitto_pub), and the vehicle leaves the
loop once the barrier is up (or at once when it stays shut). Alert level changes go
through `ecogatectl policy`, audited like an operator's.

With --camera FRAMES the gate's vision runs too, after the traffic: on the camera
lane (DEMO_CAMERA_LANE, added to the demo's policy as an entry lane) each sample
frame of FRAMES (gen_frames.py output: JPEGs and labels.csv) is put in front of the
camera -- made the only file of camera-capture's replay folder DEMO_CAMERA_DIR --
and the lane is triggered with a trigger.v1 as its loop detector would; camera-capture
takes its burst, darknet-lpr reads the frames, the verifier decides. Per frame it
prints the expected plate, the reads (text, confidence) and the decision, and then a
summary line. Misreads are shown, never a failure: the models are early (see
models/MODEL_CARD.md), the path is what this shows.

    demo_gate.py TRAFFIC.json [--camera FRAMES]

Environment: ECOGATE_SITE, ECOGATE_MQTT_PORT, ECOGATE_KAFKA_BROKERS, ECOGATECTL,
DEMO_SIM_PORTS ("lane=port,lane=port"), DEMO_STATE (a folder for the policy file and
the daemons' logs); with --camera DEMO_CAMERA_LANE (in-2), DEMO_CAMERA_DIR,
DEMO_CAMERA_BURST (camera-capture's burst.count, 3) and DEMO_LPR_LOG (darknet-lpr's
log, to see its frames processed). Every wait has a deadline; a step that times out
is reported and the demo goes on.
"""
import csv
import json
import os
import queue
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid

ENV = os.environ
SITE = ENV.get("ECOGATE_SITE", "demo")
MQTT = ENV["ECOGATE_MQTT_PORT"]
KAFKA = ENV["ECOGATE_KAFKA_BROKERS"]
CTL = ENV["ECOGATECTL"]
STATE = ENV["DEMO_STATE"]
CAM_LANE = ENV.get("DEMO_CAMERA_LANE", "in-2")
CAM_BURST = int(ENV.get("DEMO_CAMERA_BURST", "3"))
SIMS = dict(p.split("=") for p in ENV.get("DEMO_SIM_PORTS", "").split(",") if p)
BASE = "ecogate/v1/%s/" % SITE
RESULT_ZH = {"allow": "允许通行", "deny": "禁止通行", "review": "人工复核"}
COLOUR_ZH = {"blue": "蓝", "yellow": "黄", "green": "绿", "yellow_green": "黄绿",
             "white": "白", "black": "黑", "other": "其他"}


def now_ts():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (
        int(t * 1000) % 1000)


def new_id():
    """A UUIDv7 (time-ordered), the kind our producers mint."""
    ms = int(time.time() * 1000)
    r = uuid.uuid4().int
    v = (ms << 80) | (0x7 << 76) | ((r >> 64) & 0x0FFF) << 64 | \
        (0b10 << 62) | (r & ((1 << 62) - 1))
    return str(uuid.UUID(int=v))


class Watch:
    """One mosquitto_sub on the site's decisions and barrier states; messages are
    queued per (kind, lane) for the steps to wait on."""

    def __init__(self):
        self.q = {}
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(
            ["mosquitto_sub", "-p", MQTT, "-V", "mqttv5", "-q", "1", "-F", "%t\t%p",
             "-t", BASE + "lane/+/decision", "-t", BASE + "lane/+/barrier/state",
             "-t", BASE + "lane/+/plate",
             "-t", BASE + "probe"],
            stdout=subprocess.PIPE, text=True, encoding="utf-8")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            topic, _, payload = line.rstrip("\n").partition("\t")
            parts = topic.split("/")
            if parts[-1] == "probe":
                key = ("probe", "")
            elif parts[-1] == "decision":
                key = ("decision", parts[4])
            elif parts[-1] == "plate":
                key = ("plate", parts[4])
            else:
                key = ("state", parts[4])
            try:
                doc = json.loads(payload) if key[0] != "probe" else payload
            except ValueError:
                continue
            self.queue(key).put(doc)

    def queue(self, key):
        with self.lock:
            return self.q.setdefault(key, queue.Queue())

    def get(self, key, deadline):
        try:
            return self.queue(key).get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None

    def drain(self, key):
        q, out = self.queue(key), []
        while not q.empty():
            out.append(q.get_nowait())
        return out

    def ready(self):
        """Waits until the subscription is live (a probe comes back)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pub(BASE + "probe", "probe")
            if self.get(("probe", ""), time.monotonic() + 0.3) is not None:
                return True
        return False

    def close(self):
        self.proc.terminate()
        self.proc.wait()


def pub(topic, payload, retain=False):
    cmd = ["mosquitto_pub", "-p", MQTT, "-V", "mqttv5", "-q", "1", "-t", topic,
           "-m", payload]
    if retain:
        cmd.append("-r")
    subprocess.run(cmd, check=True, timeout=10)


def set_loop(lane, on):
    """Writes the simulator's loop coil (Modbus function 5, coil 8)."""
    port = SIMS.get(lane)
    if port is None:
        return
    pdu = struct.pack(">BHH", 5, 8, 0xFF00 if on else 0)
    req = struct.pack(">HHHB", 1, 0, len(pdu) + 1, 1) + pdu
    with socket.create_connection(("127.0.0.1", int(port)), timeout=3) as s:
        s.sendall(req)
        s.recv(64)


def ctl(*args):
    r = subprocess.run([CTL] + list(args), capture_output=True, text=True, timeout=60)
    out = (r.stdout + r.stderr).strip()
    return r.returncode, out


def load_policy(spec):
    """Stores and publishes the demo's policy: the built-in default table with the
    demo's lanes and rules, under a version new to this run."""
    rc, out = ctl("policy", "show", "--json")
    doc = json.loads(out.splitlines()[-1]) if rc == 0 else None
    if doc is None:
        print("policy show failed: %s" % out)
        return False
    doc.update(spec)
    doc["version"] = time.strftime("demo-%Y%m%d-%H%M%S")
    doc["alert_level"] = "none"
    doc.pop("alert_reason", None)
    path = os.path.join(STATE, "policy.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=2)
    rc, out = ctl("policy", "load", path, "--operator", "demo",
                  "--reason", "演示：车道与准入规则")
    print("  ecogatectl policy load: %s" % (out.splitlines()[-1] if out else rc))
    return rc == 0 and policy_loaded(doc["version"])


def policy_loaded(version):
    """Waits (10 s) for the verifier's log line policy.loaded of version."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(os.path.join(STATE, "verifier.log"), encoding="utf-8",
                  errors="replace") as f:
            for line in f:
                if '"policy.loaded"' in line and '"version":"%s"' % version in line:
                    return True
        time.sleep(0.1)
    return False


def vehicle(step, watch):
    lane = step["lane"]
    watch.drain(("state", lane))
    set_loop(lane, True)
    for plate, conf in step["reads"]:
        read = {"schema": "ecogate.plate-read.v1", "event_id": new_id(),
                "site": SITE, "lane": lane, "ts": now_ts(), "plate": plate,
                "colour": step["colour"], "confidence": conf, "source": "lpr",
                "camera": "cam-" + lane}
        pub(BASE + "lane/%s/plate" % lane, json.dumps(read, ensure_ascii=False))
    d = watch.get(("decision", lane), time.monotonic() + 10)
    plates = ",".join("%s(%.2f)" % (p, c) for p, c in step["reads"])
    print("\n[%s] %s  %s" % (lane, plates, step.get("note", "")))
    if d is None:
        print("  no decision within 10 s: see %s/verifier.log" % STATE)
        set_loop(lane, False)
        return None
    print("  决定 %-7s %s  车牌 %s(%s)  策略 %s/%s  登记 %s" % (
        d["result"], RESULT_ZH.get(d["result"], ""), d["plate"],
        COLOUR_ZH.get(d["colour"], d["colour"]), d.get("policy_version"),
        d.get("alert_level"), d.get("registry", {}).get("source")))
    print("  原因 %s" % ", ".join(d["reasons"]))
    print("  显示 %s" % " | ".join(d["display"]["lines"]))
    states = []
    if d["result"] == "allow" and lane in SIMS:
        deadline = time.monotonic() + 10
        while "open" not in states:
            s = watch.get(("state", lane), deadline)
            if s is None:
                break
            states.append(s["state"])
    set_loop(lane, False)
    if "open" in states:
        deadline = time.monotonic() + 10
        while states[-1] != "closed":
            s = watch.get(("state", lane), deadline)
            if s is None:
                break
            states.append(s["state"])
    if d["result"] == "allow" and lane in SIMS:
        print("  道闸 %s" % (" -> ".join(states) if states else
                             "no barrier state within 10 s"))
    else:
        print("  道闸 stays closed")
    return d


def kafka_count(ids, deadline):
    """How many of ids the core has on ecogate.passage.v1 (read with kcat)."""
    seen = set()
    while time.monotonic() < deadline:
        r = subprocess.run(["kcat", "-b", KAFKA, "-C", "-t", "ecogate.passage.v1",
                            "-o", "-500", "-e", "-q", "-f", "%s\n"],
                           capture_output=True, text=True, timeout=60)
        for line in r.stdout.splitlines():
            try:
                seen.add(json.loads(line).get("event_id"))
            except ValueError:
                pass
        if ids <= seen:
            break
        time.sleep(0.5)
    return len(ids & seen)


class LogTail:
    """New JSON lines of a daemon's log since the last call."""

    def __init__(self, path):
        self.path, self.pos, self.part = path, 0, ""
        try:
            self.pos = os.path.getsize(path)
        except OSError:
            pass

    def events(self):
        out = []
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                f.seek(self.pos)
                data = f.read()
                self.pos = f.tell()
        except OSError:
            return out
        lines = (self.part + data).split("\n")
        self.part = lines.pop()
        for line in lines:
            try:
                j = json.loads(line)
            except ValueError:
                continue
            if isinstance(j, dict):
                out.append(j)
        return out


def trigger(lane, tid, occupied):
    """The lane's loop detector: trigger.v1 (schemas/trigger.v1.schema.json)."""
    pub(BASE + "lane/%s/trigger" % lane, json.dumps({
        "schema": "ecogate.trigger.v1", "trigger_id": tid, "site": SITE, "lane": lane,
        "source": "loop", "occupied": occupied, "ts": now_ts()}))


def grouped(reads):
    """'沪A12345(0.91)x3, 沪A12845(0.40)' in order of first appearance."""
    seen = {}
    for plate, conf in reads:
        seen.setdefault("%s(%.2f)" % (plate, conf), []).append(1)
    return ", ".join(k + ("x%d" % len(v) if len(v) > 1 else "") for k, v in seen.items())


def camera_vehicle(frames, row, watch, lpr):
    """One sample frame through camera -> darknet-lpr -> verifier; returns
    (reads, reads below darknet-lpr's threshold, decision or None)."""
    lane, view = CAM_LANE, ENV["DEMO_CAMERA_DIR"]
    # The camera's replay folder holds one file: replace it atomically (a dot name
    # is not replayed) and let the camera read it once before the vehicle "arrives".
    shutil.copyfile(os.path.join(frames, row["file"]), os.path.join(view, ".next.jpg"))
    os.replace(os.path.join(view, ".next.jpg"), os.path.join(view, "lane.jpg"))
    time.sleep(0.3)
    watch.drain(("plate", lane))
    watch.drain(("decision", lane))
    lpr.events()
    tid = new_id()
    trigger(lane, tid, True)
    deadline = time.monotonic() + 15
    log, reads = [], []

    def done():
        return [e for e in log if e.get("event") == "frame.processed" and
                e.get("trigger_id") == tid]

    # every frame of the burst processed by darknet-lpr (its log), the reads it
    # published for them collected as they come
    while len(done()) < CAM_BURST and time.monotonic() < deadline:
        log += lpr.events()
        r = watch.get(("plate", lane), time.monotonic() + 0.1)
        if r is not None and r.get("trigger_id") == tid:
            reads.append(r)
    processed = done()
    # the last reads may still be on their way; then the verifier closes its
    # fusion window (0.8 s) and decides
    decision = None
    deadline = time.monotonic() + (3.0 if processed else 0.5)
    while time.monotonic() < deadline and decision is None:
        r = watch.get(("plate", lane), time.monotonic() + 0.05)
        if r is not None and r.get("trigger_id") == tid:
            reads.append(r)
        ids = set(r["event_id"] for r in reads)
        for d in watch.drain(("decision", lane)):
            if ids & set(d.get("fused", {}).get("read_event_ids", [])):
                decision = d
        if not reads and time.monotonic() > deadline - 2.5:
            break
    trigger(lane, new_id(), False)
    fids = set(e.get("frame_id") for e in processed)
    low = [(e["plate"], e["confidence"]) for e in log
           if e.get("event") == "plate.low_confidence" and e.get("frame_id") in fids]
    unread = sum(1 for e in log if e.get("event") == "plate.unread" and
                 e.get("frame_id") in fids)
    boxes = sum(int(e.get("boxes", 0)) for e in processed)
    print("\n[%s] %s  期望 %s  (%s, %s)" % (lane, row["file"], row["plate"], row["kind"],
                                         row["conditions"]))
    print("  识别 %s  (%d of %d frames, %d plate boxes%s%s)" % (
        grouped((r["plate"], r["confidence"]) for r in reads) or "none",
        len(processed), CAM_BURST, boxes,
        "; below read.min_confidence: " + grouped(low) if low else "",
        "; %d unreadable" % unread if unread else ""))
    if decision is not None:
        d = decision
        print("  决定 %-7s %s  车牌 %s(%s)  原因 %s" % (
            d["result"], RESULT_ZH.get(d["result"], ""), d["plate"],
            COLOUR_ZH.get(d["colour"], d["colour"]), ", ".join(d["reasons"])))
        print("  %s" % ("read right" if d["plate"] == row["plate"] else
                        "misread: expected %s" % row["plate"]))
    elif reads:
        print("  no decision within 3 s: see %s/verifier.log" % STATE)
    elif boxes:
        print("  no plate read, so no passage")
    else:
        print("  no plate found, so no passage")
    return reads, low, decision


def camera_path(frames, watch):
    with open(os.path.join(frames, "labels.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    lpr = LogTail(ENV.get("DEMO_LPR_LOG", os.path.join(STATE, "darknet-lpr.log")))
    print("\n== camera path: %d sample frames (%s) on lane %s: camera-capture -> "
          "darknet-lpr -> verifier" % (len(rows), frames, CAM_LANE))
    n_read = n_right = n_low = 0
    for row in rows:
        reads, low, d = camera_vehicle(frames, row, watch, lpr)
        n_read += 1 if reads else 0
        n_right += 1 if d is not None and d["plate"] == row["plate"] else 0
        n_low += 1 if low and not reads else 0
    # "read": darknet-lpr published a plate for the frame; "exactly right": the
    # verifier's passage has the frame's plate, every character
    print("\n== camera path: %d frames, %d plates read, %d exactly right (%d more read "
          "below read.min_confidence only; models %s)" % (
              len(rows), n_read, n_right, n_low, model_versions()))


def model_versions():
    try:
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                               "models", "versions.txt"), encoding="utf-8") as f:
            return " ".join(line.strip() for line in f if "=" in line)
    except OSError:
        return "unknown"


def main(argv):
    frames = None
    if len(argv) == 4 and argv[2] == "--camera":
        frames = argv[3]
    elif len(argv) != 2:
        print("usage: demo_gate.py TRAFFIC.json [--camera FRAMES]")
        return 2
    with open(argv[1], encoding="utf-8") as f:
        traffic = json.load(f)
    watch = Watch()
    if not watch.ready():
        print("demo: mosquitto_sub did not come up")
        return 1
    policy = dict(traffic["policy"])
    if frames is not None and CAM_LANE not in [ln["id"] for ln in policy["lanes"]]:
        policy["lanes"] = policy["lanes"] + [{"id": CAM_LANE, "direction": "in"}]
    if not load_policy(policy):
        return 1
    ids, results, order = set(), {}, []
    for step in traffic["steps"]:
        if "alert" in step:
            rc, out = ctl("policy", "set-alert", step["alert"], "--operator", "demo",
                          "--reason", step["reason"])
            print("\n== 预警 %s: %s" % (step["alert"], out.splitlines()[-1] if out
                                        else rc))
            # The next vehicle must meet the new policy: wait for the verifier to
            # say it loaded this version ("policy V (...) stored and published").
            if rc == 0 and not policy_loaded(out.split()[1]):
                print("  the verifier did not load it within 10 s")
            continue
        d = vehicle(step, watch)
        if d is not None:
            ids.add(d["event_id"])
            order.append(d["event_id"])
            results[d["result"]] = results.get(d["result"], 0) + 1
    n = kafka_count(ids, time.monotonic() + 20)
    # For demo.sh's ledger proof: the passages in the order they were decided.
    with open(os.path.join(STATE, "passages.txt"), "w", encoding="utf-8") as f:
        f.writelines(i + "\n" for i in order)
    print("\n== %d passages: %s; %d of them on Kafka ecogate.passage.v1 (read "
          "back with kcat)" % (len(ids), ", ".join("%s %d" % kv for kv in
                                                  sorted(results.items())), n))
    if frames is not None:
        camera_path(frames, watch)
    watch.close()
    return 0 if n == len(ids) and len(ids) == sum(
        1 for s in traffic["steps"] if "lane" in s) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
