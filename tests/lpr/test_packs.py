#!/usr/bin/python3
"""Fast check of the training-data plumbing of tools/lpr (issue 5) that darknet-lpr
depends on: the character reader's regions cut by frames_to_province.py --chars sit
on GA 36-2018's character boxes (the same centres tests/darknet_lpr/test_lpr.c checks
for lpr.c's refine_char_region(), so the two sides agree through the standard, not
through each other), and pack.py --cat joins reader packs, and box refiner packs,
record for record and refuses packs of another crop size or kind. No darknet; well under a second.

    /usr/bin/python3 tests/lpr/test_packs.py
"""
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, "..", "..", "tools", "lpr")
sys.path.insert(0, TOOLS)

from frames_to_province import char_region  # noqa: E402

# GA 36-2018 character centres in mm: seven 45 mm boxes from 15.5 mm, 12 mm apart and
# 34 mm after the 2nd; eight 43 mm boxes, 9 and 49 mm apart; double-row 80 mm boxes at
# 110 and 250 mm over five 65 mm boxes from 27.5 mm, 80 mm apart.
ROW7 = [38, 95, 174, 231, 288, 345, 402]
ROW8 = [37, 89, 181, 233, 285, 337, 389, 441]
DOUBLE = [(150, 45), (290, 45), (60, 150), (140, 150), (220, 150), (300, 150),
          (380, 150)]


def check_regions():
    bad = []
    cases = [("blue", "沪A12345", (440, 140), [(x, 70) for x in ROW7]),
             ("nev_small", "沪AD12345", (480, 140), [(x, 70) for x in ROW8]),
             ("trailer", "沪A1234挂", (440, 220), DOUBLE)]
    for kind, text, (pw, ph), centres in cases:
        # the box in mm, then the same plate at 0.5 px/mm offset by (100, 40) px
        for box, scale, off in (((0, 0, pw, ph), 1.0, (0, 0)),
                                ((100, 40, 100 + pw / 2, 40 + ph / 2), 0.5, (100, 40))):
            for k, (cx, cy) in enumerate(centres):
                x, y, w, h = char_region(box, kind, text, k)
                got = (x + w / 2, y + h / 2)
                want = (off[0] + cx * scale, off[1] + cy * scale)
                if abs(got[0] - want[0]) > 0.01 or abs(got[1] - want[1]) > 0.01:
                    bad.append("%s char %d: centre %.2f,%.2f, want %.2f,%.2f"
                               % (kind, k + 1, got[0], got[1], want[0], want[1]))
                # 13 mm and 12 mm of margin each side (lpr.c's REFINE_CHAR_MX/MY)
                if kind != "trailer" and (abs(w - (45 if kind == "blue" else 43) * scale
                                              - 26 * scale) > 0.01 or
                                          abs(h - 114 * scale) > 0.01):
                    bad.append("%s char %d: region %.2fx%.2f" % (kind, k + 1, w, h))
    return bad


def pack(path, n, w, h, first):
    with open(path, "wb") as f:
        f.write(b"LPRP" + struct.pack("<III", n, w, h))
        for i in range(n):
            f.write(bytes([(first + i) % 74] + [73] * 7 + [0]) + bytes([i % 256]) * (w * h))


def check_cat():
    bad = []
    pyexe = sys.executable
    with tempfile.TemporaryDirectory() as d:
        a, b, c, out = (os.path.join(d, n) for n in ("a", "b", "c", "out"))
        pack(a, 3, 32, 40, 0)
        pack(b, 2, 32, 40, 10)
        pack(c, 1, 128, 32, 20)
        r = subprocess.run([pyexe, os.path.join(TOOLS, "pack.py"), "--cat", a, "--cat", b,
                            "--out", out], capture_output=True, text=True)
        if r.returncode != 0:
            bad.append("cat failed: " + r.stderr.strip())
        else:
            data = open(out, "rb").read()
            want = (b"LPRP" + struct.pack("<III", 5, 32, 40) + open(a, "rb").read()[16:] +
                    open(b, "rb").read()[16:])
            if data != want:
                bad.append("cat: the joined pack is not a's records then b's")
        r = subprocess.run([pyexe, os.path.join(TOOLS, "pack.py"), "--cat", a, "--cat", c,
                            "--out", out + "2"], capture_output=True, text=True)
        if r.returncode == 0 or "128x32" not in r.stderr or os.path.exists(out + "2"):
            bad.append("cat of 32x40 and 128x32 packs was not refused: %r" % r.stderr)
        # box refiner packs (frames_to_refine.py): 20-byte header, 4 floats a record
        e, f = os.path.join(d, "e"), os.path.join(d, "f")
        for path, n, first in ((e, 2, 0), (f, 3, 5)):
            with open(path, "wb") as g:
                g.write(b"LPRB" + struct.pack("<IIII", n, 8, 4, 3))
                for i in range(n):
                    g.write(struct.pack("<4f", first + i, 0.5, -0.5, 1) +
                            bytes([first + i]) * (8 * 4 * 3))
        r = subprocess.run([pyexe, os.path.join(TOOLS, "pack.py"), "--cat", e, "--cat", f,
                            "--out", out + "3"], capture_output=True, text=True)
        want = (b"LPRB" + struct.pack("<IIII", 5, 8, 4, 3) + open(e, "rb").read()[20:] +
                open(f, "rb").read()[20:])
        if r.returncode != 0 or open(out + "3", "rb").read() != want:
            bad.append("cat of two refiner packs: %r" % r.stderr)
        r = subprocess.run([pyexe, os.path.join(TOOLS, "pack.py"), "--cat", e, "--cat", a,
                            "--out", out + "4"], capture_output=True, text=True)
        if r.returncode == 0 or os.path.exists(out + "4"):
            bad.append("cat of a refiner and a reader pack was not refused")
    return bad


def main():
    bad = check_regions() + check_cat()
    for b in bad:
        print("FAIL", b)
    print("%s: %d problems" % (os.path.basename(__file__), len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
