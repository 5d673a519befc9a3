#!/usr/bin/env python3
"""it_ledger_cli.py: the tamper suite and the proof round trip of `ecogatectl ledger
verify | prove | check-proof` (issue 4), on the real PostgreSQL of the "servers"
fixture, migrated.

Each case writes a fresh site's valid ledger with make_ledger.py (an implementation
of docs/ledger.md independent of the ledger-writer), then, as a superuser with the
append-only triggers bypassed (session_replication_role = replica; otherwise they
refuse), tampers with it the way an insider with database access could: edits a
body, deletes a row, swaps two rows, duplicates one, truncates the tail, forges a
tile or replaces a checkpoint. `verify` must exit 65 (EX_DATAERR) and name the right
seq or checkpoint each time; the untampered ledger verifies. As the application role
ecogate_ledger_writer, UPDATE, DELETE and TRUNCATE are refused (tests/ledger_sql
covers the roles and triggers table by table; here only the ledger this suite
wrote). Proofs: `prove` then `check-proof` with the right key passes, with another
key or with the record edited in the file fails, and each proof file is also checked
by the RFC 9162 inclusion verifier in make_ledger.py (hashlib), against roots that
Python computed itself.

Environment: ECOGATECTL (the binary), ECOGATE_PG_CONNINFO (a superuser), PSQL.
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from gatetest import FAILURES, check  # noqa: E402
import make_ledger as ml  # noqa: E402

CTL = os.environ["ECOGATECTL"]
DB = os.environ["ECOGATE_PG_CONNINFO"]
N, EVERY = 1300, 500          # checkpoints at 500, 1000, 1300; tiles 0/0..0/4
EX_DATAERR, EX_NOINPUT, EX_TEMPFAIL = 65, 66, 75
RUN = "%x" % (int(time.time() * 1000) % 0xffffffff)   # sites are never removed
TMP = tempfile.mkdtemp(prefix="it_ledger_cli.")
K1 = ml.new_key(os.path.join(TMP, "k1.pem"))
K2 = ml.new_key(os.path.join(TMP, "k2.pem"))
S1, S2 = ml.Signer(K1), ml.Signer(K2)
for s, path in ((S1, "k1.pub"), (S2, "k2.pub")):
    with open(os.path.join(TMP, path), "w") as f:
        f.write(s.pub_pem)
PUB1, PUB2 = os.path.join(TMP, "k1.pub"), os.path.join(TMP, "k2.pub")


def ctl(*args):
    p = subprocess.run([CTL, "ledger"] + list(args), capture_output=True,
                       text=True, env=dict(os.environ, ECOGATE_LOG_LEVEL="error"))
    return p.returncode, (p.stdout + p.stderr).strip()


def site(case, n=N, every=EVERY, **kw):
    """A fresh site holding a valid ledger; returns its Ledger."""
    name = "lc%s-%s" % (RUN, case)
    led = ml.Ledger(name, n, every, S1, **kw)
    ml.psql(DB, led.sql())
    return led


def tamper(sql):
    """SQL as the superuser with the append-only triggers bypassed."""
    ml.psql(DB, "BEGIN;\nSET LOCAL session_replication_role = replica;\n%s\n"
            "COMMIT;\n" % sql)


def expect_bad(led, want, *extra):
    t0 = time.monotonic()
    rc, out = ctl("verify", "--site", led.site, *extra)
    check(rc == EX_DATAERR and want in out,
          "%s: verify %s exits %d naming '%s' (rc %d, %.2fs): %s" % (
              led.site, " ".join(extra), EX_DATAERR, want, rc,
              time.monotonic() - t0, out))
    return out


def expect_ok(led, want, *extra):
    rc, out = ctl("verify", "--site", led.site, *extra)
    check(rc == 0 and want in out, "%s: verify %s passes: %s" % (
        led.site, " ".join(extra), out))


def q(s):
    return ml.lit(s)


def where(led, seq):
    return "site = %s AND seq = %d" % (q(led.site), seq)


def altered(led, seq, old, new):
    body = led.records[seq][4]
    assert old in body, (old, body)
    return body.replace(old, new)


# ---------------------------------------------------------------- verify

def case_clean():
    led = site("clean")
    expect_ok(led, "verified %d records (seq 0..%d), 5 full tiles, 3 checkpoints"
              % (N, N - 1))
    rc, out = ctl("verify", "--site", led.site, "--pubkey", PUB1)
    check(rc == 0, "clean: verify --pubkey with the site's key passes: " + out)
    expect_ok(led, "verified 600 records (seq 700..1299)", "--from", "700")
    expect_ok(led, "verified 0 records", "--from", str(N))
    rc, out = ctl("verify", "--site", led.site, "--from", str(N + 1))
    check(rc == 64 and "beyond the ledger's 1300 records" in out,
          "verify --from beyond the records exits 64: " + out)
    rc, out = ctl("verify", "--site", "lc%s-nosuch" % RUN)
    check(rc == EX_NOINPUT and "no ledger" in out,
          "verify of a site without a ledger exits %d: %s" % (EX_NOINPUT, out))
    return led


def case_empty():
    expect_ok(site("empty", n=0), "verified 0 records")


def case_edit():
    led = site("edit")
    tamper("UPDATE ledger_record SET body = %s WHERE %s;" % (
        q(altered(led, 777, '"plate":"沪A00777"', '"plate":"沪A00778"')),
        where(led, 777)))
    expect_bad(led, "seq 777: body altered (leaf hash differs)")
    expect_bad(led, "seq 777: body altered", "--from", "700")
    # Below --from the stored tiles are trusted: that is what --from means.
    expect_ok(led, "verified 500 records (seq 800..1299)", "--from", "800")


def case_edit_rehash():
    """Body and leaf_hash edited together: the stored tiles still hold the truth."""
    led = site("rehash")
    body = altered(led, 300, '"direction":"in"', '"direction":"out"')
    leaf = ml.leaf_hash(led.H, body.encode())
    tamper("UPDATE ledger_record SET body = %s, leaf_hash = '\\x%s' WHERE %s;" % (
        q(body), leaf.hex(), where(led, 300)))
    expect_bad(led, "seq 300: stored tile 0/1 differs from the leaf hash")
    # On the partial right edge no tile holds it: the signed root does.
    led2 = site("rehash2")
    body = altered(led2, 1290, '"direction":"in"', '"direction":"out"')
    leaf = ml.leaf_hash(led2.H, body.encode())
    tamper("UPDATE ledger_record SET body = %s, leaf_hash = '\\x%s' WHERE %s;" % (
        q(body), leaf.hex(), where(led2, 1290)))
    expect_bad(led2, "checkpoint at size 1300: root differs from the records' "
               "root")


def case_noncanonical():
    led = site("canon")
    tamper("UPDATE ledger_record SET body = %s WHERE %s;" % (
        q(led.records[5][4].replace('{"event"', '{ "event"', 1)), where(led, 5)))
    expect_bad(led, "seq 5: body altered (not RFC 8785 canonical JSON)")


def case_delete():
    led = site("delete")
    tamper("DELETE FROM ledger_record WHERE %s; DELETE FROM ledger_index WHERE %s;"
           % (where(led, 600), where(led, 600)))
    expect_bad(led, "seq 600: missing")
    led = site("delrec")
    tamper("DELETE FROM ledger_record WHERE %s;" % where(led, 601))
    expect_bad(led, "seq 601: missing from ledger_record (ledger_index names "
               "event %s)" % led.records[601][1])
    led = site("delidx")
    tamper("DELETE FROM ledger_index WHERE %s;" % where(led, 602))
    expect_bad(led, "seq 602: missing from ledger_index")


def case_swap():
    """Two rows' bodies (with their leaf hashes, so each row hashes right)."""
    led = site("swap")
    a, b = led.records[100], led.records[101]
    tamper("UPDATE ledger_record SET body = %s, leaf_hash = '\\x%s' WHERE %s;\n"
           "UPDATE ledger_record SET body = %s, leaf_hash = '\\x%s' WHERE %s;" % (
               q(b[4]), b[5].hex(), where(led, 100),
               q(a[4]), a[5].hex(), where(led, 101)))
    expect_bad(led, "seq 100: out of order / appears twice (the record stored at "
               "seq 100 says seq 101)")
    # Bodies alone swapped: the row's leaf hash no longer matches its body.
    led = site("swapbody")
    a, b = led.records[88], led.records[89]
    tamper("UPDATE ledger_record SET body = %s WHERE %s;\n"
           "UPDATE ledger_record SET body = %s WHERE %s;" % (
               q(b[4]), where(led, 88), q(a[4]), where(led, 89)))
    expect_bad(led, "seq 88: out of order / appears twice")


