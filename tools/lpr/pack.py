#!/usr/bin/python3
"""Pack labelled plate crops into the flat file train_reader and eval_reader read (issue 5).

The reader's input is a 128x32 grey crop (docs/lpr-models.md); decoding thousands of
JPEGs in the C training loop would cost more than the network, so crops are converted
once here: stretched to 128x32 (bilinear), grey = ITU-R 601 luma, one byte per pixel,
with the plate's 8 slot labels as indices into models/symbols.txt (blank for slot 8 of
7-character plates).  Double-row crops (kinds yellow2, trailer) are unfolded first: top
row band left, bottom row band right (unfold(), the same cut darknet-lpr makes).

Input folders: a labels.csv (file,plate[,kind]) when present, else file names
`<anything>_<PLATE>.jpg` or `<PLATE>.jpg`.  --split test|val|train with --test-count,
--val-count and --split-seed takes a deterministic part of a folder (the real crops: a
held-out test part for the model card, a validation part that picks the checkpoint,
and a fine-tuning part; they never overlap); --augment N writes N
jittered copies of each crop (shifted/scaled crop box, small rotation, contrast, blur,
noise) so that a few hundred real crops can be mixed into training.

Format (little-endian): "LPRP", u32 count, u32 width, u32 height, then per crop
8 label bytes, a kind byte (index into KINDS, 255 unknown) and width*height grey bytes.

    /usr/bin/python3 tools/lpr/pack.py --in DIR --out build/lpr-data/x.pack

--cat joins packs of one crop size (as frames_to_province.py writes them, or the box
refiner's from frames_to_refine.py) into one, for train_reader's one synthetic pack:

    /usr/bin/python3 tools/lpr/pack.py --cat a.pack --cat b.pack --out ab.pack
"""

import argparse
import csv
import os
import random
import struct
import sys

import numpy as np
from PIL import Image, ImageFilter

W, H, SLOTS = 128, 32, 8
KINDS = ["blue", "yellow", "yellow2", "trailer", "coach", "nev_small", "nev_large",
         "police", "hk", "embassy", "consulate", "real"]


def load_symbols(path):
    with open(path, encoding="utf-8") as f:
        syms = [l.rstrip("\n") for l in f if l.rstrip("\n")]
    return {s: i for i, s in enumerate(syms)}, len(syms) - 1


def list_folder(d):
    lab = os.path.join(d, "labels.csv")
    items = []
    if os.path.exists(lab):
        import glob
        for p in [lab] + sorted(glob.glob(os.path.join(d, "labels.*.csv"))):
            with open(p, encoding="utf-8") as f:
                for row in csv.DictReader(f):
                    items.append((os.path.join(d, row["file"]), row["plate"],
                                  row.get("kind") or "real"))
    else:
        for n in sorted(os.listdir(d)):
            if n.lower().endswith((".jpg", ".jpeg", ".png")):
                stem = os.path.splitext(n)[0]
                items.append((os.path.join(d, n), stem.split("_")[-1], "real"))
    return items


def box_lines(path, min_iou=0.0):
    """The boxes darknet-lpr gave, from `lpr_eval -v` lines "box PATH: iou I left L
    right R top T bottom B" (each edge's error as a fraction of the labelled plate's
    width or height): {file name: (L, R, T, B)} for boxes with IoU >= min_iou."""
    boxes = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            t = line.split()
            if len(t) >= 12 and t[0] == "box" and float(t[3]) >= min_iou:
                boxes[os.path.basename(t[1].rstrip(":"))] = tuple(float(t[k])
                                                                  for k in (5, 7, 9, 11))
    return boxes


def box_from_errors(x, y, w, h, e):
    """(x0, y0, x1, y1) of the labelled box (x, y, w, h) with box_lines() errors e."""
    el, er, et, eb = e
    return x + el * w, y + et * h, x + w + er * w, y + h + eb * h


def split_part(items, part, test_count=150, val_count=100, seed=5):
    """One part (test, val or train) of a folder's items, always the same for the
    same folder and seed: test first, then val, the rest trains; they never
    overlap. eval_reader.py and the benchmark's real-crop CSV take the same parts."""
    items = sorted(items)
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    which = {i: ("test" if k < test_count else "val" if k < test_count + val_count
                 else "train") for k, i in enumerate(order)}
    return [it for i, it in enumerate(items) if which[i] == part]


def jitter(im, rng):
    """One augmented copy of a real crop: what a slightly different detector box and
    camera would give."""
    w, h = im.size
    l, r = rng.uniform(-0.05, 0.05) * w, w + rng.uniform(-0.05, 0.05) * w
    t, b = rng.uniform(-0.12, 0.12) * h, h + rng.uniform(-0.12, 0.12) * h
    im = im.rotate(rng.uniform(-4, 4), Image.BILINEAR, expand=False,
                   fillcolor=tuple(int(v) for v in np.asarray(im).reshape(-1, 3).mean(0)))
    im = im.crop((int(l), int(t), int(r), int(b)))
    a = np.asarray(im).astype(np.float32)
    a = (a - a.mean()) * rng.uniform(0.6, 1.3) + a.mean() + rng.uniform(-40, 40)
    a = a * np.array([rng.uniform(0.85, 1.15) for _ in range(3)])
    im = Image.fromarray(a.clip(0, 255).astype(np.uint8))
    if rng.random() < 0.3:
        im = im.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    return im


DOUBLE_ROW = ("yellow2", "trailer")
# Unfolding a double-row crop into the reader's one-row input (docs/lpr-models.md):
# the top row's band (province + letter, centred) goes to the left TOP_W columns, the
# bottom row's band to the rest, so every plate shows the reader characters of about
# the same size in reading order.  Fractions of the crop: x0, y0, x1, y1.
TOP_W = 40
TOP_BAND = (0.18, 0.0, 0.82, 0.42)
BOTTOM_BAND = (0.0, 0.34, 1.0, 1.0)


