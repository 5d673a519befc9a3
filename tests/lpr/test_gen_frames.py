#!/usr/bin/python3
"""Fast check of the gate frame generator tools/lpr/gen_frames.py (issue 5), whose
frames score darknet-lpr end to end and feed the demo: a wrong box or a condition that
is recorded but not drawn would make those scores lie.

- 200 frames (small size, in-process): the requested size, every box inside the frame
  with the plate's colour in it (frames without colour-changing conditions), plates
  that fit the GA 36-2018 slot alphabets (eval_reader.FORMATS, as the reader decodes),
  class = gen_scenes.CLASS[kind], the kind drawn exactly as gen_plates seeds an index,
  every condition present a fair number of times and a fair share of clean frames.
- each condition forced on clean frames at 960x576 does what its name says, compared
  with the same frame without it (IR is monochrome, glare only brightens a blob, a
  dirty or occluded plate changes nothing outside its box and an occluder covers at
  most 10 % of the plate, ...).
- the reading envelope: each frame's recorded char_px, motion_px, focus_px, covered,
  evidence, contrast and noise_sd fit its plate and conditions, legible follows
  gen_frames.LEGIBLE, clean frames are legible, covered() and contrast() measure
  character boxes where GA 36 puts them, evidence() tells a bar over an E's bottom
  (an F) from one over its middle and rivals() follow the slot alphabets, a blank plate (render_plate chars=False)
  differs from its inked twin only inside the character boxes, and low light lowers
  the recorded contrast.
- --provinces: a site's shares drawn as given, the rest evenly, the frame otherwise
  the same.
- the command line: --size honoured, labels.csv parses, the same seed gives the same
  bytes, --start reproduces an index of a longer run, another --style other images.

    /usr/bin/python3 tests/lpr/test_gen_frames.py
"""
import csv
import glob
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, "..", "..", "tools", "lpr")
sys.path.insert(0, TOOLS)

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import gen_frames as gf  # noqa: E402
import gen_plates as gp  # noqa: E402
import gen_scenes as gs  # noqa: E402
from eval_reader import FORMATS, BLANK  # noqa: E402

FAILURES = []
SEED = 21


def check(ok, what):
    if not ok:
        FAILURES.append(what)
        print("FAIL " + what)
    return ok


def fits(text):
    padded = text + BLANK * (8 - len(text))
    return len(text) in (7, 8) and any(
        all(c in allowed for c, allowed in zip(padded, slots))
        for slots in FORMATS.values())


def plate_coloured(kind, px):
    """Boolean mask of the pixels (N x 3 float) in the plate background's colour."""
    r, g, b = px[:, 0], px[:, 1], px[:, 2]
    blue = (b > r + 30) & (b > g)
    yellow = (r > 120) & (g > 80) & (b < np.minimum(r, g) - 50)
    green = (g > r + 15) & (g > b + 10)
    if kind == "blue":
        return blue
    if kind in ("yellow", "yellow2", "trailer", "coach"):
        return yellow
    if kind == "nev_small":
        # a gradient from near-white at the top to green at the bottom
        return green | ((px.min(axis=1) > 170) & (g >= r))
    if kind == "nev_large":
        return green | yellow
    if kind == "police":
        return (px.min(axis=1) > 150) & (px.max(axis=1) - px.min(axis=1) < 60)
    return px.max(axis=1) < 80          # black: hk, embassy, consulate


def quad_area(c):
    return 0.5 * abs(sum(c[k][0] * c[(k + 1) % 4][1] - c[(k + 1) % 4][0] * c[k][1]
                         for k in range(4)))