def case_duplicate():
    led = site("dup")
    tamper("INSERT INTO ledger_record SELECT site, seq, recorded_at + "
           "interval '1 ms', event_id, kind, ledger, event_ts, lane, plate, body, "
           "leaf_hash FROM ledger_record WHERE %s;" % where(led, 200))
    expect_bad(led, "seq 200: out of order / appears twice (two rows in "
               "ledger_record)")


def case_index():
    led = site("index")
    tamper("UPDATE ledger_index SET event_id = %s WHERE %s;" % (
        q("00000000-0000-4000-8000-000000000050"), where(led, 50)))
    expect_bad(led, "seq 50: ledger_index and ledger_record disagree (event_id "
               "00000000-0000-4000-8000-000000000050 in the index")


def case_truncate():
    led = site("tail")
    tamper("DELETE FROM ledger_record WHERE site = %s AND seq >= 1250;\n"
           "DELETE FROM ledger_index WHERE site = %s AND seq >= 1250;" % (
               q(led.site), q(led.site)))
    expect_bad(led, "tail truncated: checkpoint at size 1300 but only 1250 "
               "records")
    # The tail and its checkpoint gone: the full tile beyond still tells.
    led = site("tail2")
    tamper("DELETE FROM ledger_record WHERE site = %s AND seq >= 1000;\n"
           "DELETE FROM ledger_index WHERE site = %s AND seq >= 1000;\n"
           "DELETE FROM ledger_checkpoint WHERE site = %s AND tree_size > 1000;"
           % (q(led.site), q(led.site), q(led.site)))
    expect_bad(led, "tail truncated: tile 0/3 stored but only 1000 records")


