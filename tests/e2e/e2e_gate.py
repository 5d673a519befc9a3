#!/usr/bin/python3
"""The gate end to end, as a scenario table (issue 3, "Tests and benchmarks").

Everything a truck meets at the gate runs here on the real servers of the CTest
"servers" fixture and the built daemons: the vehicle registry is a CSV written by this
test and imported with `ecogatectl registry import` (PostgreSQL, then Kafka
ecogate.registry.v1, from which the verifier fills Redis); the policy is loaded and
its alert level changed with `ecogatectl policy load / set-alert` (the retained
config/policy message); each lane has a barrier-actuator driving a simulated barrier
(tests/sim/modbus_barrier) over Modbus TCP. A case is one vehicle: it drives onto the
lane's loop (coil 8 of the simulator, so the actuator reports the trigger that ends the
verifier's hold), the cameras publish plate reads, and then the test judges, with
clients independent of our code:
  - the decision on MQTT (mosquitto_sub): result, reason codes, the LED lines, all
    written by hand below from the policy table of this file and the rules of
    services/verifier/decide.h, never copied from the daemon's output;
  - the simulator's input registers, read over a raw Modbus TCP socket here: the open
    pulse count goes up by exactly one for an allow and stays put otherwise;
  - the barrier command and its answer on the response topic;
  - the passage on Kafka (kcat): schema-valid, equal to the decision, exactly one per
    case (matched by event_id), none for a plate other than the case's.
An allowed vehicle then drives off the loop and the barrier must close behind it.

The table covers each alert level (none/blue/yellow/orange/red) x vehicle class x
emission stage at and just below the level's minimum, new energy, lists (whitelist,
blacklist, exemption), unknown vehicle (deny, then review after a policy change),
unknown stage, low confidence, a duplicated and a late read (one passage), conflicting
reads voted by per-character confidence, the exit lane, and a barrier command that
expires while the actuator is stopped (the barrier must stay down, the answer
rejected-expired).

Every wait is on a condition with a deadline. The site id, the plates and the fleet
name are unique to the run, so runs (and other tests on the same servers) do not see
each other. Prints ok/FAIL per assertion; exits 1 when any failed.

Environment: VERIFIER, ACTUATOR, SIMULATOR, ECOGATECTL (the binaries),
ECOGATE_{MQTT,REDIS,KAFKA}_PORT, ECOGATE_PG_CONNINFO, ECOGATE_OPS, ECOGATE_SOURCE_DIR.
"""
import csv
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from gatetest import FAILURES as failures, check, log_events, uuid7, wait_for  # noqa: E402
import gatetest  # noqa: E402

ENV = os.environ
SRC = ENV["ECOGATE_SOURCE_DIR"]
OPS = ENV["ECOGATE_OPS"]
MQTT = ENV["ECOGATE_MQTT_PORT"]
REDIS = ENV["ECOGATE_REDIS_PORT"]
KAFKA = "127.0.0.1:" + ENV["ECOGATE_KAFKA_PORT"]
PG = ENV["ECOGATE_PG_CONNINFO"]
VERIFIER = ENV["VERIFIER"]
ACTUATOR = ENV["ACTUATOR"]
SIMULATOR = ENV["SIMULATOR"]
CTL = ENV["ECOGATECTL"]

# How long the verifier's barrier commands are valid. Short, so the expired-command
# case waits little; long enough that a command on a busy machine arrives in time.
BARRIER_EXPIRY_MS = 5000

T0 = time.monotonic()
VLOG = None     # the verifier's log, set by main()


