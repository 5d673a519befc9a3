#!/usr/bin/env python3
"""Integration test of `ecogatectl ledger export` and `ledger migrate-import` (issue 4).

1. As superuser, psql puts records of every kind into a fresh site: passages of the
   three ledgers, an imported row, an operator's action, an alarm, at times just
   inside and just outside the exported China-time days, in a seq order that is not
   their time order. Bodies are built as docs/ledger.md says.
2. export --format csv of each ledger must equal expected/<ledger>.csv byte for byte
   (those files are hand-written with LF line ends; the export writes a UTF-8 BOM and
   CRLF, which the comparison adds). export --format xlsx is read back with openpyxl
   when this Python has it, else from the sheet XML through zipfile, and must hold
   the same cells.
3. migrate-import --dry-run of the exported transport CSV prints one JSON line per
   row, each event_id equal to the one derived here independently (hashlib).
4. migrate-import of that CSV into a second fresh site appends 3 records of kind
   import (seq 0..2, original times, source {file, sha256, line}, the row as event);
   their export equals the first one but for the derived 事件编号; importing the same
   file again appends nothing; a file with bad rows imports its good row and names
   each bad one by line and field; the import is audited on ecogate.audit.v1 (read
   back with kcat when KCAT is set).

Environment: ECOGATECTL, PSQL, ECOGATE_PG_CONNINFO (a superuser), ECOGATE_KAFKA_BROKERS,
KCAT (optional).
"""
import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
CTL = os.environ["ECOGATECTL"]
PSQL = os.environ["PSQL"]
PG = os.environ["ECOGATE_PG_CONNINFO"]
KCAT = os.environ.get("KCAT", "")
BROKERS = os.environ.get("ECOGATE_KAFKA_BROKERS", "")

failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what, file=sys.stderr)