def case_tiles():
    led = site("tile")
    tamper("UPDATE ledger_tile SET hashes = overlay(hashes PLACING '\\xff'::bytea "
           "FROM %d) WHERE site = %s AND level = 0 AND idx = 2;" % (
               (530 - 512) * 32 + 1, q(led.site)))
    expect_bad(led, "seq 530: stored tile 0/2 differs from the leaf hash")
    led = site("tilegone")
    tamper("DELETE FROM ledger_tile WHERE site = %s AND level = 0 AND idx = 3;"
           % q(led.site))
    expect_bad(led, "seq 768..1023: tile 0/3 is missing or malformed")


def replace_checkpoint(led, size, note, key_id=None):
    tamper("UPDATE ledger_checkpoint SET note = %s%s WHERE site = %s AND "
           "tree_size = %d;" % (q(note), ", key_id = %s" % q(key_id) if key_id
                                else "", q(led.site), size))


def case_checkpoints():
    led = site("cpkey")
    kid1 = S1.key_id(led.origin).hex()
    size, root, tms, _, _ = led.checkpoints[1]
    text = ml.note_text(led.origin, size, root, tms, "sha256")
    replace_checkpoint(led, size, ml.sign_note(S2, led.origin, text))
    expect_bad(led, "checkpoint at size 1000: signature does not verify with key "
               "%s" % kid1)

    # The root altered, the old signature kept.
    led = site("cproot")
    kid1 = S1.key_id(led.origin).hex()
    size, root, tms, _, note = led.checkpoints[1]
    forged = bytes([root[0] ^ 1]) + root[1:]
    lines = note.split("\n")
    lines[2] = base64.b64encode(forged).decode()
    replace_checkpoint(led, size, "\n".join(lines))
    tamper("UPDATE ledger_checkpoint SET root_hash = '\\x%s' WHERE site = %s AND "
           "tree_size = %d;" % (forged.hex(), q(led.site), size))
    expect_bad(led, "checkpoint at size 1000: signature does not verify with key "
               "%s" % kid1)

    # The root altered and signed with the site's own key (an insider with it).
    led = site("cpsigned")
    size, root, tms, _, _ = led.checkpoints[1]
    forged = bytes([root[0] ^ 1]) + root[1:]
    replace_checkpoint(led, size, ml.sign_note(S1, led.origin, ml.note_text(
        led.origin, size, forged, tms, "sha256")))
    tamper("UPDATE ledger_checkpoint SET root_hash = '\\x%s' WHERE site = %s AND "
           "tree_size = %d;" % (forged.hex(), q(led.site), size))
    expect_bad(led, "checkpoint at size 1000: root differs from the records' root")

    # Another key slipped into ledger_key, the checkpoint re-signed with it: only
    # the inspector's own copy of the public key (--pubkey) can tell.
    led = site("cprogue")
    kid2 = S2.key_id(led.origin).hex()
    size, root, tms, _, _ = led.checkpoints[2]
    tamper("INSERT INTO ledger_key (site, key_id, sig_alg, public_key) VALUES "
           "(%s, %s, 'ed25519', %s);" % (q(led.site), q(kid2), q(S2.pub_pem)))
    replace_checkpoint(led, size, ml.sign_note(S2, led.origin, ml.note_text(
        led.origin, size, root, tms, "sha256")), key_id=kid2)
    expect_ok(led, "verified 1300 records")
    expect_bad(led, "checkpoint at size 1300: not signed by the key given with "
               "--pubkey", "--pubkey", PUB1)

    # A ledger_key row whose key_id is not its key's.
    led = site("cpkeyid")
    tamper("UPDATE ledger_key SET public_key = %s WHERE site = %s;" % (
        q(S2.pub_pem), q(led.site)))
    expect_bad(led, "ledger_key %s: its public key's key ID" %
               S1.key_id(led.origin).hex())

    # A checkpoint claiming more records than there are.
    led = site("cpbeyond")
    text = ml.note_text(led.origin, 1400, led.checkpoints[-1][1],
                        led.checkpoints[-1][2] + 5, "sha256")
    tamper(ml.checkpoint_sql(led.site, 1400, led.checkpoints[-1][1],
                             led.checkpoints[-1][2] + 5,
                             S1.key_id(led.origin).hex(),
                             ml.sign_note(S1, led.origin, text)))
    expect_bad(led, "tail truncated: checkpoint at size 1400 but only 1300 "
               "records")