def sample(glyphs):
    """200 frames at 480x288 with 45-120 px plates; returns the clean indices."""
    size = (480, 288)
    counts = {c: 0 for c in gf.CONDITIONS}
    clean, coloured_checked = [], 0
    kinds = list(gp.KIND_WEIGHTS)
    for i in range(200):
        img, q, row = gf.make_frame(i, SEED, "heldout", size, glyphs, (45, 120))
        tag = "frame %d (%s %s, %s)" % (i, row["kind"], row["plate"], row["conditions"])
        check(img.size == size, "%s: size %s" % (tag, img.size))
        check(40 <= q <= 92, "%s: JPEG quality %d" % (tag, q))
        want = random.Random(SEED * 1000003 + i * 7919 + 17).choices(
            kinds, [gp.KIND_WEIGHTS[k] for k in kinds])[0]
        check(row["kind"] == want, "%s: kind is not gen_plates' draw %s" % (tag, want))
        check(row["class"] == gs.CLASS[row["kind"]], "%s: class %s" % (tag, row["class"]))
        check(fits(row["plate"]), "%s: plate fits no format" % tag)
        x, y, w, h = row["x"], row["y"], row["w"], row["h"]
        if not check(x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= size[0] and
                     y + h <= size[1], "%s: box %s outside the frame" % (tag, (x, y, w, h))):
            continue
        check(40 <= w <= 140, "%s: box width %d for a 45-120 px plate" % (tag, w))
        conds = [] if row["conditions"] == "clean" else row["conditions"].split("+")
        check(conds == sorted(set(conds)) and all(c in gf.CONDITIONS for c in conds),
              "%s: conditions not sorted known names" % tag)
        check(not ("night_ir" in conds and "low_light" in conds),
              "%s: night IR and low light at once" % tag)
        for c in conds:
            counts[c] += 1
        envelope(tag, row, conds, size)
        if not conds:
            clean.append(i)
        if not set(conds) & {"night_ir", "low_light", "glare", "dirt"}:
            px = np.asarray(img, np.float32)[y:y + h, x:x + w].reshape(-1, 3)
            share = plate_coloured(row["kind"], px).mean()
            coloured_checked += 1
            check(share >= 0.3, "%s: only %.0f %% of its box is plate-coloured"
                  % (tag, 100 * share))
    check(coloured_checked >= 80, "plate colour checked on %d frames only" %
          coloured_checked)
    for c, n in counts.items():
        check(n >= 6, "condition %s in %d of 200 frames" % (c, n))
    check(40 <= len(clean) <= 120, "%d of 200 frames clean" % len(clean))
    print("gen_frames: 200 frames, conditions %s, clean %d" % (
        ", ".join("%s %d" % kv for kv in counts.items()), len(clean)))
    return clean


def envelope(tag, row, conds, size):
    """The reading envelope's columns of one frame agree with what was drawn."""
    scale = size[0] / 960
    cw, mp, fp, cov = row["char_px"], row["motion_px"], row["focus_px"], row["covered"]
    narrow = 43 if row["kind"] in ("nev_small", "nev_large") else \
        65 if row["kind"] in ("yellow2", "trailer") else 45
    wide = 480 if row["kind"] in ("nev_small", "nev_large") else 440
    # the plate's width in the frame is its box's width give or take rotation/tilt
    check(0.75 * row["w"] * narrow / wide <= cw <= 1.1 * row["w"] * narrow / wide,
          "%s: char_px %.1f for a %d px box" % (tag, cw, row["w"]))
    if "motion_blur" in conds:
        check(mp % 2 == 1 and max(3, int(5 * scale)) <= mp <= int(13 * scale) | 1,
              "%s: motion_px %s" % (tag, mp))
    else:
        check(mp == 0, "%s: motion_px %s without motion blur" % (tag, mp))
    if "focus_blur" in conds:
        check(1.2 * scale - 0.01 <= fp <= 2.8 * scale + 0.01, "%s: focus_px %s" % (tag, fp))
    else:
        check(fp == 0, "%s: focus_px %s without focus blur" % (tag, fp))
    check(0 <= cov <= 1 and (cov == 0 or "occlusion" in conds),
          "%s: covered %s" % (tag, cov))
    seen = row["evidence"]
    check(0 <= seen <= 1 and (seen == 1 or cov > 0), "%s: evidence %s, covered %s" %
          (tag, seen, cov))
    ink, sd = row["contrast"], row["noise_sd"]
    check(0 <= ink <= 255, "%s: contrast %s" % (tag, ink))
    if "noise" in conds:
        check(6 <= sd <= 16, "%s: noise_sd %s" % (tag, sd))
    else:
        check(sd == 0, "%s: noise_sd %s without noise" % (tag, sd))
    want = int(mp <= gf.LEGIBLE["motion"] * cw and fp <= gf.LEGIBLE["focus"] * cw and
               cov <= gf.LEGIBLE["covered"] and seen >= gf.LEGIBLE["evidence"] and
               ink >= gf.LEGIBLE["contrast"] and
               ink >= gf.LEGIBLE["snr"] * sd)
    check(row["legible"] == want, "%s: legible %s, want %s" % (tag, row["legible"], want))
    if not conds:
        check(row["legible"] == 1, "%s: a clean frame beyond the envelope" % tag)


