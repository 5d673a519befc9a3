#!/usr/bin/env python3
"""Independent checks of ledger_core against Python written from the RFCs.

merkle: RFC 9162 MTH, PATH and PROOF (sections 2.1.1, 2.1.3.1, 2.1.4.1) as the RFC
states them, recursively, with hashlib; compared with the roots and proofs that
ledger_ref_driver computes from its stored tiles for random trees (every size up to
300, random sizes up to 2100, a few large ones). Then the C verifiers must accept
every correct proof and refuse tampered ones (a flipped bit in any hash, a hash
dropped or added, a wrong leaf or root).

numbers: RFC 8785's number form is ECMAScript's Number-to-String, i.e. the shortest
decimal that reads back, placed by the ES rules. Python's repr() gives that shortest
decimal (David Gay's algorithm), so the ES placement applied to repr()'s digits is
an independent expected value for jcs_number(), checked on random doubles, every
power of two and the neighbours of the 1e21 and 1e-7 thresholds.

usage: merkle_ref.py merkle DRIVER sha256|sm3
       merkle_ref.py numbers DRIVER
Exit 0 when all agree, 1 on a mismatch, 77 when this Python lacks the hash.
"""
import hashlib
import math
import random
import struct
import subprocess
import sys
from decimal import Decimal

SEED = 20261128


def leaf_data(i):
    return (("leaf %d|" % i) * (i % 3)).encode()


class Tree:
    def __init__(self, alg, n):
        self.alg = alg
        self.leaves = [leaf_data(i) for i in range(n)]
        self.memo = {}

    def h(self, b):
        return hashlib.new(self.alg, b).digest()

    def mth(self, lo, hi):
        """MTH(D[lo:hi]) per RFC 9162 2.1.1."""
        key = (lo, hi)
        if key in self.memo:
            return self.memo[key]
        n = hi - lo
        if n == 0:
            r = self.h(b"")
        elif n == 1:
            r = self.h(b"\x00" + self.leaves[lo])
        else:
            k = split(n)
            r = self.h(b"\x01" + self.mth(lo, lo + k) + self.mth(lo + k, hi))
        self.memo[key] = r
        return r

    def path(self, m, lo, hi):
        """PATH(m, D[lo:hi]) per RFC 9162 2.1.3.1, m relative to lo."""
        n = hi - lo
        if n == 1:
            return []
        k = split(n)
        if m < k:
            return self.path(m, lo, lo + k) + [self.mth(lo + k, hi)]
        return self.path(m - k, lo + k, hi) + [self.mth(lo, lo + k)]

    def subproof(self, m, lo, hi, b):
        """SUBPROOF(m, D[lo:hi], b) per RFC 9162 2.1.4.1."""
        n = hi - lo
        if m == n:
            return [] if b else [self.mth(lo, hi)]
        k = split(n)
        if m <= k:
            return self.subproof(m, lo, lo + k, b) + [self.mth(lo + k, hi)]
        return self.subproof(m - k, lo + k, hi, False) + [self.mth(lo, lo + k)]

    def proof(self, m, n):
        return self.subproof(m, 0, n, True)