def case_roles(led):
    """As the writer's role, nothing changes (cf. tests/ledger_sql)."""
    for what, sql in (
            ("UPDATE", "UPDATE ledger_record SET plate = 'x' WHERE %s" %
             where(led, 1)),
            ("DELETE", "DELETE FROM ledger_index WHERE %s" % where(led, 1)),
            ("TRUNCATE", "TRUNCATE ledger_checkpoint")):
        rc, out = ml.psql(DB, "BEGIN; SET LOCAL ROLE ecogate_ledger_writer;\n%s;\n"
                          "COMMIT;\n" % sql, check=False)
        check(rc != 0 and ("append-only" in out or "permission denied" in out),
              "ecogate_ledger_writer: %s refused: %s" % (what, out.strip()))
    expect_ok(led, "verified 1300 records")


# ---------------------------------------------------------------- proofs

def py_check_proof(led, path, seq):
    """The proof file by an independent RFC 9162 inclusion check (hashlib)."""
    with open(path) as f:
        doc = json.load(f)
    rec = doc["record"].encode()
    note = doc["checkpoint"].split("\n")
    size = int(note[1])
    root = base64.b64decode(note[2])
    path_h = [base64.b64decode(p) for p in doc["inclusion"]]
    ok = (doc["leaf_index"] == seq and doc["tree_size"] == size and
          rec == led.records[seq][4].encode() and
          root == ml.mth(led.H, led.leaves[:size]) and
          ml.verify_inclusion(led.H, seq, size, ml.leaf_hash(led.H, rec), path_h,
                              root))
    bad = ml.verify_inclusion(led.H, seq, size, ml.leaf_hash(led.H, rec + b" "),
                              path_h, root)
    check(ok and not bad, "%s: proof of seq %d (tree %d, %d hashes) checked by "
          "the Python RFC 9162 reference" % (led.site, seq, size, len(path_h)))