def now_ts():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def ts_ms(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000


# ---------------------------------------------------------------- Modbus TCP

class Modbus:
    """A few Modbus TCP requests over a plain socket (no libmodbus, so the reading
    side shares no code with the actuator): read input registers (4), read discrete
    inputs (2), write a single coil (5)."""

    def __init__(self, port):
        self.so = socket.create_connection(("127.0.0.1", port), timeout=3)
        self.tid = 0

    def _recv(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.so.recv(n - len(buf))
            if not chunk:
                raise IOError("modbus: connection closed")
            buf += chunk
        return buf

    def _call(self, pdu):
        self.tid = (self.tid + 1) & 0xFFFF
        self.so.sendall(struct.pack(">HHHB", self.tid, 0, len(pdu) + 1, 1) + pdu)
        tid, proto, length, _unit = struct.unpack(">HHHB", self._recv(7))
        body = self._recv(length - 1)
        if tid != self.tid or proto != 0 or body[0] != pdu[0]:
            raise IOError("modbus: bad answer %r to %r" % (body, pdu))
        return body

    def input_regs(self, addr, n):
        b = self._call(struct.pack(">BHH", 4, addr, n))
        return list(struct.unpack(">%dH" % n, b[2:2 + 2 * n]))

    def inputs(self, addr, n):
        b = self._call(struct.pack(">BHH", 2, addr, n))
        return [(b[2 + i // 8] >> (i % 8)) & 1 for i in range(n)]

    def write_coil(self, addr, on):
        self._call(struct.pack(">BHH", 5, addr, 0xFF00 if on else 0))

    def close(self):
        self.so.close()


REG_OPENS, REG_CLOSES, REG_VIOLATIONS, REG_POS = 0, 1, 2, 3
COIL_LOOP = 8
IN_UP, IN_DOWN = 0, 1


# ---------------------------------------------------------------- MQTT observer

class Bus:
    """One mosquitto_sub on everything of the site, read by a thread into a list of
    (topic, retained, correlation, payload). Waits scan the list from a mark."""

    def __init__(self, site, path):
        self.msgs = []
        self.lock = threading.Lock()
        self.out = open(path, "w", encoding="utf-8")
        self.p = subprocess.Popen(
            ["mosquitto_sub", "-p", MQTT, "-V", "mqttv5", "-q", "1",
             "-t", "ecogate/v1/%s/#" % site, "-F", "%t\t%r\t%D\t%p"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for raw in self.p.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.out.write(line + "\n")
            self.out.flush()
            parts = line.split("\t", 3)
            if len(parts) != 4:
                continue
            topic, retained, corr, payload = parts
            try:
                doc = json.loads(payload)
            except ValueError:
                doc = None
            with self.lock:
                self.msgs.append((topic, retained == "1", corr, doc, payload))

    def mark(self):
        with self.lock:
            return len(self.msgs)

    def find(self, pred, since=0):
        with self.lock:
            return [m for m in self.msgs[since:] if pred(m)]

    def wait(self, pred, since, timeout, what):
        r = wait_for(lambda: self.find(pred, since), timeout, what)
        return r[0] if r else None

    def stop(self):
        self.p.terminate()
        self.p.wait()
        self.out.close()


def pub(topic, payloads, retain=False):
    """Publishes each payload (QoS 1) over one connection, in order."""
    cmd = ["mosquitto_pub", "-p", MQTT, "-V", "mqttv5", "-q", "1", "-t", topic, "-l"]
    if retain:
        cmd.append("-r")
    subprocess.run(cmd, input="".join(p + "\n" for p in payloads), text=True,
                   check=True, timeout=20)


def clear_retained(topic):
    subprocess.run(["mosquitto_pub", "-p", MQTT, "-q", "1", "-r", "-n", "-t", topic],
                   timeout=20)


# ---------------------------------------------------------------- the policy

STAGES = "X0123456D"      # rank order of policy.h: X < 0 < ... < 6 < D
CLASSES = ["heavy_diesel", "light_truck", "gas_truck", "new_energy", "passenger",
           "nrmm", "own_fleet"]
# This test's own table (alert level -> class -> minimum stage). It differs from the
# built-in default at blue (heavy diesel 国三) and red (nrmm 国四, own fleet 国五), so
# a verifier still on its default policy fails those cases.
TABLE = {
    "none":   dict.fromkeys(CLASSES, "X"),
    "blue":   dict(dict.fromkeys(CLASSES, "X"), heavy_diesel="3"),
    "yellow": {"heavy_diesel": "4", "light_truck": "3", "gas_truck": "4",
               "new_energy": "X", "passenger": "X", "nrmm": "2", "own_fleet": "4"},
    "orange": {"heavy_diesel": "5", "light_truck": "4", "gas_truck": "5",
               "new_energy": "X", "passenger": "X", "nrmm": "3", "own_fleet": "5"},
    "red":    {"heavy_diesel": "6", "light_truck": "5", "gas_truck": "6",
               "new_energy": "X", "passenger": "X", "nrmm": "4", "own_fleet": "5"},
}
LEVEL_ZH = {"none": "无预警", "blue": "蓝色预警", "yellow": "黄色预警",
            "orange": "橙色预警", "red": "红色预警"}
STAGE_ZH = {"0": "国零", "1": "国一", "2": "国二", "3": "国三", "4": "国四",
            "5": "国五", "6": "国六", "D": "电动"}
LANE_IN, LANE_OUT = "in-1", "out-1"


def policy_doc(version, level, unknown_vehicle):
    return {"schema": "ecogate.policy.v1", "version": version, "alert_level": level,
            "min_stage": TABLE, "unknown_vehicle": unknown_vehicle,
            "unknown_stage": "review", "review_below_confidence": 0.8,
            "lanes": [{"id": LANE_IN, "direction": "in"},
                      {"id": LANE_OUT, "direction": "out"}],
            "fusion": {"window_ms": 600, "early_close_reads": 2,
                       "early_close_confidence": 0.9, "hold_ms": 10000}}


# ---------------------------------------------------------------- vehicles

# Class -> how the registry describes such a vehicle: 类别, 车辆类型, 燃料种类, plate
# colour (CSV word, read colour) and plate shape. policy_classify() must put each in
# its class; new energy twice: by fuel (pure electric, 国 stage D) and by plate alone
# (a plug-in hybrid, stage 6, on a green new-energy plate).
KINDS = {
    "heavy_diesel": ("外部", "Q11", "柴油", "黄", "yellow", "std"),
    "light_truck":  ("外部", "H31", "柴油", "蓝", "blue", "std"),
    "gas_truck":    ("外部", "Q11", "天然气", "黄", "yellow", "std"),
    "nev_electric": ("外部", "Q11", "电", "黄绿", "yellow_green", "nev_large"),
    "nev_hybrid":   ("外部", "H41", "混合动力", "绿", "green", "nev_small"),
    "passenger":    ("外部", "K33", "汽油", "蓝", "blue", "std"),
    "nrmm":         ("非道路", "J11", "柴油", "黄", "yellow", "std"),
    "own_fleet":    ("自有", "H17", "柴油", "黄", "yellow", "std"),
}
KIND_CLASS = {"nev_electric": "new_energy", "nev_hybrid": "new_energy"}
CATEGORY = {"外部": "external", "非道路": "nrmm", "自有": "own_fleet"}
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


class Case:
    def __init__(self, name, level, expect, reasons, kind=None, stage=None,
                 lane=LANE_IN, registered=True, listing=None, why=None, **kw):
        self.name = name
        self.level = level
        self.kind = kind
        self.stage = stage            # None: not recorded
        self.lane = lane
        self.registered = registered
        self.listing = listing        # (名单, 名单原因, 豁免类型) or None
        self.expect = expect          # allow / deny / review
        self.reasons = reasons        # primary code(s), context codes added below
        self.why = why                # the LED's reason word after the verdict
        self.reads = kw.get("reads", "pair")
        self.unknown_vehicle = kw.get("unknown_vehicle", "deny")
        self.barrier = kw.get("barrier", "open" if expect == "allow" else "none")
        self.plate = None
        self.colour = None


def stage_cases():
    """At and just below each level's minimum, per class; classes without a minimum
    at a level (X) are allowed without looking at the stage."""
    rows = [
        # level    kind            stage  result   primary code
        ("none",   "heavy_diesel", "3", "allow", "no_restriction"),
        ("none",   "gas_truck",    "3", "allow", "no_restriction"),
        ("none",   "nrmm",         "1", "allow", "no_restriction"),
        ("blue",   "heavy_diesel", "3", "allow", "stage_ok"),
        ("blue",   "heavy_diesel", "2", "deny",  "stage_below_min"),
        ("blue",   "light_truck",  "2", "allow", "no_restriction"),
        ("yellow", "heavy_diesel", "4", "allow", "stage_ok"),
        ("yellow", "heavy_diesel", "3", "deny",  "stage_below_min"),
        ("yellow", "light_truck",  "3", "allow", "stage_ok"),
        ("yellow", "light_truck",  "2", "deny",  "stage_below_min"),
        ("yellow", "gas_truck",    "4", "allow", "stage_ok"),
        ("yellow", "gas_truck",    "3", "deny",  "stage_below_min"),
        ("yellow", "nrmm",         "2", "allow", "stage_ok"),
        ("yellow", "nrmm",         "1", "deny",  "stage_below_min"),
        ("yellow", "own_fleet",    "4", "allow", "stage_ok"),
        ("yellow", "own_fleet",    "3", "deny",  "stage_below_min"),
        ("yellow", "nev_electric", "D", "allow", "no_restriction"),
        ("yellow", "passenger",    "3", "allow", "no_restriction"),
        ("orange", "heavy_diesel", "5", "allow", "stage_ok"),
        ("orange", "heavy_diesel", "4", "deny",  "stage_below_min"),
        ("orange", "light_truck",  "4", "allow", "stage_ok"),
        ("orange", "light_truck",  "3", "deny",  "stage_below_min"),
        ("orange", "gas_truck",    "5", "allow", "stage_ok"),
        ("orange", "gas_truck",    "4", "deny",  "stage_below_min"),
        ("orange", "nrmm",         "3", "allow", "stage_ok"),
        ("orange", "nrmm",         "2", "deny",  "stage_below_min"),
        ("orange", "own_fleet",    "5", "allow", "stage_ok"),
        ("orange", "own_fleet",    "4", "deny",  "stage_below_min"),
        ("orange", "nev_hybrid",   "6", "allow", "no_restriction"),
        ("red",    "heavy_diesel", "6", "allow", "stage_ok"),
        ("red",    "heavy_diesel", "5", "deny",  "stage_below_min"),
        ("red",    "light_truck",  "5", "allow", "stage_ok"),
        ("red",    "light_truck",  "4", "deny",  "stage_below_min"),
        ("red",    "gas_truck",    "6", "allow", "stage_ok"),
        ("red",    "gas_truck",    "5", "deny",  "stage_below_min"),
        ("red",    "nrmm",         "4", "allow", "stage_ok"),
        ("red",    "nrmm",         "3", "deny",  "stage_below_min"),
        ("red",    "own_fleet",    "5", "allow", "stage_ok"),
        ("red",    "own_fleet",    "4", "deny",  "stage_below_min"),
        ("red",    "nev_electric", "D", "allow", "no_restriction"),
        ("red",    "passenger",    "2", "allow", "no_restriction"),
    ]
    out = []
    for level, kind, stage, result, code in rows:
        out.append(Case("%s %s %s" % (level, kind, STAGE_ZH[stage]), level, result,
                        [code],
                        kind=kind, stage=stage,
                        why="排放不达标" if code == "stage_below_min" else None))
    return out


def special_cases():
    hd = "heavy_diesel"
    return [
        Case("red whitelist 国四", "red", "allow", ["whitelist"], kind=hd, stage="4",
             listing=("白名单", "本厂长期合作车辆", ""), why="白名单"),
        Case("red blacklist 国六", "red", "deny", ["blacklist"], kind=hd, stage="6",
             listing=("黑名单", "尾气超标被通报", ""), why="黑名单"),
        Case("red exemption 豁免 国五", "red", "allow", ["exempt", "exempt.livelihood"],
             kind=hd, stage="5", listing=("豁免", "民生保障物资运输", "民生保障"),
             why="豁免"),
        Case("red stage not recorded", "red", "review", ["stage_unknown"], kind=hd,
             stage=None),
        Case("red unknown vehicle, policy deny", "red", "deny", ["unknown_vehicle"],
             kind=hd, registered=False),
        Case("red low confidence", "red", "review", ["low_confidence"], kind=hd,
             stage="6", reads="low", why="车牌待确认"),
        Case("red duplicate and late reads", "red", "allow", ["stage_ok"], kind=hd,
             stage="6", reads="duplicate"),
        Case("red conflicting reads voted per character", "red", "allow", ["stage_ok"],
             kind=hd, stage="6", reads="conflict"),
        Case("red exit lane, unknown vehicle", "red", "allow", ["exit_lane"], kind=hd,
             registered=False, lane=LANE_OUT),
        Case("red exit lane, blacklisted", "red", "allow", ["exit_lane"], kind=hd,
             stage="6", lane=LANE_OUT, listing=("黑名单", "拖欠环保整改", "")),
        Case("red barrier command expired", "red", "allow", ["stage_ok"], kind=hd,
             stage="6", barrier="expired"),
        Case("red unknown vehicle, policy review", "red", "review",
             ["unknown_vehicle"], kind=hd, registered=False, unknown_vehicle="review"),
    ]


def assign_plates(cases, rnd):
    """Plates unique to the run: a province and a 3-digit run number drawn at random,
    then per case a letter (rotating) and the case number. Neighbouring cases differ
    in at least two characters, so no case looks like the vehicle before it still
    standing on the loop."""
    prov = rnd.choice("沪苏浙皖")
    run = rnd.randrange(100, 1000)
    l0 = rnd.randrange(len(LETTERS))
    for i, c in enumerate(cases):
        letter = LETTERS[(l0 + i) % len(LETTERS)]
        digits = "%03d%02d" % (run, i)
        shape = KINDS[c.kind][5]
        if shape == "nev_large":
            c.plate = prov + letter + digits + "D"
        elif shape == "nev_small":
            c.plate = prov + letter + "F" + digits
        else:
            c.plate = prov + letter + digits
        c.colour = KINDS[c.kind][4]


def expected_reasons(c):
    """decide.h: the primary code(s), then class.<class> for a registered vehicle,
    alert.<level>, registry.<source> (Redis answers every lookup here)."""
    r = list(c.reasons)
    if c.registered:
        r.append("class." + KIND_CLASS.get(c.kind, c.kind))
    r += ["alert." + c.level, "registry.redis"]
    return r


def expected_lines(c):
    """The LED (decide.c display()): plate; 排放阶段 and the stage, or 未登记车辆; the
    alert level; the verdict, with the reason word when there is one."""
    if not c.registered:
        second = "未登记车辆"
    else:
        second = "排放阶段 " + (STAGE_ZH[c.stage] if c.stage else "未知")
    verdict = {"allow": "允许通行", "deny": "禁止通行", "review": "人工核验"}[c.expect]
    return [c.plate, second, LEVEL_ZH[c.level],
            verdict + (" " + c.why if c.why else "")]


def registry_csv(path, cases, fleet):
    head = ["车牌号码", "号牌颜色", "类别", "车辆类型", "燃料种类", "排放阶段",
            "排放阶段依据", "车队名称", "名单", "名单原因", "豁免类型", "审批编号"]
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(head)
        for c in cases:
            if not c.registered:
                continue
            cat, vtype, fuel, colour = KINDS[c.kind][:4]
            lst = c.listing or ("", "", "")
            w.writerow([c.plate, colour, cat, vtype, fuel, c.stage or "",
                        "随车清单" if c.stage else "", fleet, lst[0], lst[1], lst[2],
                        "e2e-%s" % c.plate if lst[0] else ""])


def reads_for(c, site):
    """The plate reads of a case, as plate-read.v1 documents (JSON lines). Returns
    (lines published now, lines published after the decision)."""
    def read(plate, conf, source, eid=None, chars=None):
        r = {"schema": "ecogate.plate-read.v1", "event_id": eid or uuid7(),
             "site": site, "lane": c.lane, "ts": now_ts(), "plate": plate,
             "colour": c.colour, "confidence": conf, "source": source}
        if chars is not None:
            r["char_confidences"] = chars
        return r

    if c.reads == "pair":
        # Two cameras agreeing at >= 0.9: the window closes at once.
        return [read(c.plate, 0.95, "lpr"), read(c.plate, 0.93, "anpr")], []
    if c.reads == "low":
        return [read(c.plate, 0.6, "lpr")], []
    if c.reads == "duplicate":
        # The first read delivered twice (QoS 1 may), a second camera, and after the
        # decision a read of the vehicle still standing there: one passage, two reads.
        r1 = read(c.plate, 0.92, "lpr")
        return [r1, dict(r1), read(c.plate, 0.93, "anpr")], \
            [read(c.plate, 0.95, "lpr")]
    if c.reads == "conflict":
        # Two reads say the last character is another digit, more confidently overall
        # and in the majority; their own per-character confidence for it is tiny. Only
        # per-character voting gives the true plate, which is in the registry (the
        # misread is not). All below 0.9: the window runs to its deadline.
        wrong = c.plate[:-1] + ("7" if c.plate[-1] != "7" else "8")
        n = len(c.plate)
        good = [0.99] * (n - 1) + [0.98]
        bad = [0.99] * (n - 1) + [0.02]
        c.misread = wrong
        return [read(wrong, 0.88, "lpr", chars=bad), read(c.plate, 0.86, "anpr",
                                                          chars=good),
                read(wrong, 0.87, "lpr", chars=bad)], []
    raise ValueError(c.reads)


# ---------------------------------------------------------------- processes

def start_sim(tmp, name, procs):
    """The simulated barrier on a free port in 17000-17999 (it exits 2 when the port
    is taken: try another). Returns (process, port)."""
    for attempt in range(30):
        port = random.randrange(17000, 18000)
        logp = os.path.join(tmp, "sim-%s.%d.log" % (name, attempt))
        log = open(logp, "w")
        p = subprocess.Popen([SIMULATOR, "--port", str(port), "--travel-ms", "300"],
                             stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while p.poll() is None and time.monotonic() < deadline:
            with open(logp) as f:
                if "modbus_barrier.listening port=%d" % port in f.read():
                    procs.append(p)
                    return p, port
            time.sleep(0.02)
        if p.poll() is None:
            p.kill()
        p.wait()
        if p.returncode != 2:
            break
    raise RuntimeError("simulator would not start")


class Gate:
    """One lane: simulator, actuator, and our Modbus connection to the simulator."""

    def __init__(self, site, lane, tmp, procs):
        self.lane = lane
        self.sim, self.port = start_sim(tmp, lane, procs)
        self.log = os.path.join(tmp, "actuator-%s.log" % lane)
        env = dict(ENV)
        env.update({"ECOGATE_SITE": site, "ECOGATE_LANE": lane,
                    "ECOGATE_MQTT_URL": "tcp://127.0.0.1:" + MQTT,
                    "ECOGATE_MQTT_CLIENT_ID": "e2e-%s-%s" % (site, lane),
                    "ECOGATE_MODBUS_TARGET": "tcp://127.0.0.1:%d" % self.port,
                    "ECOGATE_PULSE": "100ms", "ECOGATE_TRAVEL_TIMEOUT": "3s",
                    "ECOGATE_POLL_INTERVAL": "50ms", "ECOGATE_DISPLAY": "log",
                    "ECOGATE_AUTO_CLOSE": "yes", "ECOGATE_AUTO_CLOSE_DELAY": "200ms"})
        self.act = subprocess.Popen([ACTUATOR], env=env,
                                    stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        procs.append(self.act)
        self.mb = Modbus(self.port)

    def regs(self):
        return self.mb.input_regs(0, 4)


def stop_proc(p, what):
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    check(rc == 0, "%s exits 0 on SIGTERM (rc %s)" % (what, rc))


def ctl(args, env):
    r = subprocess.run([CTL] + args, env=env, capture_output=True, text=True,
                       timeout=90)
    if r.returncode != 0:
        print("     ecogatectl %s: rc %d\n%s%s" % (" ".join(args), r.returncode,
                                                 r.stdout, r.stderr))
    return r


def ensure_topics():
    """Our topics, created when missing (auto-create is off on the test broker);
    asking kcat first saves a JVM start per topic that exists."""
    r = subprocess.run(["kcat", "-L", "-J", "-b", KAFKA], capture_output=True,
                       text=True, timeout=60)
    have = set()
    try:
        have = {t["topic"] for t in json.loads(r.stdout)["topics"]}
    except (ValueError, KeyError):
        pass
    for topic, parts, compact in (("ecogate.passage.v1", "3", []),
                                  ("ecogate.registry.v1", "1", ["compact"]),
                                  ("ecogate.audit.v1", "1", [])):
        if topic not in have:
            subprocess.run([os.path.join(OPS, "servers.sh"), "kafka-topic", topic,
                            parts] + compact, check=True, timeout=120)


# ---------------------------------------------------------------- the run

def main():
    rnd = random.Random()
    random.seed()
    site = "e2e-%d-%04x" % (os.getpid() % 100000, rnd.getrandbits(16))
    base = "ecogate/v1/%s/" % site
    fleet = "e2e-" + site
    tmp = tempfile.mkdtemp(prefix="e2e_gate.")
    global VLOG
    vlog = VLOG = os.path.join(tmp, "verifier.log")
    procs = []
    bus = None
    cases = stage_cases() + special_cases()
    assign_plates(cases, rnd)
    print("site %s, %d cases, work dir %s" % (site, len(cases), tmp), flush=True)
    ctl_env = dict(ENV)
    ctl_env.update({"ECOGATE_SITE": site,
                    "ECOGATE_MQTT_URL": "tcp://127.0.0.1:" + MQTT,
                    "ECOGATE_KAFKA_BROKERS": KAFKA})
    vdec = gatetest.validator(SRC, "passage-decision.v1")
    vcmd = gatetest.validator(SRC, "barrier-command.v1")
    vresp = gatetest.validator(SRC, "barrier-response.v1")
    decided = {}          # case name -> decision
    try:
        ensure_topics()
        bus = Bus(site, os.path.join(tmp, "mqtt.log"))
        # The subscription is made asynchronously: wait until a probe comes back.
        wait_for(lambda: (pub(base + "probe", ["probe"]),
                          bus.find(lambda m: m[0] == base + "probe"))[1], 20,
                 "observer subscribed")

        gates = {ln: Gate(site, ln, tmp, procs) for ln in (LANE_IN, LANE_OUT)}
        for ln in gates:
            bus.wait(lambda m, ln=ln: m[0] == base + "lane/%s/barrier/state" % ln and
                     m[3] and m[3].get("state") == "closed", 0, 20,
                     "actuator %s says closed" % ln)

        venv = dict(ENV)
        venv.update({"ECOGATE_SITE": site, "ECOGATE_INSTANCE": "e2e",
                     "ECOGATE_MQTT_URL": "tcp://127.0.0.1:" + MQTT,
                     "ECOGATE_KAFKA_BROKERS": KAFKA,
                     "ECOGATE_REDIS_HOST": "127.0.0.1", "ECOGATE_REDIS_PORT": REDIS,
                     "ECOGATE_OUTBOX_DIR": os.path.join(tmp, "outbox"),
                     "ECOGATE_SNAPSHOT_PATH": os.path.join(tmp, "registry.jsonl"),
                     "ECOGATE_BARRIER_EXPIRY": "%dms" % BARRIER_EXPIRY_MS,
                     "ECOGATE_LOG_LEVEL": "info"})
        verifier = subprocess.Popen([VERIFIER], env=venv, stdout=open(vlog, "w"),
                                    stderr=subprocess.STDOUT)
        procs.append(verifier)
        bus.wait(lambda m: m[0] == base + "status/verifier/e2e" and m[3] and
                 "online" in m[4], 0, 30, "verifier online")

        # The registry: this run's plates out of PostgreSQL and Redis first (a plate
        # of an old run could carry list entries), then the CSV through ecogatectl.
        rkeys = ["ecogate:registry:%s|%s" % (c.plate, c.colour) for c in cases]
        q = ",".join("'%s'" % p for p in [c.plate for c in cases])
        subprocess.run(["psql", PG, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c",
                        "DELETE FROM vehicle_list_entry WHERE plate IN (%s); "
                        "DELETE FROM vehicle WHERE plate IN (%s)" % (q, q)],
                       check=True, capture_output=True, timeout=60)
        subprocess.run(["redis-cli", "-p", REDIS, "DEL"] + rkeys, check=True,
                       capture_output=True, timeout=20)
        csv_path = os.path.join(tmp, "registry.csv")
        registry_csv(csv_path, cases, fleet)
        nreg = sum(1 for c in cases if c.registered)
        r = ctl(["registry", "import", csv_path, "--operator", "e2e",
                 "--reason", "e2e " + site], ctl_env)
        check(r.returncode == 0 and
              "imported %d rows (%d changed, 0 unchanged), 0 bad rows; published %d" %
              (nreg, nreg, nreg) in r.stdout,
              "registry import of %d vehicles: %s" % (nreg, r.stdout.strip()))

        def registry_converged():
            keys = [k for c, k in zip(cases, rkeys) if c.registered]
            got = subprocess.run(["redis-cli", "-p", REDIS, "--raw", "MGET"] + keys,
                                 capture_output=True, text=True, timeout=20)
            vals = got.stdout.split("\n")
            ok = 0
            for v in vals:
                try:
                    ok += json.loads(v).get("fleet") == fleet
                except (ValueError, AttributeError):
                    pass
            return ok == len(keys)
        wait_for(registry_converged, 60,
                 "every imported vehicle in Redis through Kafka and the verifier")
        for c in cases:
            if not c.registered:
                got = subprocess.run(["redis-cli", "-p", REDIS, "--raw", "EXISTS",
                                      "ecogate:registry:%s|%s" % (c.plate, c.colour)],
                                     capture_output=True, text=True, timeout=20)
                check(got.stdout.strip() == "0", "%s: %s not in the registry" %
                      (c.name, c.plate))

        state = {"level": None, "unknown": None}

        def apply_policy(level, unknown_vehicle):
            mark = bus.mark()
            if state["unknown"] != unknown_vehicle:
                path = os.path.join(tmp, "policy-%s.json" % unknown_vehicle)
                with open(path, "w", encoding="utf-8") as f:
                    json.dump(policy_doc("e2e-%s-%s" % (site, unknown_vehicle),
                                         level, unknown_vehicle), f)
                r = ctl(["policy", "load", path, "--operator", "e2e",
                         "--reason", "e2e policy"], ctl_env)
            else:
                r = ctl(["policy", "set-alert", level, "--operator", "e2e",
                         "--reason", "e2e alert " + level], ctl_env)
            check(r.returncode == 0, "policy %s, unknown vehicles %s: ecogatectl rc %d"
                  % (level, unknown_vehicle, r.returncode))
            # (A live subscriber sees the retained message without the retain flag.)
            m = bus.wait(lambda m: m[0] == base + "config/policy" and m[3] and
                         m[3].get("alert_level") == level and
                         m[3].get("unknown_vehicle", "review") == unknown_vehicle,
                         mark, 30,
                         "retained policy at %s" % level)
            if m is None:
                return
            version = m[3]["version"]
            wait_for(lambda: [e for e in log_events(vlog, "policy.loaded")
                              if e.get("version") == version], 30,
                     "verifier loaded policy %s" % version)
            state["level"], state["unknown"] = level, unknown_vehicle

        for c in cases:
            # Within CTest's 300 s even when every wait runs out: report, not hang.
            if time.monotonic() - T0 > 220:
                check(False, "out of time before case [%s]" % c.name)
                break
            if (c.level, c.unknown_vehicle) != (state["level"], state["unknown"]):
                apply_policy(c.level, c.unknown_vehicle)
            decided[c.name] = run_case(c, site, base, bus, gates[c.lane], vdec, vcmd,
                                       vresp)

        # Nothing more may happen once the last vehicle has gone: a read that should
        # have been suppressed would have become a passage by now (the fusion window
        # is 600 ms and the last case took longer than that).
        kafka_checks(cases, decided, site, vdec)
        allows = [c for c in cases if c.barrier == "open"]
        cmds = bus.find(lambda m: m[0].endswith("/barrier/cmd"))
        want = {decided[c.name]["event_id"] for c in cases
                if c.expect == "allow" and decided.get(c.name)}
        check({m[3].get("event_id") for m in cmds if m[3]} == want and
              len(cmds) == len(want),
              "barrier commands: exactly one per allowed passage (%d of %d)" %
              (len(cmds), len(want)))
        decs = bus.find(lambda m: m[0].endswith("/decision"))
        check(len(decs) == len(cases), "decisions on MQTT: one per case (%d of %d)"
              % (len(decs), len(cases)))
        for ln, g in gates.items():
            regs = g.regs()
            n = sum(1 for c in allows if c.lane == ln)
            check(regs[REG_OPENS] == n and regs[REG_CLOSES] == n,
                  "lane %s: %d open and %d close pulses in all, want %d each" %
                  (ln, regs[REG_OPENS], regs[REG_CLOSES], n))
            check(regs[REG_VIOLATIONS] == 0,
                  "lane %s: never closed onto an occupied loop" % ln)
        for ln, g in gates.items():
            stop_proc(g.act, "actuator " + ln)
        stop_proc(verifier, "verifier")
    except Exception as e:  # a broken harness is a failed test, with the reason
        import traceback
        traceback.print_exc()
        check(False, "harness: %r" % e)
    finally:
        for p in procs:
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGCONT)
                except ProcessLookupError:
                    pass
                p.kill()
                p.wait()
        if bus is not None:
            bus.stop()
        try:
            clear_retained(base + "config/policy")
            clear_retained(base + "status/verifier/e2e")
            for ln in (LANE_IN, LANE_OUT):
                clear_retained(base + "lane/%s/barrier/state" % ln)
                clear_retained(base + "status/barrier-actuator/%s" % ln)
        except Exception as e:  # cleanup must not hide the result
            print("cleanup: %s" % e)
        if failures:
            for name in ("verifier.log", "actuator-in-1.log", "actuator-out-1.log"):
                p = os.path.join(tmp, name)
                if os.path.exists(p):
                    print("---- %s (tail) ----" % name)
                    with open(p, encoding="utf-8", errors="replace") as f:
                        sys.stdout.write("".join(f.readlines()[-30:]))
            print("(work dir kept: %s)" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    n_ok = sum(1 for c in cases if decided.get(c.name) is not None)
    print("%d cases decided, %d failed assertions, %.1f s" %
          (n_ok, len(failures), time.monotonic() - T0))
    return 1 if failures else 0


def run_case(c, site, base, bus, g, vdec, vcmd, vresp):
    """One vehicle through one lane; returns its decision (or None)."""
    lane = base + "lane/%s/" % c.lane
    tag = "[%s] " % c.name
    regs0 = g.regs()
    check(regs0[REG_POS] == 0, tag + "barrier down before the vehicle")
    mark = bus.mark()
    # The vehicle drives onto the loop: the actuator reports it as a trigger, which
    # also ends the verifier's hold of the vehicle before.
    g.mb.write_coil(COIL_LOOP, True)
    bus.wait(lambda m: m[0] == lane + "trigger" and m[3] and
             m[3].get("occupied") is True, mark, 10, tag + "loop trigger")
    if c.barrier == "expired":
        g.act.send_signal(signal.SIGSTOP)
    now, later = reads_for(c, site)
    ids = [r["event_id"] for r in now]
    pub(lane + "plate", [json.dumps(r, ensure_ascii=False) for r in now])
    m = bus.wait(lambda m: m[0] == lane + "decision" and m[3] and
                 ids[0] in m[3].get("fused", {}).get("read_event_ids", []),
                 mark, 15, tag + "decision")
    d = m[3] if m else None
    if d is not None:
        errs = [e.message for e in vdec.iter_errors(d)]
        check(not errs, tag + "decision schema-valid %s" % errs)
        check(d["plate"] == c.plate and d["result"] == c.expect,
              tag + "%s %s (got %s %s)" % (c.plate, c.expect, d["plate"], d["result"]))
        want = expected_reasons(c)
        check(d["reasons"] == want, tag + "reasons %s (got %s)" % (want, d["reasons"]))
        want = expected_lines(c)
        check(d["display"]["lines"] == want,
              tag + "display %s (got %s)" % (want, d["display"]["lines"]))
        check(d["alert_level"] == c.level and
              d["direction"] == ("out" if c.lane == LANE_OUT else "in"),
              tag + "alert level %s, direction (got %s %s)" %
              (c.level, d["alert_level"], d["direction"]))
        if c.registered:
            v = d.get("vehicle", {})
            check(v.get("emission_stage") == c.stage and
                  v.get("category") == CATEGORY[KINDS[c.kind][0]],
                  tag + "vehicle facts stage %s (got %s)" % (c.stage, v))
        else:
            check("vehicle" not in d, tag + "no vehicle facts for an unknown plate")
        if c.reads == "duplicate":
            check(d["fused"]["reads"] == 2 and
                  sorted(d["fused"]["read_event_ids"]) == sorted(set(ids)),
                  tag + "the repeated read counted once: %s" % d["fused"])
        if c.reads == "conflict":
            check(d["fused"]["reads"] == 3 and d["fused"]["confidence"] >= 0.8,
                  tag + "three reads fused, confidence >= 0.8: %s" % d["fused"])
        if later:
            # Still on the loop: a new read of the same vehicle is no new passage.
            pub(lane + "plate", [json.dumps(r, ensure_ascii=False) for r in later])

    cmd = None
    if d is not None and c.expect == "allow":
        cm = bus.wait(lambda m: m[0] == lane + "barrier/cmd" and m[3] and
                      m[3].get("event_id") == d["event_id"], mark, 10,
                      tag + "barrier command")
        if cm:
            cmd = cm[3]
            check(not list(vcmd.iter_errors(cmd)) and cmd["action"] == "open" and
                  cm[2] == cmd["cmd_id"],
                  tag + "barrier command: schema-valid open, correlation = cmd_id")
    if c.barrier == "expired" and cmd is not None:
        # Keep the actuator stopped until the command's validity has passed by the
        # wall clock; then it must refuse it.
        deadline = ts_ms(cmd["ts"]) + cmd["expires_ms"]
        wait_for(lambda: time.time() * 1000 > deadline + 200,
                 cmd["expires_ms"] / 1000 + 5, tag + "command expiry passed")
        g.act.send_signal(signal.SIGCONT)
    elif c.barrier == "expired":
        g.act.send_signal(signal.SIGCONT)
    if cmd is not None:
        want = "done" if c.barrier == "open" else "rejected-expired"
        rm = bus.wait(lambda m: "/barrier/resp" in m[0] and m[2] == cmd["cmd_id"],
                      mark, 15, tag + "barrier answer")
        if rm:
            errs = [e.message for e in vresp.iter_errors(rm[3])] if rm[3] else ["json"]
            check(rm[0].startswith(lane + "barrier/resp") and not errs and
                  rm[3]["result"] == want and rm[3]["cmd_id"] == cmd["cmd_id"],
                  tag + "barrier answered %s on %s %s (got %s)" %
                  (want, rm[0], errs, rm[4]))
            # The verifier hears the answer too: an allowed vehicle whose barrier
            # did not open must be said loudly (barrier.not_opened).
            ev = "barrier.answer" if want == "done" else "barrier.not_opened"
            wait_for(lambda: [e for e in log_events(VLOG, ev)
                              if e.get("cmd_id") == cmd["cmd_id"]], 10,
                     tag + "verifier logged %s for the answer" % ev)
    if c.barrier == "open":
        r = wait_for(lambda: (lambda x: x if x[REG_OPENS] > regs0[REG_OPENS] and
                              x[REG_POS] == 1000 else None)(g.regs()), 10,
                     tag + "barrier up")
        if r:
            check(r[REG_OPENS] == regs0[REG_OPENS] + 1,
                  tag + "exactly one open pulse (%d -> %d)" %
                  (regs0[REG_OPENS], r[REG_OPENS]))
    regs1 = g.regs()
    if c.barrier != "open":
        check(regs1[REG_OPENS] == regs0[REG_OPENS] and regs1[REG_POS] == 0 and
              g.mb.inputs(0, 2) == [0, 1],
              tag + "no open pulse, barrier down (%d -> %d)" %
              (regs0[REG_OPENS], regs1[REG_OPENS]))
    # The vehicle leaves the loop (through the barrier, or backing off).
    mark2 = bus.mark()
    g.mb.write_coil(COIL_LOOP, False)
    bus.wait(lambda m: m[0] == lane + "trigger" and m[3] and
             m[3].get("occupied") is False, mark2, 10, tag + "loop free")
    if c.barrier == "open":
        # Auto-close behind it: one close pulse, down, and the actuator says closed.
        wait_for(lambda: (lambda x: x[REG_CLOSES] == regs0[REG_CLOSES] + 1 and
                          x[REG_POS] == 0)(g.regs()), 10, tag + "barrier closed again")
    else:
        # A barrier that opened when it must not (already a failure above) closes
        # before the next vehicle, so one wrong case does not spoil the rest.
        wait_for(lambda: g.regs()[REG_POS] == 0, 10, tag + "barrier down at the end")
    if c.barrier == "open":
        bus.wait(lambda m: m[0] == lane + "barrier/state" and m[3] and
                 m[3].get("state") == "closed", mark2, 10, tag + "state closed")
    return d


def kafka_checks(cases, decided, site, vdec):
    want = {d["event_id"]: name for name, d in decided.items() if d}

    def passages():
        r = subprocess.run(["kcat", "-C", "-b", KAFKA, "-t", "ecogate.passage.v1",
                            "-o", "beginning", "-e", "-q", "-f", "%k\t%s\n"],
                           capture_output=True, text=True, timeout=60)
        got = []
        for line in r.stdout.splitlines():
            key, _, val = line.partition("\t")
            if key == site:
                got.append(json.loads(val))
        return got if {j["event_id"] for j in got} >= set(want) else None
    got = wait_for(passages, 60, "every passage on Kafka") or []
    by_id = {}
    for j in got:
        by_id.setdefault(j["event_id"], []).append(j)
    for c in cases:
        d = decided.get(c.name)
        if d is None:
            continue
        js = by_id.get(d["event_id"], [])
        tag = "[%s] " % c.name
        if not check(len(js) == 1, tag + "exactly one passage on Kafka (%d)" % len(js)):
            continue
        errs = [e.message for e in vdec.iter_errors(js[0])]
        check(not errs and js[0] == d,
              tag + "Kafka passage schema-valid and equal to the decision %s" % errs)
    extra = [j for j in got if j["event_id"] not in want]
    check(not extra, "no passage on Kafka beyond the cases' (%s)" %
          [(j["plate"], j["lane"]) for j in extra])
    for c in cases:
        n = sum(1 for j in got if j["plate"] == c.plate)
        if n != 1:
            check(False, "[%s] %d passages for %s" % (c.name, n, c.plate))


if __name__ == "__main__":
    sys.exit(main())