def psql(sql):
    r = subprocess.run([PSQL, PG, "-XAtq", "-v", "ON_ERROR_STOP=1", "-1"],
                       input=sql, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("psql failed: " + r.stderr)
    return r.stdout


def ctl(*args):
    r = subprocess.run([CTL, "ledger", *args], capture_output=True)
    return r.returncode, r.stdout, r.stderr.decode("utf-8", "replace")


def canon(o):
    # JCS for bodies holding only strings, integers and objects: sorted keys, no
    # whitespace, UTF-8 as is (RFC 8785 sorts by UTF-16 units; ASCII keys here).
    return json.dumps(o, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def stamp():
    return "%d%04d" % (os.getpid() % 100000, int(time.time()) % 10000)


SITE = "lx" + stamp()
SITE2 = SITE + "-imp"
SITE3 = SITE + "-bad"
H = {c: c * 64 for c in "123abc"}

# (seq, kind, ledger, event_id, event_ts, fields or event)
RECORDS = [
    (0, "passage", "transport", "018df598-0fff-7000-8000-000000000000",
     "2024-02-29T15:59:59.999Z",
     {"plate": "沪A00001", "plate_colour": "yellow", "direction": "in",
      "result": "allow", "reasons": ["registry.hit"]}),
    (1, "passage", "transport", "018dffe4-c418-7000-8000-000000000002",
     "2024-03-02T15:59:59.000Z",
     {"plate": "苏E12345", "plate_colour": "blue", "vehicle_type": "H31",
      "vin": "LGWEF4A53NF000001", "registration_date": "2022-01-15",
      "emission_stage": "6", "fuel": "E", "use_nature": "A", "fleet": "自有",
      "licence_ref": H["2"], "direction": "out", "lane": "out-1",
      "result": "allow", "reasons": ["registry.hit"], "alert_level": "none",
      "policy_version": "2024-03-01.1", "registry_source": "redis",
      "registry_age_ms": 850}),
    (2, "passage", "transport", "018df76a-fb40-7000-8000-000000000003",
     "2024-03-01T00:30:00.000Z",
     {"plate": "沪A12345", "plate_colour": "yellow", "vehicle_type": "H11",
      "vin": "LZZ1CLSB0KA123456", "engine_no": "WP10.336E53-1",
      "registration_date": "2018-06-30", "emission_stage": "5", "fuel": "B",
      "use_nature": "F", "cargo": "煤炭, 块", "tonnage": "31.5",
      "fleet": '上海"顺达"运输有限公司', "manifest_ref": H["1"],
      "photos": [H["a"], H["b"]], "direction": "in", "lane": "in-1",
      "vehicle_model": "ZZ4257", "result": "deny",
      "reasons": ["emission.stage_below_min", "alert.orange"],
      "alert_level": "orange"}),
    (3, "import", "transport", "018df598-1000-7000-8000-000000000004",
     "2024-02-29T16:00:00.000Z",
     {"plate": "浙B54321", "plate_colour": "yellow", "emission_stage": "4",
      "fuel": "B", "cargo": "钢材", "tonnage": "28.0", "direction": "in",
      "result": "allow"}),
    (4, "passage", "transport", "018dffe4-c800-7000-8000-000000000005",
     "2024-03-02T16:00:00.000Z",
     {"plate": "沪A00002", "plate_colour": "yellow", "direction": "out",
      "result": "allow", "reasons": ["registry.hit"]}),
    (5, "passage", "fleet", "018df7bd-6100-7000-8000-000000000006",
     "2024-03-01T02:00:00.000Z",
     {"plate": "沪D12345", "reg_code": "CN-001", "plate_colour": "green",
      "vehicle_type": "H11", "vin": "LZZ1CLSB0KA654321",
      "registration_date": "2023-03-01", "emission_stage": "D", "fuel": "C",
      "licence_ref": H["3"], "direction": "out", "lane": "out-1",
      "result": "allow", "reasons": ["registry.hit"]}),
    (6, "passage", "machinery", "018df802-0b20-7000-8000-000000000007",
     "2024-03-01T03:15:00.000Z",
     {"plate": "", "reg_code": "沪MA12345", "production_date": "2019-01-02",
      "emission_stage": "X", "machine_code": "PIN0001", "machine_type": "挖掘机",
      "fuel": "B", "owner": "某工程公司", "photos": [H["c"]], "direction": "in",
      "lane": "in-2", "result": "review", "reasons": ["nrmm.unregistered"]}),
    (7, "audit", None, "018df82b-3e00-7000-8000-000000000008",
     "2024-03-01T04:00:00.000Z",
     {"schema": "ecogate.audit.v1",
      "event_id": "018df82b-3e00-7000-8000-000000000008",
      "ts": "2024-03-01T04:00:00.000Z", "site": "SITE",
      "actor": {"kind": "operator", "id": "zhang.san"},
      "action": "barrier.open", "target": "lane/in-1",
      "reason": "道闸故障，人工放行"}),
    (8, "alarm", None, "018df861-2c80-7000-8000-000000000009",
     "2024-03-01T05:00:00.000Z", {"alarm": "ledger.evidence_missing"}),
]


def body(seq, kind, ledger, eid, ts, data):
    b = {"schema": "ecogate.ledger-record.v1", "site": SITE, "seq": seq,
         "kind": kind, "event_id": eid, "event_ts": ts,
         "recorded_at": "2024-03-03T00:00:00.000Z"}
    if ledger is not None:
        b["ledger"] = ledger
    if kind == "audit":
        data = dict(data, site=SITE)
        b["event"] = data
        b["fields"] = {"time": ts, "operator": data["actor"]["id"],
                       "reason": data["reason"]}
        b["source"] = {"topic": "ecogate.audit.v1", "partition": 0, "offset": 7}
    elif kind == "alarm":
        b["event"] = data
        b["fields"] = {"time": ts}
    else:
        f = {k: v for k, v in data.items() if v != ""}
        f["time"] = ts
        b["fields"] = f
        b["event"] = {"schema": "ecogate.passage-decision.v1", "event_id": eid}
        b["source"] = {"topic": "ecogate.passage.v1", "partition": 0,
                       "offset": seq}
    return canon(b)


def insert_records():
    sql = ["INSERT INTO ledger_log (site, origin) VALUES ('%s', 'ecogate/%s');"
           % (SITE, SITE), "SELECT ledger_partition(now());"]
    for seq, kind, ledger, eid, ts, data in RECORDS:
        b = body(seq, kind, ledger, eid, ts, data)
        leaf = hashlib.sha256(b"\x00" + b.encode()).hexdigest()
        plate = data.get("plate") if kind in ("passage", "import") else None
        lane = data.get("lane") if kind in ("passage", "import") else None
        q = lambda v: "NULL" if v in (None, "") else "$v$%s$v$" % v
        sql.append(
            "INSERT INTO ledger_index (site, seq, event_id, recorded_at) VALUES "
            "('%s', %d, '%s', now());" % (SITE, seq, eid))
        sql.append(
            "INSERT INTO ledger_record (site, seq, event_id, kind, ledger, "
            "event_ts, lane, plate, body, leaf_hash) VALUES ('%s', %d, '%s', "
            "'%s', %s, '%s', %s, %s, $b$%s$b$, '\\x%s');"
            % (SITE, seq, eid, kind, q(ledger), ts, q(lane), q(plate), b, leaf))
    psql("\n".join(sql))


def expected(name):
    with open(os.path.join(HERE, "expected", name + ".csv"), encoding="utf-8") as f:
        text = f.read()
    return b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8")


def rows_of(csv_bytes):
    text = csv_bytes.decode("utf-8-sig")
    return [r for r in csv.reader(io.StringIO(text, newline=""))]


def xlsx_rows(path):
    """The first sheet's cells as lists of strings, empty cells as ''."""
    try:
        import openpyxl
        wb = openpyxl.load_workbook(path, read_only=True)
        ws = wb.worksheets[0]
        out = [["" if v is None else str(v) for v in row]
               for row in ws.iter_rows(values_only=True)]
        return wb.sheetnames[0], out
    except ImportError:
        pass
    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    import xml.etree.ElementTree as ET
    with zipfile.ZipFile(path) as z:
        wbx = ET.fromstring(z.read("xl/workbook.xml"))
        name = wbx.find(ns + "sheets")[0].get("name")
        shared = []
        if "xl/sharedStrings.xml" in z.namelist():
            for si in ET.fromstring(z.read("xl/sharedStrings.xml")):
                shared.append("".join(t.text or "" for t in si.iter(ns + "t")))
        sheet = ET.fromstring(z.read("xl/worksheets/sheet1.xml"))
    out = []
    for row in sheet.iter(ns + "row"):
        cells = {}
        for c in row.iter(ns + "c"):
            ref = re.match(r"([A-Z]+)", c.get("r")).group(1)
            col = 0
            for ch in ref:
                col = col * 26 + ord(ch) - 64
            if c.get("t") == "s":
                v = shared[int(c.find(ns + "v").text)]
            elif c.get("t") == "inlineStr":
                v = "".join(t.text or "" for t in c.iter(ns + "t"))
            else:
                v = c.find(ns + "v").text if c.find(ns + "v") is not None else ""
            cells[col - 1] = v
        n = max(cells) + 1 if cells else 0
        out.append([cells.get(i, "") for i in range(n)])
    return name, out


def import_id(site, sha, line, ms):
    d = hashlib.sha256(b"ecogate.ledger-import.v1\0" + site.encode() + b"\0" +
                       sha.encode() + b"\0" + str(line).encode()).digest()
    b = bytearray(ms.to_bytes(6, "big") + d[:10])
    b[6] = 0x70 | (b[6] & 0x0F)
    b[8] = 0x80 | (b[8] & 0x3F)
    h = b.hex()
    return "-".join((h[:8], h[8:12], h[12:16], h[16:20], h[20:]))


def main():
    insert_records()
    tmp = tempfile.mkdtemp(prefix="lx-")
    period = ["--from", "2024-03-01", "--to", "20240302"]
    titles = {"transport": "进出厂运输车辆", "fleet": "厂内运输车辆",
              "machinery": "非道路移动机械", "audit": "操作记录"}

    # 2. CSV byte for byte, XLSX cell for cell.
    exported = {}
    for led in ("transport", "fleet", "machinery", "audit"):
        out = os.path.join(tmp, led + ".csv")
        rc, _, err = ctl("export", *period, "--format", "csv", "--ledger", led,
                         "--site", SITE, "-o", out)
        check(rc == 0, "export %s csv: rc %d: %s" % (led, rc, err))
        with open(out, "rb") as f:
            got = f.read()
        exported[led] = got
        want = expected(led)
        check(got == want, "export %s csv differs:\n got %r\nwant %r"
              % (led, got, want))
        n = len(rows_of(want)) - 1
        check(re.search(r": %d rows written to " % n, err) is not None,
              "export %s: counts not printed: %s" % (led, err))
        check(not os.path.exists(out + ".tmp%d" % os.getpid()), "temporary left")

        xo = os.path.join(tmp, led + ".xlsx")
        rc, _, err = ctl("export", *period, "--format", "xlsx", "--ledger", led,
                         "--site", SITE, "-o", xo)
        check(rc == 0, "export %s xlsx: rc %d: %s" % (led, rc, err))
        name, cells = xlsx_rows(xo)
        check(name == titles[led], "xlsx %s: sheet %r" % (led, name))
        wrows = rows_of(want)
        cells = [r + [""] * (len(wrows[0]) - len(r)) for r in cells]
        check(cells == wrows, "xlsx %s cells differ:\n got %r\nwant %r"
              % (led, cells, wrows))

    # stdout, one day, and refusals.
    rc, out, err = ctl("export", "--from", "2024-03-02", "--to", "2024-03-02",
                       "--format", "csv", "--site", SITE)
    lines = out.decode("utf-8-sig").split("\r\n")
    check(rc == 0 and len(lines) == 3 and lines[1].startswith("20240302 235959,"),
          "export to stdout of one day: %r %s" % (out, err))
    rc, _, _ = ctl("export", "--from", "2024-03-02", "--to", "2024-03-01",
                   "--format", "csv", "--site", SITE)
    check(rc == 64, "--from after --to: rc %d" % rc)
    rc, _, _ = ctl("export", *period, "--format", "pdf", "--site", SITE)
    check(rc == 64, "--format pdf: rc %d" % rc)

    # 3. Dry run of the exported transport ledger as an old system's file.
    old = os.path.join(tmp, "old-ledger.csv")
    with open(old, "wb") as f:
        f.write(exported["transport"])
    sha = hashlib.sha256(exported["transport"]).hexdigest()
    rc, out, err = ctl("migrate-import", old, "--site", SITE2, "--dry-run")
    dry = [json.loads(l) for l in out.decode().splitlines()]
    check(rc == 0 and len(dry) == 3, "dry run: rc %d, %d rows: %s" %
          (rc, len(dry), err))
    times = ["2024-02-29T16:00:00.000Z", "2024-03-01T00:30:00.000Z",
             "2024-03-02T15:59:59.000Z"]
    ms = [1709222400000, 1709253000000, 1709395199000]
    for i, d in enumerate(dry):
        check(d["event_id"] == import_id(SITE2, sha, i + 2, ms[i]),
              "dry run row %d: id %s" % (i, d["event_id"]))
        check(d["event_ts"] == times[i] and d["fields"]["time"] == times[i],
              "dry run row %d: time %s" % (i, d["event_ts"]))
        check(d["source"] == {"file": "old-ledger.csv", "sha256": sha,
                              "line": i + 2}, "dry run source %r" % d["source"])
    check(dry and dry[1]["fields"] == {k: v for k, v in RECORDS[2][5].items()} |
          {"time": times[1]}, "dry run fields of the full row: %r"
          % (dry[1]["fields"] if dry else None))
    check(psql("SELECT count(*) FROM ledger_log WHERE site = '%s'" % SITE2).strip()
          == "0", "dry run wrote to the database")

    # 4. The real import, audited; the same file again; a file with bad rows.
    imp = ["--site", SITE2, "--operator", "li.si", "--reason", "历史台账迁移"]
    rc, out, err = ctl("migrate-import", old, *imp)
    check(rc == 0, "import: rc %d: %s %s" % (rc, out, err))
    check(b"imported 3 rows" in out and b"as seq 0..2" in out,
          "import summary: %r" % out)
    got = psql("SELECT seq, kind, ledger, to_char(event_ts AT TIME ZONE 'UTC', "
               "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), body FROM ledger_record "
               "WHERE site = '%s' ORDER BY seq" % SITE2).splitlines()
    check(len(got) == 3, "imported records: %r" % got)
    for i, line in enumerate(got):
        seq, kind, ledger, ts, b = line.split("|", 4)
        b = json.loads(b)
        check((seq, kind, ledger, ts) == (str(i), "import", "transport", times[i]),
              "imported record %d: %s" % (i, line[:120]))
        check(b["source"] == {"file": "old-ledger.csv", "sha256": sha,
                              "line": i + 2}, "record %d source" % i)
        check(b["event"]["车牌号码"] == rows_of(exported["transport"])[i + 1][1],
              "record %d event" % i)
        check(b["event_id"] == import_id(SITE2, sha, i + 2, ms[i]), "record id")
    rc, _, err = ctl("export", *period, "--format", "csv", "--site", SITE2, "-o",
                     os.path.join(tmp, "again.csv"))
    with open(os.path.join(tmp, "again.csv"), "rb") as f:
        again = rows_of(f.read())
    first = rows_of(exported["transport"])
    check(rc == 0 and [r[:-1] for r in again] == [r[:-1] for r in first],
          "export of the import differs:\n%r\n%r" % (again, first))
    check([r[-1] for r in again[1:]] == [import_id(SITE2, sha, i + 2, ms[i])
                                         for i in range(3)], "事件编号 of imports")

    rc, out, err = ctl("migrate-import", old, *imp)
    check(rc == 0 and b"imported 0 rows" in out and b"3 already there" in out,
          "second import: rc %d %r %s" % (rc, out, err))
    check(psql("SELECT count(*) FROM ledger_record WHERE site = '%s'" % SITE2)
          .strip() == "3", "second import added records")

    bad = os.path.join(tmp, "bad.csv")
    with open(bad, "w", encoding="utf-8", newline="") as f:
        f.write("进出厂时间,车牌号码,号牌颜色,排放阶段,运输量(吨)\r\n"
                "20240301 080000,沪A12345,黄,国五,30\r\n"
                "20240301 081000,沪A12346,黄,7,30\r\n"
                "2024-02-30 08:20:00,沪A12347,黄,5,30\r\n"
                "20240301 083000,沪A12348,黄,5,30.25\r\n")
    rc, out, err = ctl("migrate-import", bad, "--site", SITE3, "--operator",
                       "li.si", "--reason", "历史台账迁移")
    check(rc == 65, "bad rows: rc %d" % rc)
    for want in ("bad.csv:3: field 排放阶段: '7' is not a stage",
                 "bad.csv:4: field 进出厂时间: '2024-02-30 08:20:00' is not a time",
                 "bad.csv:5: field 运输量(吨): '30.25' is not a tonnage"):
        check(want in err, "bad rows: %r not in %s" % (want, err))
    check(b"imported 1 rows" in out and b"3 bad rows" in out,
          "bad rows summary %r" % out)
    check(psql("SELECT body::json->'fields'->>'emission_stage' FROM ledger_record "
               "WHERE site = '%s'" % SITE3).strip() == "5", "good row of bad.csv")

    rc, _, err = ctl("migrate-import", old, "--site", SITE2)
    check(rc == 64 and "--operator" in err, "import without --operator: %d" % rc)

    # The ledger's own check, when `ledger verify` is built.
    rc, out, err = ctl("verify", "--site", SITE2)
    if "not built yet" not in err:
        check(rc == 0, "verify of the imported site: rc %d %s %s" % (rc, out, err))

    if KCAT and BROKERS:
        r = subprocess.run([KCAT, "-b", BROKERS, "-C", "-t", "ecogate.audit.v1",
                            "-o", "beginning", "-e", "-q", "-f", "%k\t%s\n"],
                           capture_output=True, text=True, timeout=60)
        evs = [json.loads(l.split("\t", 1)[1]) for l in r.stdout.splitlines()
               if l.startswith(SITE2 + "\t")]
        evs = [e for e in evs if e.get("action") == "ledger.import"]
        check(len(evs) == 2, "audit events of the imports: %d" % len(evs))
        if evs:
            e = evs[0]
            check(e["actor"] == {"kind": "operator", "id": "li.si"} and
                  e["reason"] == "历史台账迁移" and
                  e["target"] == "ledger/transport/old-ledger.csv" and
                  e["details"]["sha256"] == sha and e["details"]["rows"] == 3,
                  "audit event %r" % e)

    print("it_ledger_export: %s" % ("FAILED" if failures else "passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
