#!/usr/bin/python3
"""Training and validation data for the plate box refiner (issue 5).

The detector works on the frame shrunk to 320x192, where a plate is 30-80 px wide, so
its box edges wander (mean IoU 0.77 with the labelled box; each edge off 5 % of the
plate's width or 9 % of its height on average) and the reader, which stretches the
box to 128x32, loses more than half its reads to that.  The refiner looks again at
full resolution: the region around the box (REF_PX of the box's width left and right,
REF_PY of its height above and below) resampled to the refiner's input, and it
regresses the four edges of the plate as offsets from the box's own edges, in units
of the box's width or height times REF_SCALE.  The contract (region, scale, output
order left, top, right, bottom) is in docs/lpr-models.md; darknet-lpr's lpr.c applies
it with the same numbers.

From a gen_frames.py folder this writes an "LPRB" pack: per sample the four targets
and the region resampled the way lpr.c's frame_sample() does (bilinear taps with
clamped edges, up to 4x4 taps per output pixel), planar RGB.  Boxes are the labelled
box with each edge moved at random (a wider spread than the detector's), plus, with
--boxes, the box the detector really gave for that frame (`lpr_eval -v` lines, as for
frames_to_crops.py).  --only-boxes keeps just the detector's boxes: the validation
set that tells how much the refiner mends real detector error.  Tooling only.

Format (little-endian): "LPRB", u32 count, u32 width, u32 height, u32 channels, then
per sample 4 float32 targets and channels*height*width bytes.

    /usr/bin/python3 tools/lpr/frames_to_refine.py --in build/lpr-data/frames-train \\
        --boxes build/lpr-data/frames-train-boxes.txt --jitters 6 --out build/lpr-data/refine-train.pack
"""

import argparse
import csv
import math
import os
import random
import struct
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pack  # noqa: E402

W, H, C = 128, 64, 3
REF_PX, REF_PY, REF_SCALE = 0.3, 0.6, 5.0


def sample(img, x, y, w, h, ow=W, oh=H, max_taps=4):
    """lpr.c's sample_into(): the rectangle (x, y, w, h) of img (HxWx3 float) into
    ow x oh, each output pixel the mean of kx x ky bilinear taps, edges clamped."""
    sx, sy = w / ow, h / oh
    kx = min(max(int(math.ceil(sx)), 1), max_taps)
    ky = min(max(int(math.ceil(sy)), 1), max_taps)
    fh, fw = img.shape[:2]
    acc = np.zeros((oh, ow, 3), np.float32)
    jj = np.arange(ow, dtype=np.float32)
    ii = np.arange(oh, dtype=np.float32)
    for a in range(ky):
        cy = np.clip(y + (ii + (a + 0.5) / ky) * sy - 0.5, 0, fh - 1)
        y0 = cy.astype(np.int32)
        y1 = np.minimum(y0 + 1, fh - 1)
        fy = (cy - y0)[:, None, None]
        for b in range(kx):
            cx = np.clip(x + (jj + (b + 0.5) / kx) * sx - 0.5, 0, fw - 1)
            x0 = cx.astype(np.int32)
            x1 = np.minimum(x0 + 1, fw - 1)
            fx = (cx - x0)[None, :, None]
            r0 = img[y0][:, x0] + (img[y0][:, x1] - img[y0][:, x0]) * fx
            r1 = img[y1][:, x0] + (img[y1][:, x1] - img[y1][:, x0]) * fx
            acc += r0 + (r1 - r0) * fy
    acc /= kx * ky
    return np.clip(np.rint(acc), 0, 255).astype(np.uint8)


def record(img, plate, box):
    """One sample: plate and box are (x0, y0, x1, y1) in frame pixels."""
    bx0, by0, bx1, by1 = box
    bw, bh = bx1 - bx0, by1 - by0
    reg = sample(img, bx0 - REF_PX * bw, by0 - REF_PY * bh, bw * (1 + 2 * REF_PX),
                 bh * (1 + 2 * REF_PY))
    t = ((plate[0] - bx0) / bw * REF_SCALE, (plate[1] - by0) / bh * REF_SCALE,
         (plate[2] - bx1) / bw * REF_SCALE, (plate[3] - by1) / bh * REF_SCALE)
    return struct.pack("<4f", *t) + reg.transpose(2, 0, 1).tobytes()


def jittered(plate, rng, sx, sy, cx, cy):
    """The labelled box with each edge moved: normal spread sx (left, right, of the
    width) and sy (top, bottom, of the height), clipped to cx, cy."""
    x0, y0, x1, y1 = plate
    w, h = x1 - x0, y1 - y0
    e = [max(-cx, min(cx, rng.gauss(0, sx))) * w for _ in range(2)] + \
        [max(-cy, min(cy, rng.gauss(0, sy))) * h for _ in range(2)]
    return (x0 + e[0], y0 + e[2], x1 + e[1], y1 + e[3])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--in", dest="inp", required=True, help="a gen_frames.py folder")
    ap.add_argument("--out", required=True)
    ap.add_argument("--boxes", help="lpr_eval -v box lines: the detector's boxes")
    ap.add_argument("--only-boxes", action="store_true")
    ap.add_argument("--jitters", type=int, default=6, help="random boxes per frame")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    det = pack.box_lines(args.boxes) if args.boxes else {}
    rng = random.Random(args.seed)
    recs = []
    with open(os.path.join(args.inp, "labels.csv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for n, row in enumerate(rows):
        x, y, w, h = (float(row[k]) for k in ("x", "y", "w", "h"))
        plate = (x, y, x + w, y + h)
        boxes = []
        if row["file"] in det:
            boxes.append(pack.box_from_errors(x, y, w, h, det[row["file"]]))
        if not args.only_boxes:
            for k in range(args.jitters):
                # one in six close to right: a second pass starts there
                if k == 0:
                    boxes.append(jittered(plate, rng, 0.02, 0.04, 0.06, 0.1))
                else:
                    boxes.append(jittered(plate, rng, 0.08, 0.13, 0.25, 0.35))
        if not boxes:
            continue
        img = np.asarray(Image.open(os.path.join(args.inp, row["file"])).convert("RGB"),
                         np.float32)
        for b in boxes:
            if b[2] - b[0] >= 4 and b[3] - b[1] >= 2:
                recs.append(record(img, plate, b))
        if (n + 1) % 500 == 0:
            print("frames_to_refine: %d/%d frames, %d samples" % (n + 1, len(rows),
                                                                 len(recs)),
                  file=sys.stderr)
    if not args.only_boxes:
        rng.shuffle(recs)
    with open(args.out, "wb") as f:
        f.write(b"LPRB" + struct.pack("<IIII", len(recs), W, H, C))
        for r in recs:
            f.write(r)
    print("frames_to_refine: %d samples -> %s" % (len(recs), args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
