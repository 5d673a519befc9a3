#!/usr/bin/python3
"""Synthetic lane views with plates for the plate detector (issue 5).

Draws a 320x192 lane view (road, a car or truck front/rear with bumper, grille and
lights, gantry clutter) and mounts one plate rendered by gen_plates.py on it, tilted and
scaled as a gate camera sees it (plate 28-120 px wide), then the same camera look as the
reader's crops (IR/low light, glare, blur, noise, JPEG).  Writes <out>/<index>.jpg,
<out>/<index>.txt in darknet's YOLO format (class cx cy w h, fractions) and
<out>/list.txt.  Class = colour/layout as docs/lpr-models.md lists.

    /usr/bin/python3 tools/lpr/gen_scenes.py --seed 11 --count 20000 --out build/lpr-data/det-train
"""

import argparse
import math
import os
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

import gen_plates as gp

W, H = 320, 192
CLASS = {"blue": 0, "yellow": 1, "coach": 1, "yellow2": 2, "trailer": 2, "nev_small": 3,
         "nev_large": 4, "police": 5, "hk": 6, "embassy": 6, "consulate": 6}


def vehicle(rng, style):
    """Road and a vehicle face; returns the image and where the bumper is."""
    road = gp.jitter_colour((90, 90, 92) if style == "train" else (70, 75, 65), rng, 30)
    im = Image.new("RGB", (W, H), road)
    d = ImageDraw.Draw(im)
    # gantry, kerb, shadows: random bars and boxes behind the vehicle
    for _ in range(rng.randrange(0, 6)):
        x, y = rng.randrange(W), rng.randrange(H)
        d.rectangle([x, y, x + rng.randrange(5, 120), y + rng.randrange(3, 40)],
                    fill=gp.jitter_colour((120, 120, 120), rng, 90))
    truck = rng.random() < 0.5
    body = gp.jitter_colour(rng.choice([(200, 200, 200), (30, 30, 30), (230, 230, 230),
                                        (160, 30, 30), (40, 70, 140), (40, 110, 60),
                                        (200, 160, 40), (120, 120, 110)]), rng, 40)
    x0 = rng.randrange(-40, 60)
    x1 = W - rng.randrange(-40, 60)
    top = rng.randrange(-20, 60)
    d.rectangle([x0, top, x1, H + 10], fill=body)
    # windscreen or cargo box
    if rng.random() < 0.7:
        d.rectangle([x0 + 15, top, x1 - 15, top + rng.randrange(20, 60)],
                    fill=gp.jitter_colour((50, 60, 70) if not truck else body, rng, 30))
    # grille: horizontal slats
    gy = rng.randrange(top + 50, top + 110) if top + 110 < H else H // 2
    for k in range(rng.randrange(0, 8)):
        yy = gy - 40 + k * 5
        d.line([x0 + 40, yy, x1 - 40, yy], fill=gp.jitter_colour((40, 40, 40), rng, 30),
               width=2)
    # lights
    for lx in (x0 + 10, x1 - 50):
        d.rectangle([lx, gy - 30, lx + 40, gy - 15],
                    fill=gp.jitter_colour((230, 230, 200), rng, 25))
    # bumper
    by = min(H - 20, gy + rng.randrange(5, 35))
    d.rectangle([x0, by, x1, by + rng.randrange(15, 40)],
                fill=gp.jitter_colour(rng.choice([(40, 40, 40), (180, 180, 180), body]),
                                      rng, 20))
    return im, (x0, x1, by)


def place(scene, plate, rng, bumper):
    """Plate width 28-120 px, small tilt and perspective; returns the box (x0,y0,x1,y1)."""
    x0b, x1b, by = bumper
    pw = rng.uniform(28, 120)
    s = pw / plate.width
    ph = plate.height * s
    cx = rng.uniform(max(pw / 2 + 2, x0b + pw / 2), min(W - pw / 2 - 2, x1b - pw / 2))
    cy = by + rng.uniform(-ph, ph)
    cy = min(max(cy, ph / 2 + 2), H - ph / 2 - 2)
    rot = math.radians(rng.uniform(-7, 7))
    tilt = 0.07
    src = [(0, 0), (plate.width, 0), (plate.width, plate.height), (0, plate.height)]
    dst = []
    for (x, y) in src:
        dx = (x - plate.width / 2) * s * (1 + rng.uniform(-tilt, tilt))
        dy = (y - plate.height / 2) * s * (1 + rng.uniform(-tilt, tilt))
        dst.append((cx + dx * math.cos(rot) - dy * math.sin(rot),
                    cy + dx * math.sin(rot) + dy * math.cos(rot)))
    c = gp.perspective_coeffs(src, dst)
    warped = plate.transform((W, H), Image.PERSPECTIVE, c, Image.BILINEAR)
    mask = Image.new("L", plate.size, 255).transform((W, H), Image.PERSPECTIVE, c,
                                                     Image.BILINEAR)
    scene.paste(warped, (0, 0), mask)
    xs, ys = [p[0] for p in dst], [p[1] for p in dst]
    return max(0, min(xs)), max(0, min(ys)), min(W, max(xs)), min(H, max(ys))


def camera(img, rng):
    arr = np.asarray(img).astype(np.float32)
    look = rng.random()
    if look < 0.12:
        g = arr.mean(axis=2, keepdims=True)
        arr = np.repeat((g - g.mean()) * rng.uniform(0.8, 1.5) + rng.uniform(90, 160), 3, 2)
    elif look < 0.22:
        arr = arr * rng.uniform(0.25, 0.6)
    arr = arr * np.array([rng.uniform(0.85, 1.15) for _ in range(3)])
    arr = arr * rng.uniform(0.7, 1.3) + rng.uniform(-25, 25)
    rs = np.random.RandomState(rng.randrange(1 << 30))
    arr += rs.normal(0, rng.uniform(0, 8), arr.shape)
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    if rng.random() < 0.4:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    return img


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--style", choices=["train", "heldout"], default="train")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    glyphs = gp.Glyphs()
    kinds = list(gp.KIND_WEIGHTS)
    weights = [gp.KIND_WEIGHTS[k] for k in kinds]
    names = []
    for i in range(args.start, args.start + args.count):
        rng = random.Random(args.seed * 1000003 + i * 7919 + (0 if args.style == "train" else 17))
        kind = rng.choices(kinds, weights)[0]
        scene, bumper = vehicle(rng, args.style)
        text = gp.plate_text(kind, rng)
        plate = gp.render_plate(kind, text, rng, glyphs, args.style)
        plate = gp.dirt(plate, rng, rng.choice([0, 0.5, 1.0, 1.5]))
        x0, y0, x1, y1 = place(scene, plate, rng, bumper)
        scene = camera(scene, rng)
        name = os.path.join(os.path.abspath(args.out), "%07d" % i)
        scene.save(name + ".jpg", quality=rng.randint(40, 92))
        with open(name + ".txt", "w") as f:
            f.write("%d %.6f %.6f %.6f %.6f\n" % (CLASS[kind], (x0 + x1) / 2 / W,
                                                  (y0 + y1) / 2 / H, (x1 - x0) / W,
                                                  (y1 - y0) / H))
        names.append(name + ".jpg")
    lst = "list.txt" if args.start == 0 else "list.%d.txt" % args.start
    with open(os.path.join(args.out, lst), "w") as f:
        f.write("\n".join(names) + "\n")


if __name__ == "__main__":
    main()
