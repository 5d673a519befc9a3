#!/usr/bin/python3
"""Turn gen_frames.py gate frames into detector training views (issue 5).

The detector sees a frame letterboxed to 320x192 (docs/lpr-models.md); gen_scenes.py
draws such views directly, but the frames a gate camera gives, with a plate rendered
at full resolution and shrunk, the weather and the camera look of gen_frames.py
(rain, occlusion, glare...), are what the detector must find plates in.  This shrinks
each frame of a gen_frames folder to the detector's input (the same aspect, area
averaging as darknet-lpr's letterbox does) and writes darknet's YOLO label file
(class cx cy w h, fractions) beside it and a list.txt, the format train_detector
reads.  Tooling only.

    /usr/bin/python3 tools/lpr/gen_frames.py --seed 41 --style train --count 6000 --out build/lpr-data/frames-train
    /usr/bin/python3 tools/lpr/frames_to_det.py --in build/lpr-data/frames-train --out build/lpr-data/det-frames
"""

import argparse
import csv
import os
import sys

from PIL import Image


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--in", dest="inp", required=True, help="a gen_frames.py folder")
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", default="320x192", help="the detector's input, WxH")
    args = ap.parse_args()
    dw, dh = (int(v) for v in args.size.split("x"))
    os.makedirs(args.out, exist_ok=True)
    names, skipped = [], 0
    with open(os.path.join(args.inp, "labels.csv"), encoding="utf-8") as f:
        for row in csv.DictReader(f):
            im = Image.open(os.path.join(args.inp, row["file"])).convert("RGB")
            fw, fh = im.size
            if abs(fw / fh - dw / dh) > 0.01:
                # letterboxing would shift the boxes: keep to frames of the same shape
                skipped += 1
                continue
            x, y, w, h = (float(row[k]) for k in ("x", "y", "w", "h"))
            base = os.path.join(os.path.abspath(args.out), os.path.splitext(row["file"])[0])
            im.resize((dw, dh), Image.BOX).save(base + ".jpg", quality=92)
            with open(base + ".txt", "w") as t:
                t.write("%d %.6f %.6f %.6f %.6f\n" % (int(row["class"]), (x + w / 2) / fw,
                                                      (y + h / 2) / fh, w / fw, h / fh))
            names.append(base + ".jpg")
    with open(os.path.join(args.out, "list.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    print("frames_to_det: %d views (%d skipped: other aspect) -> %s" %
          (len(names), skipped, args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
