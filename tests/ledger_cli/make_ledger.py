#!/usr/bin/env python3
"""make_ledger.py: writes a valid ledger for one site into PostgreSQL, written from
docs/ledger.md and checkpoint.h alone, without any of the ledger-writer's code.

It is the test data of `ecogatectl ledger verify | prove | check-proof` (the tamper
suite, it_ledger_cli.py) and, being a second implementation of the same contract,
a cross-check of the writer's formats: the ledger_log and ledger_key rows, records
whose body is RFC 8785 canonical JSON (bodies hold only strings, integers and
objects, for which Python's sorted, compact, non-ASCII json.dumps is exactly RFC
8785), RFC 9162 leaf hashes, full C2SP-style tiles of 256 hashes, and checkpoints
as C2SP signed notes signed with Ed25519 (the `cryptography` module when Python has
it, else `openssl pkeyutl`). Rows go in through psql and COPY, as a superuser.

    make_ledger.py --site S --records N [--every K] --key KEY.pem [--pubout PUB.pem]
                   [--hash sha256|sm3] [--json]

prints the event ids (--json: a JSON summary) and writes KEY.pem's public half to
--pubout. Imported by it_ledger_cli.py, which also uses its Merkle functions as an
independent RFC 9162 reference.
"""
import argparse
import base64
import datetime
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import uuid

TILE_W = 256


# ------------------------------------------------------------ RFC 9162 Merkle

def hasher(alg):
    if alg == "sha256":
        return hashlib.sha256
    try:
        hashlib.new("sm3")
    except ValueError:
        raise SystemExit("make_ledger: this Python has no SM3")
    return lambda b=b"": hashlib.new("sm3", b)


def leaf_hash(H, data):
    return H(b"\x00" + data).digest()


def node_hash(H, left, right):
    return H(b"\x01" + left + right).digest()