def split(n):
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def flip(h, bit):
    b = bytearray(h)
    b[bit // 8] ^= 1 << (bit % 8)
    return bytes(b)


def hx(hs):
    return " ".join(h.hex() for h in hs)


def run(driver_args, lines):
    out = subprocess.run(driver_args, input="".join(l + "\n" for l in lines),
                         capture_output=True, text=True, check=True).stdout
    got = out.split("\n")
    if len(got) < len(lines):
        raise SystemExit("driver answered %d of %d lines" % (len(got), len(lines)))
    return got[:len(lines)]


def merkle(driver, alg):
    try:
        hashlib.new(alg)
    except ValueError:
        print("SKIP: this Python's hashlib has no %s" % alg)
        return 77
    rnd = random.Random(SEED)
    sizes = list(range(1, 301)) + sorted(rnd.sample(range(301, 2101), 100))
    sizes += [4096, 65535, 65536, 65537, 100003]
    maxn = max(sizes)
    tree = Tree(alg, maxn)

    # Questions and what the answer must be, in one batch.
    ask, want, what = [], [], []

    def q(line, expect, desc):
        ask.append(line)
        want.append(expect)
        what.append(desc)

    for n in sizes:
        root = tree.mth(0, n)
        q("root %d" % n, root.hex(), "root of %d" % n)
        idxs = {0, n - 1, rnd.randrange(n), rnd.randrange(n)}
        for i in sorted(idxs):
            p = tree.path(i, 0, n)
            q("incl %d %d" % (i, n), hx(p), "inclusion %d in %d" % (i, n))
            leaf = tree.h(b"\x00" + tree.leaves[i])
            base = "vincl %d %d" % (i, n)
            q("%s %s %s %s" % (base, leaf.hex(), root.hex(), hx(p)), "ok",
              "verify inclusion %d in %d" % (i, n))
            bad = []
            if p:
                j = rnd.randrange(len(p))
                bad.append(("flipped hash %d" % j,
                            p[:j] + [flip(p[j], rnd.randrange(256))] + p[j + 1:]))
                bad.append(("last hash dropped", p[:-1]))
            bad.append(("hash added", p + [root]))
            for desc, bp in bad:
                q("%s %s %s %s" % (base, leaf.hex(), root.hex(), hx(bp)), "fail",
                  "inclusion %d in %d, %s" % (i, n, desc))
            q("%s %s %s %s" % (base, flip(leaf, 3).hex(), root.hex(), hx(p)),
              "fail", "inclusion %d in %d, wrong leaf" % (i, n))
            q("%s %s %s %s" % (base, leaf.hex(), flip(root, 200).hex(), hx(p)),
              "fail", "inclusion %d in %d, wrong root" % (i, n))
        ms = {1, n, rnd.randint(1, n), rnd.randint(1, n)}
        if n > 1:
            ms.add(n - 1)
        for m in sorted(ms):
            p = tree.proof(m, n)
            rm = tree.mth(0, m)
            q("cons %d %d" % (m, n), hx(p), "consistency %d -> %d" % (m, n))
            base = "vcons %d %d" % (m, n)
            q("%s %s %s %s" % (base, rm.hex(), root.hex(), hx(p)), "ok",
              "verify consistency %d -> %d" % (m, n))
            if m == n:
                continue
            j = rnd.randrange(len(p))
            for desc, bp, a, b in (
                    ("flipped hash %d" % j,
                     p[:j] + [flip(p[j], rnd.randrange(256))] + p[j + 1:], rm, root),
                    ("first hash dropped", p[1:], rm, root),
                    ("last hash dropped", p[:-1], rm, root),
                    ("hash added", p + [root], rm, root),
                    ("wrong old root", p, flip(rm, 9), root),
                    ("wrong new root", p, rm, flip(root, 77))):
                q("%s %s %s %s" % (base, a.hex(), b.hex(), hx(bp)), "fail",
                  "consistency %d -> %d, %s" % (m, n, desc))
    # Out of range questions must be refused.
    q("incl 5 5", "ERR", "index == size")
    q("cons 0 5", "ERR", "m == 0")
    q("cons 6 5", "ERR", "m > n")
    q("root %d" % (maxn + 1), "ERR", "beyond the stored tree")

    got = run([driver, "merkle", alg, str(maxn)], ask)
    bad = 0
    for g, w, d in zip(got, want, what):
        if g != w:
            bad += 1
            if bad <= 10:
                print("MISMATCH %s: got %r, want %r" % (d, g[:80], w[:80]))
    print("%s: %d questions on %d tree sizes, %d mismatches" %
          (alg, len(ask), len(sizes), bad))
    return 1 if bad else 0


def es_number(x):
    """ECMAScript Number::toString(x), from repr()'s shortest digits."""
    if x == 0:
        return "0"
    if x < 0:
        return "-" + es_number(-x)
    _, digits, exp = Decimal(repr(x)).as_tuple()
    s = "".join(map(str, digits))
    stripped = s.rstrip("0")
    exp += len(s) - len(stripped)
    s = stripped
    k = len(s)
    n = k + exp                      # x = 0.s * 10^n
    if k <= n <= 21:
        return s + "0" * (n - k)
    if 0 < n <= 21:
        return s[:n] + "." + s[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + s
    e = n - 1
    mant = s[0] + ("." + s[1:] if k > 1 else "")
    return mant + "e" + ("+" if e >= 0 else "-") + str(abs(e))


def numbers(driver):
    rnd = random.Random(SEED)
    vals = []
    for _ in range(20000):            # any finite bit pattern
        while True:
            bits = rnd.getrandbits(64)
            if (bits >> 52) & 0x7ff != 0x7ff:
                break
        vals.append(struct.unpack("<d", struct.pack("<Q", bits))[0])
    for e in range(-1074, 1024):      # every power of two: asymmetric gaps
        vals.append(math.ldexp(1.0, e))
    for _ in range(10000):            # everyday magnitudes and short decimals
        vals.append(rnd.uniform(-1e6, 1e6))
        vals.append(round(rnd.uniform(0, 100), rnd.randint(0, 4)))
        vals.append(float(rnd.randint(-2**60, 2**60)))
    for t in (1e21, 1e-7, 1e-6, 1e20, 1e-5, 2**53):
        x = t
        for _ in range(3):
            x = math.nextafter(x, 0)
        for _ in range(7):
            vals.append(x)
            x = math.nextafter(x, math.inf)
    lines = ["%016x" % struct.unpack("<Q", struct.pack("<d", v))[0] for v in vals]
    got = run([driver, "numbers"], lines)
    bad = 0
    for v, g in zip(vals, got):
        w = es_number(v)
        if g != w:
            bad += 1
            if bad <= 10:
                print("MISMATCH %r: got %s, want %s" % (v, g, w))
    print("numbers: %d values, %d mismatches" % (len(vals), bad))
    return 1 if bad else 0


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "merkle":
        return merkle(sys.argv[2], sys.argv[3])
    if len(sys.argv) == 3 and sys.argv[1] == "numbers":
        return numbers(sys.argv[2])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