def coverage():
    """covered() on masks drawn over known GA 36 boxes (gen_plates.layout)."""
    from PIL import ImageDraw
    for kind, text in (("blue", "沪A12345"), ("nev_small", "沪AD12345"),
                       ("yellow2", "沪A12345")):
        pw, ph, boxes, _ = gp.layout(kind, text)
        ppm = 2                            # the mask at 2 px per mm
        x, y, w, h = [v * ppm for v in boxes[3]]
        for share, want in ((0, 0.0), (0.5, 0.5), (1, 1.0)):
            mask = Image.new("L", (pw * ppm, ph * ppm), 0)
            if share:
                ImageDraw.Draw(mask).rectangle([x, y, x + w * share - 1, y + h - 1],
                                               fill=255)
            got = gf.covered(mask, kind, text)
            check(abs(got - want) < 0.03, "covered(%s, 4th box %.0f %% masked) = %.3f" %
                  (kind, 100 * share, got))
        # the gap between two boxes covers no character
        gap = Image.new("L", (pw * ppm, ph * ppm), 0)
        gx = (boxes[3][0] + boxes[3][2]) * ppm
        ImageDraw.Draw(gap).rectangle([gx + 1, y, boxes[4][0] * ppm - 2, y + h - 1],
                                      fill=255)
        check(gf.covered(gap, kind, text) == 0, "%s: a mask between boxes covers %.3f" %
              (kind, gf.covered(gap, kind, text)))


def distinguishable(glyphs):
    """evidence() on bars drawn over one known character: what a bar hides decides,
    not how much of the box it covers; and rivals() follows the slot alphabets."""
    from PIL import ImageDraw
    kind, text = "blue", "沪A12E45"
    pw, ph, boxes, _ = gp.layout(kind, text)
    ppm = 0.5
    x, y, w, h = (v * ppm for v in boxes[4])          # the E
    bw, bh = int(w), int(h)

    def barred(top, bottom):
        mask = Image.new("L", (int(pw * ppm), int(ph * ppm)), 0)
        ImageDraw.Draw(mask).rectangle([int(x), int(y) + int(top * bh), int(x) + bw - 1,
                                        int(y) + int(bottom * bh) - 1], fill=255)
        return mask

    for font in range(3):
        drawn = (font, 0, ppm)
        # the same share of the E covered; at the bottom it is an F
        low = gf.evidence(barred(0.8, 1.0), kind, text, glyphs, drawn)
        mid = gf.evidence(barred(0.4, 0.6), kind, text, glyphs, drawn)
        check(low < gf.LEGIBLE["evidence"] <= mid and low < 0.5 * mid,
              "evidence(E, font %d): bottom bar %.2f, middle bar %.2f" % (font, low, mid))
        check(gf.evidence(barred(0, 1), kind, text, glyphs, drawn) == 0,
              "evidence(E covered whole) > 0")
        check(gf.evidence(Image.new("L", (int(pw * ppm), int(ph * ppm)), 0), kind,
                          text, glyphs, drawn) == 1, "evidence(nothing covered) < 1")
    check(len(gf.rivals(kind, 0, "沪")) == 31 and "使" in gf.rivals(kind, 0, "沪"),
          "rivals of a province: %s" % "".join(gf.rivals(kind, 0, "沪")))
    check("".join(gf.rivals(kind, 1, "A")) == gp.ISSUERS[1:],
          "rivals of an issuing letter: %s" % "".join(gf.rivals(kind, 1, "A")))
    check("".join(gf.rivals("nev_small", 2, "D")) == "F" and
          "".join(gf.rivals("nev_large", 7, "F")) == "D", "rivals of the new-energy D/F")
    serial = "".join(gf.rivals(kind, 4, "8"))
    check("8" not in serial and "O" not in serial and "I" not in serial and
          len(serial) == len(gp.SERIAL) - 1, "rivals of a serial digit: %s" % serial)