def mth(H, leaves):
    """MTH(D[n]) of RFC 9162 2.1.1 over a list of leaf hashes, recursively."""
    n = len(leaves)
    if n == 0:
        return H(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(H, mth(H, leaves[:k]), mth(H, leaves[k:]))


def verify_inclusion(H, index, size, leaf, path, root):
    """RFC 9162 2.1.3.2, written out as the RFC words it."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(H, p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(H, r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


class Frontier:
    """The complete subtrees of a growing tree; records the level-8L nodes made."""

    def __init__(self, H):
        self.H, self.size, self.edge, self.tiles = H, 0, {}, {}

    def append(self, leaf):
        idx, level, cur = self.size, 0, leaf
        self._keep(0, idx, cur)
        while idx & 1:
            cur = node_hash(self.H, self.edge[level], cur)
            level += 1
            idx >>= 1
            self._keep(level, idx, cur)
        self.edge[level] = cur
        self.size += 1

    def _keep(self, level, idx, h):
        if level % 8 == 0:
            self.tiles.setdefault(level // 8, []).append(h)

    def root(self):
        r = None
        for level in range(64):
            if self.size >> level & 1:
                r = self.edge[level] if r is None else node_hash(
                    self.H, self.edge[level], r)
        return r if r is not None else self.H(b"").digest()

    def full_tiles(self):
        """{(L, N): 8192 bytes} of every full tile."""
        out = {}
        for lv, hs in self.tiles.items():
            for n in range(len(hs) // TILE_W):
                out[(lv, n)] = b"".join(hs[n * TILE_W:(n + 1) * TILE_W])
        return out


# ---------------------------------------------------------------- signing

class Signer:
    """An Ed25519 private key from PEM; signs with cryptography or openssl."""

    def __init__(self, path):
        self.path = path
        try:
            from cryptography.hazmat.primitives import serialization
            with open(path, "rb") as f:
                self._k = serialization.load_pem_private_key(f.read(), None)
            self.pub_pem = self._k.public_key().public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo).decode()
            self.raw = self._k.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        except ImportError:
            self._k = None
            self.pub_pem = subprocess.run(
                ["openssl", "pkey", "-in", path, "-pubout"], check=True,
                capture_output=True, text=True).stdout
            der = subprocess.run(
                ["openssl", "pkey", "-in", path, "-pubout", "-outform", "DER"],
                check=True, capture_output=True).stdout
            self.raw = der[-32:]

    def sign(self, msg):
        if self._k is not None:
            return self._k.sign(msg)
        with tempfile.NamedTemporaryFile() as f:
            f.write(msg)
            f.flush()
            return subprocess.run(
                ["openssl", "pkeyutl", "-sign", "-rawin", "-inkey", self.path,
                 "-in", f.name], check=True, capture_output=True).stdout

    def key_id(self, name):
        """signed-note key ID: SHA-256(name || 0x0A || 0x01 || key)[:4]."""
        return hashlib.sha256(name.encode() + b"\n\x01" + self.raw).digest()[:4]


def new_key(path):
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", path],
                   check=True, capture_output=True)
    return path


def ts(ms):
    """RFC 3339 as gk_ts_format writes it: 2026-11-28T12:00:00.123Z."""
    d = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def note_text(origin, size, root, time_ms, alg):
    return "%s\n%d\n%s\ntime %s\nhash %s\n" % (
        origin, size, base64.b64encode(root).decode(), ts(time_ms), alg)


def sign_note(signer, origin, text):
    sig = signer.sign(text.encode())
    return text + "\n\u2014 %s %s\n" % (
        origin, base64.b64encode(signer.key_id(origin) + sig).decode())


# ---------------------------------------------------------------- the ledger

def canonical(obj):
    return json.dumps(obj, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":"))


class Ledger:
    """A site's ledger in memory: records, tiles, checkpoints."""

    def __init__(self, site, n, every, signer, alg="sha256", t0_ms=None,
                 final_checkpoint=True, keep=True):
        self.site, self.alg, self.signer = site, alg, signer
        self.n, self.every, self.final = n, every, final_checkpoint
        self.origin = "ecogate/" + site
        self.H = hasher(alg)
        self.t0 = t0_ms if t0_ms is not None else \
            int(datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000)
        self.records = []     # (seq, event_id, recorded_at, event_ts, body, leaf)
        self.checkpoints = []  # (size, root, time_ms, key_id hex, note)
        self.leaves, self.tiles = [], {}
        if keep:
            self.records = list(self._rows(self._frontier()))
            self.leaves = [r[5] for r in self.records]

    def _frontier(self):
        self.checkpoints = []
        self._fr = Frontier(self.H)
        return self._fr

    def _rows(self, fr):
        """Each record in seq order, appended to fr (checkpoints as they fall)."""
        for seq in range(self.n):
            rec_ms = self.t0 + seq
            eid = str(uuid.uuid5(uuid.NAMESPACE_URL, "%s/%d/%d" % (
                self.site, self.t0, seq)))
            body = canonical(self.record(seq, eid, ts(rec_ms - 500), ts(rec_ms)))
            leaf = leaf_hash(self.H, body.encode())
            fr.append(leaf)
            if fr.size % self.every == 0 or (self.final and fr.size == self.n):
                self.checkpoint(fr.size, fr.root(), rec_ms + 1)
            yield (seq, eid, ts(rec_ms), ts(rec_ms - 500), body, leaf)
        self.tiles = fr.full_tiles()

    def record(self, seq, eid, event_ts, recorded_at):
        lane = "in-%d" % (seq % 3 + 1)
        return {
            "schema": "ecogate.ledger-record.v1", "site": self.site, "seq": seq,
            "kind": "passage", "ledger": "transport", "event_id": eid,
            "event_ts": event_ts, "recorded_at": recorded_at,
            "source": {"topic": "ecogate.passage.v1", "partition": 0,
                       "offset": seq},
            "fields": {"time": event_ts, "direction": "in", "lane": lane,
                       "plate": "沪A%05d" % (seq % 100000), "plate_colour": "blue",
                       "emission_stage": "6", "fuel": "diesel",
                       "result": "allow", "policy_version": 3},
            "evidence": [], "registry": {"version": 1},
            "event": {"event_id": eid, "lane": lane, "note": "tab\tquote\"é"},
        }

    def checkpoint(self, size, root, time_ms):
        text = note_text(self.origin, size, root, time_ms, self.alg)
        note = sign_note(self.signer, self.origin, text)
        self.checkpoints.append((size, root, time_ms,
                                 self.signer.key_id(self.origin).hex(), note))

    # ----------------------------------------------------------- SQL

    def sql(self):
        """A psql script that inserts the whole ledger (one transaction)."""
        out = []
        self.write_sql(out.append)
        return "\n".join(out) + "\n"

    def write_sql(self, emit):
        """The script line by line through emit(); without kept records they are
        made again as they are written (bounded memory at any size)."""
        emit("BEGIN;")
        emit("INSERT INTO ledger_log (site, hash_alg, origin) VALUES "
             "(%s, %s, %s);" % (lit(self.site), lit(self.alg), lit(self.origin)))
        emit("INSERT INTO ledger_key (site, key_id, sig_alg, public_key) "
             "VALUES (%s, %s, 'ed25519', %s);" % (
                 lit(self.site), lit(self.signer.key_id(self.origin).hex()),
                 lit(self.signer.pub_pem)))
        last = self.t0 + max(self.n - 1, 0)
        for m in sorted({ts(self.t0)[:7], ts(last)[:7]}):
            emit("SELECT ledger_partition(%s) \\g /dev/null" %
                 lit(m + "-01T00:00:00Z"))
        emit("COPY ledger_index (site, seq, event_id, recorded_at) FROM STDIN;")
        for seq in range(self.n):
            eid = str(uuid.uuid5(uuid.NAMESPACE_URL, "%s/%d/%d" % (
                self.site, self.t0, seq)))
            emit("%s\t%d\t%s\t%s" % (self.site, seq, eid, ts(self.t0 + seq)))
        emit("\\.")
        emit("COPY ledger_record (site, seq, recorded_at, event_id, kind, "
             "ledger, event_ts, lane, plate, body, leaf_hash) FROM STDIN;")
        rows = self.records if self.records or self.n == 0 else \
            self._rows(self._frontier())
        for seq, eid, rat, ets, body, leaf in rows:
            obj = json.loads(body)
            emit("\t".join([
                self.site, str(seq), rat, eid, "passage", "transport", ets,
                copy_text(obj["fields"]["lane"]), copy_text(obj["fields"]["plate"]),
                copy_text(body), "\\\\x" + leaf.hex()]))
        emit("\\.")
        emit("COPY ledger_tile (site, level, idx, hashes) FROM STDIN;")
        for (lv, n), hs in sorted(self.tiles.items()):
            emit("%s\t%d\t%d\t\\\\x%s" % (self.site, lv, n, hs.hex()))
        emit("\\.")
        for size, root, tms, kid, note in self.checkpoints:
            emit(checkpoint_sql(self.site, size, root, tms, kid, note))
        emit("COMMIT;")


def checkpoint_sql(site, size, root, time_ms, key_id, note):
    return ("INSERT INTO ledger_checkpoint (site, tree_size, root_hash, signed_at, "
            "key_id, note) VALUES (%s, %d, '\\x%s', %s, %s, %s);" % (
                lit(site), size, root.hex(), lit(ts(time_ms)), lit(key_id),
                lit(note)))


def lit(s):
    """A SQL string literal (standard_conforming_strings is on since 9.1)."""
    return "'" + s.replace("'", "''") + "'"


def copy_text(s):
    return (s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def psql(conninfo, script, check=True):
    """Runs a psql script; returns (rc, output)."""
    p = subprocess.run([os.environ.get("PSQL", "psql"), conninfo, "-X", "-q",
                        "-v", "ON_ERROR_STOP=1", "-At"], input=script,
                       capture_output=True, text=True)
    if check and p.returncode != 0:
        raise RuntimeError("psql failed: %s" % p.stderr.strip())
    return p.returncode, p.stdout + p.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--site", required=True)
    ap.add_argument("--records", type=int, required=True)
    ap.add_argument("--every", type=int, default=1000)
    ap.add_argument("--key", required=True, help="Ed25519 private key (made "
                    "when missing)")
    ap.add_argument("--pubout")
    ap.add_argument("--hash", default="sha256", choices=["sha256", "sm3"])
    ap.add_argument("--conninfo", default=os.environ.get("ECOGATE_PG_CONNINFO"))
    ap.add_argument("--sql", action="store_true", help="print the SQL instead")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if not os.path.exists(a.key):
        new_key(a.key)
    signer = Signer(a.key)
    # Big ledgers are streamed to psql, never held (10^7 records is gigabytes).
    big = a.records > 100000
    led = Ledger(a.site, a.records, a.every, signer, a.hash, keep=not big)
    if a.pubout:
        with open(a.pubout, "w") as f:
            f.write(signer.pub_pem)
    if a.sql:
        led.write_sql(lambda line: sys.stdout.write(line + "\n"))
        return 0
    p = subprocess.Popen([os.environ.get("PSQL", "psql"), a.conninfo, "-X", "-q",
                          "-v", "ON_ERROR_STOP=1", "-At"], stdin=subprocess.PIPE,
                         text=True)
    led.write_sql(lambda line: p.stdin.write(line + "\n"))
    p.stdin.close()
    if p.wait() != 0:
        raise SystemExit("make_ledger: psql failed")
    if a.json:
        json.dump({"site": a.site, "records": a.records,
                   "checkpoints": len(led.checkpoints),
                   "root": base64.b64encode(led.checkpoints[-1][1]).decode()
                   if led.checkpoints else None}, sys.stdout)
        print()
    elif not big:
        for r in led.records:
            print(r[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
