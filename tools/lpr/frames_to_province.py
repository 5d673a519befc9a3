#!/usr/bin/python3
"""Training and validation crops for the province reader and the character reader
(issue 5).

The plate reader sees a whole plate in 128x32, where the province character -- one of
31 dense hanzi -- is about 14x22 pixels, and it gets that slot wrong far more often
than any other (models/MODEL_CARD.md).  Once the box refiner has put the box on the
plate's edges, GA 36-2018's layout says where the province character sits, so a small
second network can look at just that character at the frame's own resolution.  This
cuts that region out of gen_frames.py frames: PROV_SINGLE of the box for one-row plates
(the first of seven 45x90 mm boxes on 440x140, or eight 43x90 on 480x140), PROV_DOUBLE
for double-row ones (the left 80x60 mm box of the top row on 440x220), resampled to
W x H grey with lpr.c's sampler (frames_to_refine.sample).  lpr.c cuts the same
regions (docs/lpr-models.md).

Boxes are the labelled box with each edge moved a little (the refiner leaves about 2 %
of the width and 4 % of the height), plus, with --boxes, the refined box darknet-lpr
really gave (`lpr_eval -v` lines).  The result is a reader pack (pack.py's "LPRP"
format) whose first label is the plate's first character and the other seven blank,
for `train_reader -k 1`.

With --chars it cuts the other characters instead, for the character reader: slot k
(2nd to last character) at GA 36's k-th character box (gen_plates.layout(), the same
boxes the generator draws) widened by CHAR_MX mm left and right and CHAR_MY mm above
and below, one crop per character, labelled with that character.  lpr.c's
refine_char_region() holds the same numbers.  Tooling only.

    /usr/bin/python3 tools/lpr/frames_to_province.py --in build/lpr-data/frames-train \\
        --boxes build/lpr-data/frames-train-refboxes.txt --out build/lpr-data/prov-train.pack
    /usr/bin/python3 tools/lpr/frames_to_province.py --chars --jitters 2 \\
        --in build/lpr-data/frames-train --boxes build/lpr-data/frames-train-refboxes.txt \\
        --out build/lpr-data/chars-train.pack
"""

import argparse
import csv
import os
import random
import struct
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pack  # noqa: E402
from frames_to_refine import sample  # noqa: E402
from gen_plates import layout  # noqa: E402

W, H = 32, 40
# (x0, y0, x1, y1) as fractions of the plate box
PROV_SINGLE = (-0.01, 0.08, 0.18, 0.92)
PROV_DOUBLE = (0.22, 0.02, 0.46, 0.39)
# the character reader's margin around a character box, mm
CHAR_MX, CHAR_MY = 13.0, 12.0


def region(box, double):
    x0, y0, x1, y1 = box
    f = PROV_DOUBLE if double else PROV_SINGLE
    w, h = x1 - x0, y1 - y0
    return x0 + f[0] * w, y0 + f[1] * h, (f[2] - f[0]) * w, (f[3] - f[1]) * h


def char_region(box, kind, text, k):
    """Slot k's character region in plate box (x0, y0, x1, y1): (x, y, w, h)."""
    pw, ph, boxes, _ = layout(kind, text)
    cx, cy, cw, chh = boxes[k]
    x0, y0, x1, y1 = box
    sx, sy = (x1 - x0) / pw, (y1 - y0) / ph
    return (x0 + (cx - CHAR_MX) * sx, y0 + (cy - CHAR_MY) * sy,
            (cw + 2 * CHAR_MX) * sx, (chh + 2 * CHAR_MY) * sy)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--in", dest="inp", required=True, help="a gen_frames.py folder")
    ap.add_argument("--out", required=True)
    ap.add_argument("--boxes", help="lpr_eval -v box lines: the refined boxes")
    ap.add_argument("--only-boxes", action="store_true")
    ap.add_argument("--chars", action="store_true",
                    help="the character reader's crops (slots 2..) instead")
    ap.add_argument("--from-slot", type=int, default=2,
                    help="with --chars, the first character cut (1-based; the real "
                    "crops' 2nd is 'A' in 93 %% of them: 3 keeps that prior out)")
    ap.add_argument("--jitters", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--symbols", default=os.path.join(os.path.dirname(__file__),
                                                      "../../models/symbols.txt"))
    args = ap.parse_args()
    sym, blank = pack.load_symbols(args.symbols)
    det = pack.box_lines(args.boxes, 0.5) if args.boxes else {}
    rng = random.Random(args.seed)
    recs = []
    with open(os.path.join(args.inp, "labels.csv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        if row["plate"][0] not in sym:
            continue
        x, y, w, h = (float(row[k]) for k in ("x", "y", "w", "h"))
        boxes = []
        if row["file"] in det:
            boxes.append(pack.box_from_errors(x, y, w, h, det[row["file"]]))
        if not args.only_boxes:
            for _ in range(args.jitters):
                boxes.append((x + rng.gauss(0, 0.02) * w, y + rng.gauss(0, 0.035) * h,
                              x + w + rng.gauss(0, 0.02) * w,
                              y + h + rng.gauss(0, 0.035) * h))
        if not boxes:
            continue
        img = np.asarray(Image.open(os.path.join(args.inp, row["file"])).convert("RGB"),
                         np.float32)
        double = row["kind"] in pack.DOUBLE_ROW
        kb = bytes([pack.KINDS.index(row["kind"]) if row["kind"] in pack.KINDS else 255])
        text = row["plate"]
        # (label, region function) per crop: the province, or every other character
        if args.chars:
            cuts = [(text[k], lambda b, k=k: char_region(b, row["kind"], text, k))
                    for k in range(max(1, args.from_slot - 1), len(text))
                    if text[k] in sym]
        else:
            cuts = [(text[0], lambda b: region(b, double))]
        for ch, reg in cuts:
            lab = bytes([sym[ch]] + [blank] * (pack.SLOTS - 1))
            for b in boxes:
                rgb = sample(img, *reg(b), ow=W, oh=H).astype(np.float32)
                g = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
                recs.append(lab + kb +
                            np.clip(np.rint(g), 0, 255).astype(np.uint8).tobytes())
    if not args.only_boxes:
        rng.shuffle(recs)
    with open(args.out, "wb") as f:
        f.write(b"LPRP" + struct.pack("<III", len(recs), W, H))
        for r in recs:
            f.write(r)
    print("frames_to_province: %d crops -> %s" % (len(recs), args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