def site_traffic(glyphs):
    """--provinces: the shares drawn as given, the rest evenly over the others, and
    the frame otherwise the very same."""
    shares = gf.parse_provinces("沪:0.5, 苏:0.2")
    check(shares == {"沪": 0.5, "苏": 0.2}, "parse_provinces: %s" % shares)
    for bad in ("沪:0.6,苏:0.5", "A:0.1", "沪", "沪:0", "沪:x"):
        try:
            gf.parse_provinces(bad)
            check(False, "parse_provinces(%r) accepted" % bad)
        except ValueError:
            pass
    rng = random.Random(5)
    n = 20000
    drawn = [gf.site_province(rng, shares) for _ in range(n)]
    hu, su = drawn.count("沪") / n, drawn.count("苏") / n
    zhe = drawn.count("浙") / n                 # one of the 29 others: 0.3 / 29
    check(abs(hu - 0.5) < 0.015 and abs(su - 0.2) < 0.015 and
          abs(zhe - 0.3 / 29) < 0.004, "site_province: 沪 %.3f 苏 %.3f 浙 %.4f" %
          (hu, su, zhe))
    # every plate drawn with a site's provinces is one the reader may put out
    kinds = list(gp.KIND_WEIGHTS)
    hk = [i for i in range(400) if random.Random(SEED * 1000003 + i * 7919 + 17).choices(
        kinds, [gp.KIND_WEIGHTS[k] for k in kinds])[0] == "hk"]     # as make_frame
    check(len(hk) >= 2, "no Hong Kong plate in 400 frames")
    for i in hk[:2]:
        row = gf.make_frame(i, SEED, "heldout", (480, 288), glyphs,
                            provinces={"沪": 1.0})[2]
        check(row["kind"] == "hk" and fits(row["plate"]),
              "frame %d (%s) with --provinces: %s" % (i, row["kind"], row["plate"]))
    for i in (3, 4):
        a, _, ra = gf.make_frame(i, SEED, "heldout", (480, 288), glyphs)
        b, _, rb = gf.make_frame(i, SEED, "heldout", (480, 288), glyphs,
                                 provinces={"沪": 1.0})
        check(rb["plate"] == ("沪" + ra["plate"][1:] if ra["plate"][0] in gp.PROVINCES
                              and ra["kind"] != "hk" else ra["plate"]),
              "frame %d: %s then %s" % (i, ra["plate"], rb["plate"]))
        check((ra["x"], ra["y"], ra["w"], ra["h"], ra["conditions"]) ==
              (rb["x"], rb["y"], rb["w"], rb["h"], rb["conditions"]),
              "frame %d: another frame with --provinces" % i)


def visibility(glyphs):
    """contrast() on frames painted with known ink in known GA 36 boxes, and the
    blank plate against its inked twin."""
    W, H = 480, 288
    for kind, text in (("blue", "沪A12345"), ("nev_small", "沪AD12345"),
                       ("yellow2", "沪A12345")):
        pw, ph, boxes, _ = gp.layout(kind, text)
        s, x0, y0 = 0.5, 40.0, 30.0          # the plate at 0.5 px per mm, not tilted
        corners = [(x0, y0), (x0 + pw * s, y0), (x0 + pw * s, y0 + ph * s),
                   (x0, y0 + ph * s)]
        blank = np.full((H, W, 3), 120, np.float32)

        def painted(skip=-1, level=50):
            a = blank.copy()
            for k, (x, y, w, h) in enumerate(boxes[:len(text)]):
                if k != skip:
                    a[int(y0 + y * s):int(y0 + (y + h) * s),
                      int(x0 + x * s):int(x0 + (x + w) * s)] -= level
            return Image.fromarray(a.astype(np.uint8))

        b = Image.fromarray(blank.astype(np.uint8))
        got = gf.contrast(painted(), b, kind, text, corners)
        check(abs(got - 50) <= 1, "contrast(%s, every box inked 50) = %.1f" % (kind, got))
        got = gf.contrast(painted(skip=4), b, kind, text, corners)
        check(got == 0, "contrast(%s, 5th box blank) = %.1f" % (kind, got))
        got = gf.contrast(b, b, kind, text, corners)
        check(got == 0, "contrast(%s, frame against itself) = %.1f" % (kind, got))
        # the blank twin: the same draws, so the same plate less its characters
        rng = random.Random(7)
        state = rng.getstate()
        inked = np.asarray(gp.render_plate(kind, text, rng, glyphs, "heldout"), np.int16)
        rng.setstate(state)
        bare = np.asarray(gp.render_plate(kind, text, rng, glyphs, "heldout",
                                          chars=False), np.int16)
        check(inked.shape == bare.shape, "%s: blank plate of another size" % kind)
        if inked.shape != bare.shape:
            continue
        ppm = inked.shape[1] / pw
        inside = np.zeros(inked.shape[:2], bool)
        for (x, y, w, h) in boxes[:len(text)]:
            inside[int(y * ppm):int((y + h) * ppm) + 2,
                   int(x * ppm):int((x + w) * ppm) + 2] = True
        diff = np.abs(inked - bare).max(axis=2) > 0
        check(diff[inside].mean() > 0.05, "%s: the characters are not drawn (%.3f)" %
              (kind, diff[inside].mean()))
        check(not diff[~inside].any(), "%s: the blank plate differs outside the "
              "character boxes in %d pixels" % (kind, diff[~inside].sum()))


