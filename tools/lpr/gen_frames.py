#!/usr/bin/python3
"""Synthetic gate camera frames for end-to-end checks of darknet-lpr (issue 5).

The reader's crops (gen_plates.py) and the detector's 320x192 views (gen_scenes.py)
each test one network; a gate sees whole camera frames, so this makes those: a vehicle
at camera resolution (960x576 by default) with one plate 90-240 px wide, then the
weather and camera of a real lane recorded per frame as named conditions (night IR,
low light, glare, focus or motion blur, sensor noise, a dirty plate, rain, part of the
plate covered), so a run through detector + reader can be scored per condition.  The
same frames feed the demo (ops/sample/frames/).  Tooling only: never on the gate's
runtime path.

Some draws make a plate that nobody could read: a 13 px smear over 9 px characters, a
hook over a whole character, a plate washed white by the IR flash.  Each frame
therefore also records how hard it is -- the narrowest character's width in frame
pixels, the motion blur's length, the focus blur's sigma, the largest share of any
one character the occluder covers, how much of what tells a covered character from
the others it leaves in view (evidence()), how visible the weakest character is
against the same plate drawn blank (contrast()) and the sensor noise -- and whether
that is inside the reading envelope (LEGIBLE), so that an evaluation can tell a
misread plate from an unreadable one.

It reuses gen_plates' plate renderer and gen_scenes' vehicle drawing without changing
their random draws: the committed training sets are reproduced from those.

Output: <out>/NNNNNNN_<PLATE>.jpg and <out>/labels.csv with
file,plate,kind,class,x,y,w,h,conditions,char_px,motion_px,focus_px,covered,evidence,
contrast,noise_sd,legible
(class as gen_scenes.CLASS, the box in frame pixels = the bounds of the placed
plate's corners, conditions '+'-joined or 'clean', legible 1 or 0).
labels.csv is written row by row, so a stopped run keeps the labels of its frames.
Same --seed, --style, --size and index give the same bytes.

    /usr/bin/python3 tools/lpr/gen_frames.py --seed 21 --style heldout --count 500 --out build/lpr-data/frames
"""

import argparse
import csv
import math
import os
import random
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_plates as gp  # noqa: E402
import gen_scenes as gs  # noqa: E402

# Each condition is drawn on its own, so they combine (a dirty plate in the rain at
# night); with these rates about a third of the frames have none ("clean"), which
# keeps a baseline in every run.  night_ir and low_light exclude each other.
CONDITIONS = {"night_ir": 0.12, "low_light": 0.12, "glare": 0.12, "focus_blur": 0.12,
              "motion_blur": 0.12, "noise": 0.15, "dirt": 0.15, "rain": 0.10,
              "occlusion": 0.10}
STREAMS = ("scene", "plate", "pose", "camera") + tuple(CONDITIONS)
COLUMNS = ["file", "plate", "kind", "class", "x", "y", "w", "h", "conditions",
           "char_px", "motion_px", "focus_px", "covered", "evidence", "contrast",
           "noise_sd", "legible"]

# The reading envelope: past any of these a person looking at the frame cannot read
# every character, so a frame beyond them scores how often a wrong plate comes out,
# not whether the right one does.  Set by eye on contact sheets of the 2,000 benchmark
# frames graded by each measure (the province character goes first): motion blur
# longer than 0.3 of the narrowest character's width, a focus blur sigma above 0.15
# of it, more than 40 % of any one character covered, less than 55 % of what tells a
# covered character from its nearest rival left in view (evidence(): a bar over the
# top of an F makes it a P; on the sheets the frames under 0.55 were mostly
# ambiguous, those over it mostly readable), or the weakest character's contrast
# (contrast()) under 16 grey levels -- a plate washed white by glare or the IR
# flash, a red 警 or 领 gone in the dark -- or under 2.5 times the sensor noise.
LEGIBLE = {"motion": 0.3, "focus": 0.15, "covered": 0.4, "evidence": 0.55,
           "contrast": 16.0, "snr": 2.5}


