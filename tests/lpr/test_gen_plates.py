#!/usr/bin/python3
"""Fast check of the synthetic plate generator (issue 5): every plate kind renders,
its label fits the GA 36-2018 slot alphabets the reader decodes with (the same table
as tools/lpr/eval_reader.py), the crop has the size and aspect of a camera crop, and the
same seed gives the same pixels. A few seconds; no darknet needed.

    /usr/bin/python3 tests/lpr/test_gen_plates.py
"""
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "lpr"))

import numpy as np  # noqa: E402

import gen_plates as gp  # noqa: E402
from eval_reader import FORMATS, BLANK  # noqa: E402


def fits(text):
    padded = text + BLANK * (8 - len(text))
    return any(all(c in allowed for c, allowed in zip(padded, slots))
               for slots in FORMATS.values())


def main():
    glyphs = gp.Glyphs()
    failures = 0
    for n, kind in enumerate(gp.KINDS):
        for style in ("train", "heldout"):
            rng = random.Random(1000 + n)
            text, crop = gp.make_one(n, kind, rng, glyphs, style)
            again = gp.make_one(n, kind, random.Random(1000 + n), glyphs, style)
            problems = []
            if not fits(text):
                problems.append("label %s fits no plate format" % text)
            if len(text) not in (7, 8):
                problems.append("label %s has %d characters" % (text, len(text)))
            ar = crop.width / crop.height
            double = kind in ("yellow2", "trailer")
            if not (1.2 <= ar <= 2.8 if double else 1.9 <= ar <= 6.0):
                problems.append("aspect %.2f" % ar)
            if not (10 <= crop.height <= 120 and 40 <= crop.width <= 200):
                problems.append("size %dx%d" % crop.size)
            if again[0] != text or not np.array_equal(np.asarray(again[1]),
                                                      np.asarray(crop)):
                problems.append("not deterministic")
            if problems:
                failures += 1
                print("FAIL %s/%s: %s" % (kind, style, "; ".join(problems)))
    print("gen_plates: %d kinds x 2 styles, %d failures" % (len(gp.KINDS), failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
