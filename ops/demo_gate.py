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

    demo_gate.py TRAFFIC.json

Environment: ECOGATE_SITE, ECOGATE_MQTT_PORT, ECOGATE_KAFKA_BROKERS, ECOGATECTL,
DEMO_SIM_PORTS ("lane=port,lane=port"), DEMO_STATE (a folder for the policy file).
Every wait has a deadline; a step that times out is reported and the demo goes on.
"""
import json
import os
import queue
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


def main(argv):
    with open(argv[1], encoding="utf-8") as f:
        traffic = json.load(f)
    watch = Watch()
    if not watch.ready():
        print("demo: mosquitto_sub did not come up")
        return 1
    if not load_policy(traffic["policy"]):
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
    watch.close()
    # For demo.sh's ledger proof: the passages in the order they were decided.
    with open(os.path.join(STATE, "passages.txt"), "w", encoding="utf-8") as f:
        f.writelines(i + "\n" for i in order)
    print("\n== %d passages: %s; %d of them on Kafka ecogate.passage.v1 (read "
          "back with kcat)" % (len(ids), ", ".join("%s %d" % kv for kv in
                                                  sorted(results.items())), n))
    return 0 if n == len(ids) and len(ids) == sum(
        1 for s in traffic["steps"] if "lane" in s) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