def draw_conditions(rng, force=()):
    conds = set(c for c in CONDITIONS if rng.random() < CONDITIONS[c])
    conds |= set(force)
    if "night_ir" in conds and "low_light" in conds:
        # keep the forced one, else the IR camera wins (it switches on in the dark)
        conds.discard("night_ir" if "low_light" in force and "night_ir" not in force
                      else "low_light")
    return conds


def occlude(plate, rng):
    """Something in front of the plate -- a tow hook, a bracket bar, a mud clod --
    covering at most 10 % of its area, drawn on the flat plate so the area is known.
    Returns the plate and a mask (mode L, 255 where covered) of the same size."""
    W, H = plate.size
    # the shape goes on a mask, then the mask paints the plate: one drawing, and the
    # mask says what is covered
    mask = Image.new("L", plate.size, 0)
    d = ImageDraw.Draw(mask)
    dark = gp.jitter_colour(rng.choice([(25, 25, 25), (60, 50, 40), (90, 70, 50)]), rng, 15)
    what = rng.choice(["hook", "bar", "mud"])
    area = rng.uniform(0.03, 0.09) * W * H
    if what == "hook":
        # a vertical shank rising from the bottom edge
        w = max(2, int(rng.uniform(0.05, 0.09) * W))
        h = min(H, int(area / w))
        x = int(rng.uniform(0.1, 0.9) * W)
        d.rectangle([x, H - h, x + w - 1, H], fill=255)
    elif what == "bar":
        # a horizontal strap across part of the width, near the top or bottom
        h = max(2, int(rng.uniform(0.06, 0.12) * H))
        w = min(W, int(area / h))
        x = int(rng.uniform(0, W - w))
        y = rng.choice([int(rng.uniform(0, 0.2) * H), int(rng.uniform(0.7, 0.9) * H)])
        d.rectangle([x, y, x + w - 1, y + h - 1], fill=255)
    else:
        # an ellipse of area pi*a*b = area
        a = math.sqrt(area / math.pi) * rng.uniform(1.0, 1.6)
        b = area / (math.pi * a)
        cx, cy = rng.uniform(0.1, 0.9) * W, rng.uniform(0.2, 0.8) * H
        d.ellipse([cx - a, cy - b, cx + a, cy + b], fill=255)
    plate = plate.copy()
    plate.paste(dark if plate.mode == "RGB" else dark + (255,), (0, 0, W, H), mask)
    return plate, mask


def soil(plate, r, conds):
    """Dirt and an occluder on the flat plate, as drawn: (plate, the occluder's mask
    or None)."""
    if "dirt" in conds:
        plate = gp.dirt(plate, r["dirt"], r["dirt"].uniform(0.7, 1.5))
    if "occlusion" in conds:
        return occlude(plate, r["occlusion"])
    return plate, None


def covered(mask, kind, text):
    """The largest share of one character's GA 36 box (gen_plates.layout) that the
    occluder's mask covers, 0..1."""
    pw, ph, boxes, _ = gp.layout(kind, text)
    m = np.asarray(mask) > 127
    sx, sy = m.shape[1] / pw, m.shape[0] / ph
    worst = 0.0
    for (x, y, w, h) in boxes[:len(text)]:
        part = m[int(round(y * sy)):int(round((y + h) * sy)),
                 int(round(x * sx)):int(round((x + w) * sx))]
        if part.size:
            worst = max(worst, float(part.mean()))
    return worst