def case_proofs(led):
    for seq in (0, 255, 256, 777, 999, 1000, 1023, 1024, 1299):
        path = os.path.join(TMP, "proof-%d.json" % seq)
        t0 = time.monotonic()
        rc, out = ctl("prove", led.records[seq][1], "--site", led.site, "-o", path)
        took = time.monotonic() - t0
        if not check(rc == 0, "prove seq %d exits 0 (%.2fs): %s" % (seq, took,
                                                                    out)):
            continue
        py_check_proof(led, path, seq)
        rc, out = ctl("check-proof", path, "--pubkey", PUB1)
        check(rc == 0 and "proof OK" in out and "seq         %d" % seq in out and
              led.records[seq][1] in out and "tree size   1300" in out,
              "check-proof seq %d with the site's key passes" % seq)
        if seq != 777:
            continue
        print(out)
        rc, out = ctl("check-proof", path, "--pubkey", PUB2)
        check(rc == EX_DATAERR and "proof FAILED" in out and
              "no signature by the given" in out,
              "check-proof with another key fails: " + out)
        with open(path) as f:
            doc = json.load(f)
        doc["record"] = doc["record"].replace("沪A00777", "沪A00778")
        edited = os.path.join(TMP, "edited.json")
        with open(edited, "w") as f:
            json.dump(doc, f, ensure_ascii=False, indent=2)
        rc, out = ctl("check-proof", edited, "--pubkey", PUB1)
        check(rc == EX_DATAERR and "inclusion proof does not lead" in out,
              "check-proof of the record edited in the file fails: " + out)
        doc["record"] = doc["record"].replace('"seq":777', '"seq":778')
        with open(edited, "w") as f:
            json.dump(doc, f, ensure_ascii=False, indent=2)
        rc, out = ctl("check-proof", edited, "--pubkey", PUB1)
        check(rc == EX_DATAERR, "check-proof of a record with its seq edited "
              "fails: " + out)
    # stdout when no -o; an unknown event; one not under a checkpoint yet.
    rc, out = ctl("prove", led.records[5][1], "--site", led.site)
    check(rc == 0 and '"format": "ecogate-proof/v1"' in out,
          "prove without -o writes the proof to stdout")
    rc, out = ctl("prove", "00000000-0000-4000-8000-000000000000", "--site",
                  led.site)
    check(rc == EX_NOINPUT, "prove of an unknown event exits %d: %s" % (
        EX_NOINPUT, out))
    late = site("late", final_checkpoint=False)
    rc, out = ctl("prove", late.records[1200][1], "--site", late.site)
    check(rc == EX_TEMPFAIL and "not covered by a checkpoint" in out,
          "prove of a record after the newest checkpoint exits %d: %s" % (
              EX_TEMPFAIL, out))
    path = os.path.join(TMP, "late.json")
    rc, out = ctl("prove", late.records[999][1], "--site", late.site, "-o", path)
    check(rc == 0, "prove of seq 999 uses the checkpoint at size 1000: " + out)
    if rc == 0:
        py_check_proof(late, path, 999)
    expect_ok(late, "the records after it are not signed yet")


def main():
    t0 = time.monotonic()
    led = case_clean()
    case_empty()
    case_edit()
    case_edit_rehash()
    case_noncanonical()
    case_delete()
    case_swap()
    case_duplicate()
    case_index()
    case_truncate()
    case_tiles()
    case_checkpoints()
    case_roles(led)
    case_proofs(led)
    print("%d failures, %.1fs" % (len(FAILURES), time.monotonic() - t0))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
