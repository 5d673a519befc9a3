#!/usr/bin/python3
"""Cut reader training crops out of gen_frames.py gate frames (issue 5).

gen_plates.py renders crops as another project's detector cut them; darknet-lpr cuts
its own, from the detector's box widened by reader.pad_x/pad_y (4 % and 8 %), out of a
full-resolution frame with the frame's weather and camera look.  This cuts such crops
from a gen_frames folder, with the box jittered the way a detector's box wanders
(edges a few per cent in or out), and writes <out>/NNNNNNN_<PLATE>.jpg plus a
labels.csv (file,plate,kind) that pack.py reads (double-row kinds are unfolded there).
With --boxes, the crops are cut from the boxes the detector really gave instead
(`lpr_eval -v` prints them as "box PATH: iou I left L right R top T bottom B", each
edge's error as a fraction of the plate's width or height), so the reader learns the
detector's own misalignment; frames whose box overlaps the plate by less than IoU 0.5
are left out. Tooling only.

    /usr/bin/python3 tools/lpr/frames_to_crops.py --in build/lpr-data/frames-train --out build/lpr-data/frame-crops
    build/dev/tests/lpr_eval -v -m models build/lpr-data/frames-train 2>&1 >/dev/null | grep '^box' > boxes.txt
    /usr/bin/python3 tools/lpr/frames_to_crops.py --in build/lpr-data/frames-train --boxes boxes.txt --out build/lpr-data/det-crops
"""

import argparse
import csv
import os
import random
import sys

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pack  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--in", dest="inp", required=True, help="a gen_frames.py folder")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--copies", type=int, default=1, help="crops per frame")
    ap.add_argument("--boxes", help="lpr_eval -v box lines: cut the detector's boxes")
    args = ap.parse_args()
    boxes = pack.box_lines(args.boxes, 0.5) if args.boxes else {}
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    rows = []
    with open(os.path.join(args.inp, "labels.csv"), encoding="utf-8") as f:
        for row in csv.DictReader(f):
            im = Image.open(os.path.join(args.inp, row["file"])).convert("RGB")
            x, y, w, h = (float(row[k]) for k in ("x", "y", "w", "h"))
            if args.boxes:
                if row["file"] not in boxes:
                    continue
                x0, y0, x1, y1 = pack.box_from_errors(x, y, w, h, boxes[row["file"]])
                bw, bh = x1 - x0, y1 - y0
                crop = im.crop((int(max(0, x0 - 0.04 * bw)), int(max(0, y0 - 0.08 * bh)),
                                int(min(im.width, x1 + 0.04 * bw)),
                                int(min(im.height, y1 + 0.08 * bh))))
                name = "%s_d_%s.jpg" % (row["file"].split("_")[0], row["plate"])
                crop.save(os.path.join(args.out, name), quality=90)
                rows.append((name, row["plate"], row["kind"]))
                continue
            for c in range(args.copies):
                # the daemon's widening (4 %, 8 %) plus a detector's wander
                l = x - w * (0.04 + rng.uniform(-0.05, 0.05))
                r = x + w * (1.04 + rng.uniform(-0.05, 0.05))
                t = y - h * (0.08 + rng.uniform(-0.08, 0.08))
                b = y + h * (1.08 + rng.uniform(-0.08, 0.08))
                crop = im.crop((int(max(0, l)), int(max(0, t)), int(min(im.width, r)),
                                int(min(im.height, b))))
                name = "%s_%d_%s.jpg" % (row["file"].split("_")[0], c, row["plate"])
                crop.save(os.path.join(args.out, name), quality=90)
                rows.append((name, row["plate"], row["kind"]))
    with open(os.path.join(args.out, "labels.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["file", "plate", "kind"])
        w.writerows(rows)
    print("frames_to_crops: %d crops -> %s" % (len(rows), args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