def unfold(im):
    w, h = im.size
    def band(b, size):
        return im.crop((int(b[0] * w), int(b[1] * h), max(int(b[0] * w) + 1, int(round(b[2] * w))),
                        max(int(b[1] * h) + 1, int(round(b[3] * h))))).resize(size, Image.BILINEAR)
    out = Image.new("RGB", (W, H))
    out.paste(band(TOP_BAND, (TOP_W, H)), (0, 0))
    out.paste(band(BOTTOM_BAND, (W - TOP_W, H)), (TOP_W, 0))
    return out


def grey128(im, rng=None, double_row=False):
    if double_row:
        im = unfold(im.convert("RGB"))
    g = np.asarray(im.convert("RGB").resize((W, H), Image.BILINEAR).convert("L"),
                   np.float32)
    if rng is not None and rng.random() < 0.5:
        g = g + np.random.RandomState(rng.randrange(1 << 30)).normal(0, rng.uniform(1, 8),
                                                                        g.shape)
    return g.clip(0, 255).astype(np.uint8)


def cat_packs(paths, out):
    """Joins reader packs ("LPRP") of one crop size, or box refiner packs ("LPRB",
    frames_to_refine.py) of one region size, into out; returns the count."""
    heads, total = [], 0
    for p in paths:
        with open(p, "rb") as f:
            magic = f.read(4)
            if magic == b"LPRB":
                n, *shape = struct.unpack("<IIII", f.read(16))
                hdr, rec = 20, 16 + shape[0] * shape[1] * shape[2]
            elif magic == b"LPRP":
                n, *shape = struct.unpack("<III", f.read(12))
                hdr, rec = 16, SLOTS + 1 + shape[0] * shape[1]
            else:
                sys.exit("pack: %s: not a reader or refiner pack" % p)
        if heads and (magic, shape) != heads[0][1:3]:
            sys.exit("pack: %s: %s %s, %s has %s %s" % (
                p, magic.decode(), "x".join(map(str, shape)), paths[0],
                heads[0][1].decode(), "x".join(map(str, heads[0][2]))))
        if os.path.getsize(p) != hdr + n * rec:
            sys.exit("pack: %s: size does not match its %d records" % (p, n))
        heads.append((n, magic, shape, hdr))
        total += n
    magic, shape, hdr = heads[0][1:]
    with open(out, "wb") as f:
        f.write(magic + struct.pack("<I%dI" % len(shape), total, *shape))
        for p in paths:
            with open(p, "rb") as g:
                g.seek(hdr)
                while True:
                    buf = g.read(1 << 24)
                    if not buf:
                        break
                    f.write(buf)
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--in", dest="inp", action="append")
    ap.add_argument("--cat", action="append", help="a pack to join (see above)")
    ap.add_argument("--out", help="the pack to write")
    ap.add_argument("--symbols", default=os.path.join(os.path.dirname(__file__),
                                                      "../../models/symbols.txt"))
    ap.add_argument("--split", choices=["all", "train", "val", "test"], default="all")
    ap.add_argument("--test-count", type=int, default=150)
    ap.add_argument("--val-count", type=int, default=100)
    ap.add_argument("--split-seed", type=int, default=5)
    ap.add_argument("--augment", type=int, default=0, help="jittered copies per crop")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--list", help="write the files packed to this text file")
    ap.add_argument("--csv", help="only write file,plate,kind rows (absolute paths) of "
                    "the chosen part to this CSV, for lpr_eval; no pack")
    args = ap.parse_args()

    if not args.out and not args.csv:
        ap.error("--out or --csv is required")
    if args.cat:
        if args.inp or not args.out:
            ap.error("--cat takes only --out")
        n = cat_packs(args.cat, args.out)
        print("pack: %d crops from %d packs -> %s" % (n, len(args.cat), args.out),
              file=sys.stderr)
        return
    if not args.inp:
        ap.error("--in is required")
    sym, blank = load_symbols(args.symbols)
    items = []
    for d in args.inp:
        items += list_folder(d)
    if args.split != "all":
        items = split_part(items, args.split, args.test_count, args.val_count,
                           args.split_seed)
    if args.csv:
        with open(args.csv, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["file", "plate", "kind"])
            w.writerows((os.path.abspath(p), plate, kind) for p, plate, kind in items)
        print("pack: %d rows -> %s" % (len(items), args.csv), file=sys.stderr)
        return
    rng = random.Random(args.seed)
    recs, skipped = [], 0
    for path, plate, kind in items:
        if len(plate) not in (7, 8) or any(c not in sym for c in plate):
            skipped += 1
            continue
        lab = bytes([sym[c] for c in plate] + [blank] * (SLOTS - len(plate)))
        kb = bytes([KINDS.index(kind) if kind in KINDS else 255])
        im = Image.open(path).convert("RGB")
        dbl = kind in DOUBLE_ROW
        if args.augment == 0:
            recs.append(lab + kb + grey128(im, None, dbl).tobytes())
        for _ in range(args.augment):
            recs.append(lab + kb + grey128(jitter(im, rng), rng, dbl).tobytes())
    if args.augment:
        rng.shuffle(recs)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "wb") as f:
        f.write(b"LPRP" + struct.pack("<III", len(recs), W, H))
        for r in recs:
            f.write(r)
    if args.list:
        with open(args.list, "w", encoding="utf-8") as f:
            f.writelines(os.path.basename(p) + "\n" for p, _, _ in items)
    print("pack: %d crops (%d skipped) -> %s" % (len(recs), skipped, args.out),
          file=sys.stderr)


if __name__ == "__main__":
    main()