def grads(a):
    g = a.mean(axis=2)
    return np.abs(np.diff(g, axis=1)).mean(), np.abs(np.diff(g, axis=0)).mean()


def forced(glyphs, indices):
    """Each condition forced on clean frames against the same frames without it."""
    size = (960, 576)
    for i in indices:
        base_img, _, base = gf.make_frame(i, SEED, "heldout", size, glyphs)
        b = np.asarray(base_img, np.float32)
        x, y, w, h = base["x"], base["y"], base["w"], base["h"]
        outside = np.ones(b.shape[:2], bool)
        outside[y:y + h, x:x + w] = False
        bh, bv = grads(b)
        for c in gf.CONDITIONS:
            img, _, row = gf.make_frame(i, SEED, "heldout", size, glyphs, force=(c,))
            a = np.asarray(img, np.float32)
            d = a - b
            tag = "frame %d forced %s" % (i, c)
            check(row["conditions"] == c, "%s: recorded %s" % (tag, row["conditions"]))
            check((row["x"], row["y"], row["w"], row["h"]) == (x, y, w, h),
                  "%s: the plate moved" % tag)
            if c == "night_ir":
                check(np.array_equal(a[..., 0], a[..., 1]) and
                      np.array_equal(a[..., 1], a[..., 2]), tag + ": not monochrome")
                check(not np.array_equal(b[..., 0], b[..., 2]), tag + ": base grey")
            elif c == "low_light":
                check(a.mean() < 0.6 * b.mean(), "%s: mean %.0f vs %.0f" %
                      (tag, a.mean(), b.mean()))
                # the characters fade with the rest
                check(row["contrast"] < 0.6 * base["contrast"], "%s: contrast %.1f vs "
                      "%.1f" % (tag, row["contrast"], base["contrast"]))
            elif c == "glare":
                bright = (d > 40).mean()
                check(d.max() >= 80 and d.min() >= -1 and 0.003 <= bright <= 0.3,
                      "%s: max %+.0f min %+.0f, %.1f %% brightened" %
                      (tag, d.max(), d.min(), 100 * bright))
            elif c == "focus_blur":
                ah, av = grads(a)
                check(ah < 0.8 * bh and av < 0.8 * bv, "%s: gradients %.2f/%.2f vs "
                      "%.2f/%.2f" % (tag, ah, av, bh, bv))
            elif c == "motion_blur":
                ah, av = grads(a)
                check(ah / bh < av / bv - 0.1, "%s: horizontal x%.2f, vertical x%.2f"
                      % (tag, ah / bh, av / bv))
            elif c == "noise":
                check(d.std() >= 4 and abs(d.mean()) < 2, "%s: difference std %.1f "
                      "mean %.1f" % (tag, d.std(), d.mean()))
            elif c == "rain":
                streak = (d.mean(axis=2) > 15)
                H, W = streak.shape
                quarters = [streak[:H // 2, :W // 2], streak[:H // 2, W // 2:],
                            streak[H // 2:, :W // 2], streak[H // 2:, W // 2:]]
                check(0.003 <= streak.mean() <= 0.1 and
                      all(q.mean() > 0.001 for q in quarters),
                      "%s: %.2f %% streak pixels, not over the whole frame" %
                      (tag, 100 * streak.mean()))
            elif c in ("dirt", "occlusion"):
                changed = np.abs(d).max(axis=2) > 30
                check(not changed[outside].any(), "%s: %d pixels changed outside the "
                      "plate's box" % (tag, changed[outside].sum()))
                area = quad_area(base["corners"])
                n = changed.sum()
                check(n >= 0.005 * area, "%s: %d pixels changed, plate %.0f" %
                      (tag, n, area))
                if c == "occlusion":
                    check(n <= 0.11 * area, "%s: covers %.1f %% of the plate" %
                          (tag, 100 * n / area))
                    # what it hides of the characters is recorded
                    check(0 < row["covered"] <= 1, "%s: covered %s" % (tag, row["covered"]))


def run(out, *args):
    subprocess.run([sys.executable, os.path.join(TOOLS, "gen_frames.py"), "--out", out]
                   + list(args), check=True, timeout=120)


def read_labels(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    check(rows and rows[0] == gf.COLUMNS, "%s: header %s" % (path, rows[:1]))
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def command_line():
    with tempfile.TemporaryDirectory() as tmp:
        a, b, c, s = (os.path.join(tmp, n) for n in "abcs")
        opts = ["--seed", "5", "--size", "640x384", "--plate-width", "60-160"]
        run(a, "--count", "3", *opts)
        run(b, "--count", "3", *opts)
        run(c, "--count", "3", "--style", "train", *opts)
        run(s, "--count", "1", "--start", "2", *opts)
        rows = read_labels(os.path.join(a, "labels.csv"))
        check(len(rows) == 3, "labels.csv has %d rows, not 3" % len(rows))
        for k, r in enumerate(rows):
            check(r["file"] == "%07d_%s.jpg" % (k, r["plate"]), "file name %s" % r["file"])
            with Image.open(os.path.join(a, r["file"])) as im:
                check(im.size == (640, 384) and im.format == "JPEG",
                      "%s: %s %s" % (r["file"], im.format, im.size))
            x, y, w, h = (int(r[k]) for k in "xywh")
            check(0 <= x and 0 <= y and x + w <= 640 and y + h <= 384 and
                  50 <= w <= 180, "%s: box %s" % (r["file"], (x, y, w, h)))
            check(int(r["class"]) == gs.CLASS[r["kind"]], "%s: class" % r["file"])
        same = [open(f, "rb").read() == open(f.replace(a, b), "rb").read()
                for f in sorted(glob.glob(os.path.join(a, "*")))]
        check(len(same) == 4 and all(same), "same seed, different bytes: %s" % same)
        one = glob.glob(os.path.join(s, "0000002_*.jpg"))
        check(len(one) == 1 and os.path.basename(one[0]) == rows[2]["file"] and
              open(one[0], "rb").read() ==
              open(os.path.join(a, rows[2]["file"]), "rb").read(),
              "--start 2 does not reproduce index 2: %s" % one)
        check(read_labels(os.path.join(s, "labels.2.csv")) == rows[2:],
              "--start 2 labels differ")
        other = sorted(glob.glob(os.path.join(c, "*.jpg")))
        check(len(other) == 3, "train style wrote %d frames" % len(other))
        for f, r in zip(other, rows):
            x = np.asarray(Image.open(f), np.float32)
            y = np.asarray(Image.open(os.path.join(a, r["file"])), np.float32)
            check(np.abs(x - y).mean() > 5, "style train vs heldout: %s and %s alike"
                  % (os.path.basename(f), r["file"]))


def main():
    glyphs = gp.Glyphs()
    clean = sample(glyphs)
    forced(glyphs, clean[:2])
    coverage()
    distinguishable(glyphs)
    site_traffic(glyphs)
    visibility(glyphs)
    command_line()
    print("gen_frames: %d failures" % len(FAILURES))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
