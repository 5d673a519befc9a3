"""Shared pieces of ecogate's Python test harnesses (tests/verifier_it, tests/e2e,
tests/faults): named assertions that print ok/FAIL and are collected in FAILURES,
waiting on a condition with a deadline, reading our daemons' JSON log lines, JSON
Schema validators (Debian's python3-jsonschema), and UUIDv7 ids as the edge mints
them. Harnesses import it after putting tests/lib on sys.path:

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
    from gatetest import FAILURES, check, wait_for, log_events
"""
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import time

FAILURES = []


def check(cond, what):
    """Records one named assertion; returns cond so callers can branch on it."""
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILURES.append(what)
    return cond


def wait_for(pred, timeout, what, interval=0.05):
    """pred() until it returns something true, at most timeout seconds; a miss is
    a failure named what. Returns pred's value, or None."""
    deadline = time.monotonic() + timeout
    while True:
        r = pred()
        if r:
            return r
        if time.monotonic() >= deadline:
            check(False, "waited %ss for %s" % (timeout, what))
            return None
        time.sleep(interval)


def log_events(path, event):
    """The JSON log lines of a daemon's log file whose event is event (a missing
    file has none; lines that are not JSON, e.g. a sanitizer's, are skipped)."""
    out = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    j = json.loads(line)
                except ValueError:
                    continue
                if isinstance(j, dict) and j.get("event") == event:
                    out.append(j)
    except FileNotFoundError:
        pass
    return out


def validator(src, name):
    """A Draft 2020-12 validator, formats checked, for schemas/NAME.schema.json."""
    import jsonschema

    with open(os.path.join(src, "schemas", name + ".schema.json"),
              encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.Draft202012Validator
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def uuid7(rnd=random):
    """A lowercase UUIDv7 (time-ordered), the kind our producers mint."""
    ms = int(time.time() * 1000)
    return "%08x-%04x-7%03x-%04x-%012x" % (
        ms >> 16, ms & 0xFFFF, rnd.getrandbits(12),
        0x8000 | rnd.getrandbits(14), rnd.getrandbits(48))


def sigterm(p, name, timeout=30):
    """Stops daemon p with SIGTERM and checks that it exits 0 in time."""
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        rc = None
    return check(rc == 0, "%s exits 0 on SIGTERM (rc %s)" % (name, rc))


def finish(procs, tmp):
    """The end of a harness: kills what still runs, keeps tmp when something
    failed (its logs) and removes it otherwise; returns the exit status."""
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    if FAILURES:
        print("logs kept in", tmp)
        print("%d FAILED" % len(FAILURES))
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    print("all passed")
    return 0


def kafka_records(brokers, topic, timeout=60):
    """Every record of a Kafka topic, read by kcat from the beginning: a dict of
    key -> (value bytes, headers text); a later record replaces an earlier key."""
    r = subprocess.run(["kcat", "-C", "-b", brokers, "-t", topic, "-o", "beginning",
                        "-e", "-q", "-f", "%k\t%h\t%R%s"], capture_output=True,
                       timeout=timeout)
    data, out, i = r.stdout, {}, 0
    while i < len(data):
        j = data.index(b"\t", i)
        k = data[i:j].decode(errors="replace")
        i2 = data.index(b"\t", j + 1)
        h = data[j + 1:i2].decode(errors="replace")
        # kcat's %R: the value's length as a 32-bit big-endian integer.
        n = struct.unpack(">i", data[i2 + 1:i2 + 5])[0]
        out[k] = (data[i2 + 5:i2 + 5 + max(n, 0)], h)
        i = i2 + 5 + max(n, 0)
    return out