def rivals(kind, k, ch):
    """The characters that could stand at slot k of a plate of this kind instead of
    ch, by the slot alphabets a reader (and a person who knows plates) decodes with:
    another province, another plate-end character, the new-energy D/F, an issuing
    letter, or a serial letter (no I, O) or digit."""
    if ch in gp.PROVINCES or ch == "使":
        pool = gp.PROVINCES + "使"
    elif ord(ch) > 0x2000:
        pool = "挂学警港澳领"
    elif (kind, k) in (("nev_small", 2), ("nev_large", 7)):
        pool = "DF"
    elif k == 1 and ch.isalpha():
        pool = gp.ISSUERS
    else:
        pool = gp.SERIAL
    return [c for c in pool if c != ch]


def evidence(mask, kind, text, glyphs, drawn):
    """How much of what tells a covered character from its rivals the occluder leaves
    in view, 0..1 (1: nothing covered).  Each rival (rivals()) is drawn in the
    character's box as the plate drew its characters (drawn: render_plate's
    info["glyphs"]); the ink where the two differ is summed over the box and over its
    uncovered part, each at the rival's best sideways fit; the smallest ratio over
    rivals and covered characters.  A bar over the bottom of an E leaves most of it in
    view and nothing that tells it from an F, which the covered share (covered())
    cannot see."""
    font_i, weight, ppm = drawn
    _, _, boxes, _ = gp.layout(kind, text)
    m = np.asarray(mask, np.float32) / 255
    worst = 1.0
    for k, (ch, (x, y, w, h)) in enumerate(zip(text, boxes)):
        bw, bh = max(4, int(w * ppm)), max(6, int(h * ppm))
        x0, y0 = int(x * ppm), int(y * ppm)
        cov = m[y0:y0 + bh, x0:x0 + bw]
        if not cov.size or cov.max() == 0:
            continue
        seen = 1 - cov

        def ink(c):
            g = glyphs.mask(c, bw, bh, font_i + (0 if ord(c) < 0x2000 else 1), weight)
            return np.asarray(g, np.float32)[:cov.shape[0], :cov.shape[1]] / 255

        mine = ink(ch)
        for c in rivals(kind, k, ch):
            # the rival moved sideways where it fits best: glyphs of other widths
            # sit centred, and a stem a pixel off tells a person nothing
            full, kept = math.inf, math.inf
            other = ink(c)
            for dx in range(-(bw // 5), bw // 5 + 1):
                d = np.abs(mine - shifted(other, dx))
                full, kept = min(full, d.sum()), min(kept, (d * seen).sum())
            if full > 0:
                worst = min(worst, float(kept / full))
    return worst


def shifted(a, dx):
    """a moved dx columns right (left when negative), blank where it left."""
    out = np.zeros_like(a)
    if dx >= 0:
        out[:, dx:] = a[:, :a.shape[1] - dx]
    else:
        out[:, :dx] = a[:, -dx:]
    return out


def char_width(kind, text, corners):
    """The narrowest character box's width in frame pixels: the plate's mean edge
    width in the frame times the box's share of the plate's width."""
    pw, _, boxes, _ = gp.layout(kind, text)
    top = math.dist(corners[0], corners[1])
    bottom = math.dist(corners[3], corners[2])
    return (top + bottom) / 2 * min(b[2] for b in boxes) / pw


def twin(r):
    """Copies of the random streams in r at the points they stand, so that a second
    drawing makes the very same draws and the originals do not move."""
    out = {}
    for k, s in r.items():
        out[k] = random.Random()
        out[k].setstate(s.getstate())
    return out


def contrast(frame, blank, kind, text, corners):
    """How visible the weakest character is, in grey levels: the frame against its
    blank twin (the same plate without characters under the same light, dirt and
    camera, noise included), per GA 36 character box (gen_plates.layout) mapped onto
    the frame, the 90th percentile of the colour difference (RMS over R, G, B: red
    on black is visible though its grey is close); the smallest over the characters.
    Glare or an IR flash that saturates the plate, or a dark night, leave little."""
    pw, ph, boxes, _ = gp.layout(kind, text)
    d = np.asarray(frame, np.float32) - np.asarray(blank, np.float32)
    diff = np.sqrt((d * d).mean(axis=2))
    c = corners

    def at(x, y):
        u, v = x / pw, y / ph
        return tuple((1 - u) * (1 - v) * c[0][i] + u * (1 - v) * c[1][i] +
                     u * v * c[2][i] + (1 - u) * v * c[3][i] for i in (0, 1))

    worst = 255.0
    for (x, y, w, h) in boxes[:len(text)]:
        pts = [at(x, y), at(x + w, y), at(x + w, y + h), at(x, y + h)]
        x0, y0 = (max(0, int(min(p[i] for p in pts))) for i in (0, 1))
        x1, y1 = (int(math.ceil(max(p[i] for p in pts))) for i in (0, 1))
        part = diff[y0:y1, x0:x1]
        if part.size:
            worst = min(worst, float(np.percentile(part, 90)))
    return worst


def legible(char_px, motion_px, focus_px, cover, seen, ink, noise_sd):
    """Inside the reading envelope (LEGIBLE)?"""
    return (motion_px <= LEGIBLE["motion"] * char_px and
            focus_px <= LEGIBLE["focus"] * char_px and cover <= LEGIBLE["covered"] and
            seen >= LEGIBLE["evidence"] and ink >= LEGIBLE["contrast"] and ink >= LEGIBLE["snr"] * noise_sd)


def pose(rng, plate_size, bumper, frame_size, pw_range, style):
    """Where the plate goes on the full-size frame, near the (scaled) bumper: width
    from pw_range, +-6 degrees, a little perspective.  Returns its four corners
    (top-left, top-right, bottom-right, bottom-left) in frame pixels."""
    W, H = frame_size
    pwid, phgt = plate_size
    x0b, x1b, by = bumper
    pw = rng.uniform(*pw_range)
    s = pw / pwid
    ph = phgt * s
    lo = max(pw / 2 + 4, x0b + pw / 2)
    hi = min(W - pw / 2 - 4, x1b - pw / 2)
    if lo > hi:
        lo, hi = pw / 2 + 4, W - pw / 2 - 4
    cx = rng.uniform(lo, hi)
    cy = by + rng.uniform(-ph, ph)
    cy = min(max(cy, ph / 2 + 4), H - ph / 2 - 4)
    rot = math.radians(rng.uniform(-6, 6))
    tilt = 0.07 if style == "train" else 0.09
    dst = []
    for (x, y) in [(0, 0), (pwid, 0), (pwid, phgt), (0, phgt)]:
        dx = (x - pwid / 2) * s * (1 + rng.uniform(-tilt, tilt))
        dy = (y - phgt / 2) * s * (1 + rng.uniform(-tilt, tilt))
        dst.append((cx + dx * math.cos(rot) - dy * math.sin(rot),
                    cy + dx * math.sin(rot) + dy * math.cos(rot)))
    return dst


def mount(frame, plate, corners):
    """Warps the plate onto the frame at corners.  Only the plate's bounding box is
    warped, so a big frame costs no more than a small one."""
    x0, y0, w, h = box_of(corners, *frame.size)
    src = [(0, 0), (plate.width, 0), (plate.width, plate.height), (0, plate.height)]
    c = gp.perspective_coeffs(src, [(x - x0, y - y0) for (x, y) in corners])
    warped = plate.transform((w, h), Image.PERSPECTIVE, c, Image.BILINEAR)
    mask = Image.new("L", plate.size, 255).transform((w, h), Image.PERSPECTIVE, c,
                                                     Image.BILINEAR)
    frame.paste(warped, (x0, y0), mask)


def box_of(corners, W, H):
    """Axis-aligned bounds of the corners, clamped to the frame: x, y, w, h."""
    x0 = max(0, int(math.floor(min(p[0] for p in corners))))
    y0 = max(0, int(math.floor(min(p[1] for p in corners))))
    x1 = min(W, int(math.ceil(max(p[0] for p in corners))))
    y1 = min(H, int(math.ceil(max(p[1] for p in corners))))
    return x0, y0, x1 - x0, y1 - y0


def camera(img, r, conds, corners, look=None):
    """The lane camera's look over the whole frame, per the drawn conditions, each
    with its own random stream r[name]; every frame also gets a mild white-balance
    and exposure jitter (r["camera"]).  look, a dict, gets the blurs drawn, in frame
    pixels: motion_px (the smear's length) and focus_px (the Gaussian's sigma), and
    noise_sd, the sensor noise's standard deviation in grey levels."""
    look = {} if look is None else look
    look["motion_px"] = look["focus_px"] = look["noise_sd"] = 0
    W, H = img.size
    rc = r["camera"]
    wb = np.array([rc.uniform(0.9, 1.1) for _ in range(3)], np.float32)
    gain, offset = rc.uniform(0.85, 1.15), rc.uniform(-12, 12)
    if "rain" in conds:
        # thin bright slanted streaks, in front of everything
        rr = r["rain"]
        layer = Image.new("RGBA", (W, H), (0, 0, 0, 0))
        d = ImageDraw.Draw(layer)
        slant = rr.uniform(-0.35, 0.35)
        for _ in range(int(rr.uniform(150, 400) * W * H / (960 * 576))):
            x, y = rr.uniform(-40, W), rr.uniform(-40, H)
            ln = rr.uniform(12, 40) * H / 576
            d.line([x, y, x + slant * ln, y + ln],
                   fill=(220, 225, 235, int(rr.uniform(50, 120))), width=1)
        img = img.convert("RGBA")
        img.alpha_composite(layer)
        img = img.convert("RGB")
    if "focus_blur" in conds:
        look["focus_px"] = r["focus_blur"].uniform(1.2, 2.8) * W / 960
        img = img.filter(ImageFilter.GaussianBlur(look["focus_px"]))
    if not conds & {"motion_blur", "night_ir", "glare", "noise"}:
        # per-channel affine only (most frames): a lookup table, no float frame
        scale, add = [1.0] * 3, [0.0] * 3
        if "low_light" in conds:
            rl = r["low_light"]
            dim = rl.uniform(0.2, 0.45)
            scale, add = [dim] * 3, list(rl.choice([(20, 10, 0), (0, 4, 16), (0, 0, 0)]))
        lut = []
        for c in range(3):
            k = scale[c] * float(wb[c]) * gain
            o = add[c] * float(wb[c]) * gain + offset
            lut += [int(min(255.0, max(0.0, v * k + o))) for v in range(256)]
        return img.point(lut)
    arr = np.asarray(img).astype(np.float32)
    if "motion_blur" in conds:
        # a vehicle still rolling: a horizontal box blur of 5-13 px (at 960 wide)
        k = max(3, int(r["motion_blur"].uniform(5, 13) * W / 960)) | 1
        look["motion_px"] = k
        c = np.cumsum(np.pad(arr, ((0, 0), (k // 2 + 1, k // 2), (0, 0)), mode="edge"),
                      axis=1)
        arr = (c[:, k:] - c[:, :-k]) / k
    if "night_ir" in conds:
        # IR flash: monochrome, the retro-reflective plate bright, the rest dim
        ri = r["night_ir"]
        g = arr.mean(axis=2, keepdims=True)
        g = (g - g.mean()) * ri.uniform(0.8, 1.4) + ri.uniform(60, 110)
        x0, y0, w, h = box_of(corners, W, H)
        g[y0:y0 + h, x0:x0 + w] += ri.uniform(30, 70)
        arr = np.repeat(g, 3, axis=2)
    elif "low_light" in conds:
        rl = r["low_light"]
        arr = arr * rl.uniform(0.2, 0.45) + np.array(
            rl.choice([(20, 10, 0), (0, 4, 16), (0, 0, 0)]), np.float32)
    # an IR camera's output is grey: no white balance to be off
    arr = arr * (gain if "night_ir" in conds else wb * gain) + offset
    if "glare" in conds:
        # a headlight or low sun: a bright blob somewhere in the frame
        rg = r["glare"]
        gx, gy = rg.uniform(0, W), rg.uniform(0, H * 0.8)
        rad = rg.uniform(0.06, 0.2) * W
        xx = ((np.arange(W, dtype=np.float32) - gx) / rad) ** 2
        yy = ((np.arange(H, dtype=np.float32) - gy) / rad) ** 2
        arr = arr + rg.uniform(120, 220) * np.exp(-(yy[:, None] + xx[None, :]))[:, :, None]
    if "noise" in conds:
        rn = r["noise"]
        g = np.random.Generator(np.random.PCG64(rn.randrange(1 << 62)))
        look["noise_sd"] = rn.uniform(6, 16)
        arr = arr + g.standard_normal((H, W, 1), dtype=np.float32) * look["noise_sd"]
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


def make_frame(i, seed, style, size, glyphs, pw_range=(90, 240), force=(),
               provinces=None):
    """Frame number i of a run: (PIL image, JPEG quality, label row).  The row has the
    labels.csv columns but 'file', plus 'corners' (the plate's, in frame pixels).
    provinces: {province: share} (parse_provinces()) to draw a site's traffic."""
    W, H = size
    rng = random.Random(seed * 1000003 + i * 7919 + (0 if style == "train" else 17))
    kinds = list(gp.KIND_WEIGHTS)
    kind = rng.choices(kinds, [gp.KIND_WEIGHTS[k] for k in kinds])[0]
    conds = draw_conditions(rng, force)
    # One stream per stage and per condition, all seeded whatever was drawn: adding
    # or forcing a condition changes that condition's effect and nothing else.
    r = {k: random.Random(rng.randrange(1 << 62)) for k in STREAMS}
    quality = rng.randint(40, 92)
    scene, (x0b, x1b, by) = gs.vehicle(r["scene"], style)
    sx, sy = W / gs.W, H / gs.H
    frame = scene.resize((W, H), Image.BILINEAR)
    text = gp.plate_text(kind, r["plate"])
    if provinces and text[0] in gp.PROVINCES and kind != "hk":
        # a stream of its own: the frame is the same but for the first character
        # (not on Hong Kong plates: only 粤Z issues those)
        text = site_province(random.Random(seed * 7 + i), provinces) + text[1:]
    r2 = twin(r)    # the blank twin's streams: the same draws from here on
    plate = gp.render_plate(kind, text, r["plate"], glyphs, style)
    drawn = plate.info["glyphs"]
    corners = pose(r["pose"], plate.size, (x0b * sx, x1b * sx, by * sy), (W, H),
                   pw_range, style)
    plate, mask = soil(plate, r, conds)
    cover = 0.0 if mask is None else round(covered(mask, kind, text), 3)
    seen = 1.0 if mask is None else round(evidence(mask, kind, text, glyphs, drawn), 3)
    # the same frame with a blank plate, to measure how much of the characters the
    # light and the camera leave (contrast())
    blank, _ = soil(gp.render_plate(kind, text, r2["plate"], glyphs, style,
                                    chars=False), r2, conds)
    twin_frame = frame.copy()
    mount(twin_frame, blank, corners)
    mount(frame, plate, corners)
    look = {}
    frame = camera(frame, r, conds, corners, look)
    # rounded as recorded, so that legible follows from the labels alone
    ink = round(contrast(frame, camera(twin_frame, r2, conds, corners), kind, text,
                         corners), 1)
    sd = round(look["noise_sd"], 1)
    x, y, w, h = box_of(corners, W, H)
    cw = char_width(kind, text, corners)
    row = {"plate": text, "kind": kind, "class": gs.CLASS[kind], "x": x, "y": y,
           "w": w, "h": h, "conditions": "+".join(sorted(conds)) or "clean",
           "char_px": round(cw, 1), "motion_px": look["motion_px"],
           "focus_px": round(look["focus_px"], 2), "covered": cover,
           "evidence": seen, "contrast": ink, "noise_sd": sd,
           "legible": int(legible(cw, look["motion_px"], look["focus_px"], cover, seen,
                                  ink, sd)),
           "corners": corners}
    return frame, quality, row


def parse_provinces(spec):
    """"沪:0.5,苏:0.15" -> {province: share}; the shares add up to at most 1 and the
    rest goes evenly to the other provinces (as darknet-lpr's province.prior)."""
    out = {}
    for item in filter(None, (x.strip() for x in spec.split(","))):
        p, _, v = item.partition(":")
        if p not in gp.PROVINCES or not v:
            raise ValueError("%s: not PROVINCE:SHARE" % item)
        out[p] = float(v)
        if not 0 < out[p] <= 1:
            raise ValueError("%s: share not in (0, 1]" % item)
    if sum(out.values()) > 1 + 1e-9:
        raise ValueError("shares add up to %.3f" % sum(out.values()))
    return out


def site_province(rng, shares):
    """One province drawn by shares, the rest evenly over the others."""
    x = rng.random()
    for p, v in shares.items():
        if x < v:
            return p
        x -= v
    others = [p for p in gp.PROVINCES if p not in shares]
    return rng.choice(others) if others else next(iter(shares))


def parse_size(s):
    try:
        w, h = (int(v) for v in s.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError("size is WxH, e.g. 960x576")
    if not (160 <= w <= 4096 and 96 <= h <= 4096):
        raise argparse.ArgumentTypeError("size out of 160x96..4096x4096")
    return w, h


def parse_range(s):
    try:
        lo, hi = (float(v) for v in s.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError("plate width is MIN-MAX pixels, e.g. 90-240")
    if not 20 <= lo <= hi:
        raise argparse.ArgumentTypeError("plate width: 20 <= MIN <= MAX")
    return lo, hi


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--start", type=int, default=0, help="first index (to split work)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--style", choices=["train", "heldout"], default="heldout")
    ap.add_argument("--size", type=parse_size, default=(960, 576), help="WxH, 960x576")
    ap.add_argument("--plate-width", type=parse_range, default=(90, 240),
                    help="MIN-MAX plate width in pixels (90-240)")
    ap.add_argument("--force", default="",
                    help="comma list of conditions every frame gets (tests, demos): " +
                    ",".join(CONDITIONS))
    ap.add_argument("--provinces", default="",
                    help="a site's traffic by province, e.g. 沪:0.5,苏:0.15 (the rest "
                    "evenly over the others; default: all alike)")
    args = ap.parse_args()
    try:
        provinces = parse_provinces(args.provinces)
    except ValueError as e:
        sys.exit("gen_frames: --provinces: %s" % e)
    force = [c for c in args.force.split(",") if c]
    for c in force:
        if c not in CONDITIONS:
            sys.exit("gen_frames: unknown condition %s" % c)
    if args.plate_width[1] > args.size[0] - 8:
        sys.exit("gen_frames: plates up to %g px do not fit %d px wide frames" %
                 (args.plate_width[1], args.size[0]))
    os.makedirs(args.out, exist_ok=True)
    glyphs = gp.Glyphs()
    lab = os.path.join(args.out, "labels.csv" if args.start == 0 else
                       "labels.%d.csv" % args.start)
    with open(lab, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for i in range(args.start, args.start + args.count):
            frame, quality, row = make_frame(i, args.seed, args.style, args.size, glyphs,
                                             args.plate_width, force, provinces)
            name = "%07d_%s.jpg" % (i, row["plate"])
            frame.save(os.path.join(args.out, name), quality=quality)
            w.writerow([name] + [row[k] for k in COLUMNS[1:]])
            f.flush()


if __name__ == "__main__":
    main()
