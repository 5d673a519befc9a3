#!/usr/bin/python3
"""Synthetic Chinese plate crops for training and evaluating the plate reader (issue 5).

Renders GA 36-2018 plates -- blue and yellow single-row, yellow double-row (trucks'
rear, 挂 trailers), green small and yellow-green large new-energy, white police and
black HK/Macau/embassy/consulate plates -- with the standard's character boxes,
separator dot, frame and rivets, then makes them look like what a gate camera crops:
condensed glyphs (a CJK or Latin font squeezed into the plate's 45x90 mm box, strokes
thickened or thinned), dirt, dust, glare, low light and IR looks, perspective, blur,
noise, JPEG artefacts and the crop tightness and ~94x24 resolution of the real crops
in ../shared/data/real-plates/.  Tooling only: never on the gate's runtime path.

Output: <out>/<index>_<PLATE>.jpg and <out>/labels.csv (file,plate,kind).  Same
--seed and --style give the same files.  --style heldout draws backgrounds, colours and
augmentation from other ranges than --style train, so a held-out set is not the
training distribution with another seed only.  --real DIR prints the statistics of a
real crop folder next to the synthetic ones to check the look.

    /usr/bin/python3 tools/lpr/gen_plates.py --seed 1 --count 40000 --out build/lpr-data/syn
"""

import argparse
import csv
import glob
import math
import os
import random
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

PROVINCES = "京津冀晋蒙辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川贵云藏陕甘青宁新"
DIGITS = "0123456789"
ISSUERS = "ABCDEFGHJKLMNOPQRSTUVWXYZ"          # 2nd character: A-Z without I
SERIAL_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"    # no I, no O
SERIAL = SERIAL_LETTERS + DIGITS

KINDS = ["blue", "yellow", "yellow2", "trailer", "coach", "nev_small", "nev_large",
         "police", "hk", "embassy", "consulate"]
# Training mix: blue dominates real traffic but the plant's trucks are yellow, so the
# yellow kinds get a large share; rare special plates get a little.
KIND_WEIGHTS = {"blue": 30, "yellow": 14, "yellow2": 14, "trailer": 8, "coach": 3,
                "nev_small": 12, "nev_large": 8, "police": 3, "hk": 3, "embassy": 2,
                "consulate": 2}

FONT_DIRS = ["/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/opentype/noto",
             "/usr/share/fonts/truetype/wqy"]
LATIN_FONTS = ["DejaVuSansCondensed-Bold.ttf", "DejaVuSans-Bold.ttf",
               "DejaVuSansMono-Bold.ttf", "DejaVuSansCondensed.ttf"]
CJK_FONTS = [("NotoSansCJK-Bold.ttc", 2), ("NotoSansCJK-Regular.ttc", 2),
             ("wqy-zenhei.ttc", 0), ("NotoSerifCJK-Bold.ttc", 2)]

# Plate colours (RGB): base, text.  Real blue plates photograph from a deep navy to a
# light cyan-blue depending on exposure and white balance; the jitter covers that.
BLUE = (18, 70, 200)
YELLOW = (232, 180, 20)
WHITE = (235, 235, 230)
BLACK = (20, 20, 24)
RED = (200, 20, 20)
GREEN_TOP = (240, 250, 240)
GREEN_BOTTOM = (60, 190, 90)
NEV_GREEN = (80, 190, 80)


def find_font(name):
    for d in FONT_DIRS:
        p = os.path.join(d, name)
        if os.path.exists(p):
            return p
    return None


class Glyphs:
    """Binary glyph masks squeezed into plate character boxes, cached.

    A plate's characters are much narrower than any desktop font (the standard box is
    45x90 mm), so each glyph is rendered large, cropped to its ink and stretched to the
    box: hanzi fill it, Latin glyphs keep their relative width (a '1' stays narrow) with
    '0' filling it.  Stroke weight then varies with a min/max filter."""

    def __init__(self):
        self.latin = [ImageFont.truetype(p, 160) for p in
                      (find_font(n) for n in LATIN_FONTS) if p]
        self.cjk = []
        for n, idx in CJK_FONTS:
            p = find_font(n)
            if p:
                self.cjk.append(ImageFont.truetype(p, 160, index=idx))
        if not self.latin or not self.cjk:
            sys.exit("gen_plates: no DejaVu or CJK fonts found")
        self.cache = {}
        self.ink = {}

    def _ink(self, font, ch):
        key = (id(font), ch)
        if key not in self.ink:
            im = Image.new("L", (260, 260), 0)
            ImageDraw.Draw(im).text((40, 20), ch, fill=255, font=font)
            bb = im.getbbox() or (0, 0, 1, 1)
            self.ink[key] = im.crop(bb)
        return self.ink[key]

    def mask(self, ch, w, h, fi, weight):
        """ch in a w x h box (pixels), font variant fi, weight -1 (thin) .. 2 (bold)."""
        key = (ch, w, h, fi, weight)
        m = self.cache.get(key)
        if m is not None:
            return m
        cjk = ord(ch) > 0x2000
        font = self.cjk[fi % len(self.cjk)] if cjk else self.latin[fi % len(self.latin)]
        ink = self._ink(font, ch)
        # render at 3x the box, then shrink: smooth edges, and a filter of size 3 at 3x
        # is a fine-grained stroke change
        W, H = 3 * w, 3 * h
        if cjk:
            gw = W
        else:
            ref = self._ink(font, "0")
            gw = max(6, min(W, int(round(W * ink.width / ref.width))))
        g = ink.resize((gw, H), Image.BILINEAR)
        box = Image.new("L", (W, H), 0)
        box.paste(g, ((W - gw) // 2, 0))
        if weight > 0:
            box = box.filter(ImageFilter.MaxFilter(2 * weight + 1))
        elif weight < 0:
            box = box.filter(ImageFilter.MinFilter(3))
        m = box.resize((w, h), Image.LANCZOS)
        self.cache[key] = m
        return m


def plate_text(kind, rng):
    p = rng.choice(PROVINCES)
    L = rng.choice(ISSUERS)

    def ser(n):
        # real serials are mostly digits with one or two letters
        s = [rng.choice(DIGITS) for _ in range(n)]
        for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
            s[rng.randrange(n)] = rng.choice(SERIAL_LETTERS)
        return "".join(s)

    if kind in ("blue", "yellow", "yellow2"):
        return p + L + ser(5)
    if kind == "trailer":
        return p + L + ser(4) + "挂"
    if kind == "coach":
        return p + L + ser(4) + "学"
    if kind == "police":
        return p + L + ser(4) + "警"
    if kind == "hk":
        return "粤Z" + ser(4) + "港"
    if kind == "embassy":
        return "使" + "".join(rng.choice(DIGITS) for _ in range(6))
    if kind == "consulate":
        return p + L + "".join(rng.choice(DIGITS) for _ in range(4)) + "领"
    if kind == "nev_small":
        return p + L + rng.choice("DF") + rng.choice(SERIAL) + \
            "".join(rng.choice(DIGITS) for _ in range(4))
    if kind == "nev_large":
        return p + L + "".join(rng.choice(DIGITS) for _ in range(5)) + rng.choice("DF")
    raise ValueError(kind)


def jitter_colour(c, rng, amount):
    return tuple(int(max(0, min(255, v + rng.uniform(-amount, amount)))) for v in c)


def layout(kind, text):
    """Plate size and the character boxes (x, y, w, h) in mm, GA 36-2018 layouts."""
    if kind in ("yellow2", "trailer"):
        # 440x220 double-row: top row province + letter, 80x60 boxes; bottom row five
        # 65x110 boxes
        boxes = [(110, 15, 80, 60), (250, 15, 80, 60)]
        x = 27.5
        for _ in range(5):
            boxes.append((x, 95, 65, 110))
            x += 80
        return 440, 220, boxes, None
    if kind in ("nev_small", "nev_large"):
        # 480x140, eight 43x90 boxes, 9 mm apart, a wider gap (with the dot) after 2
        boxes, x = [], 15.5
        for i in range(8):
            boxes.append((x, 25, 43, 90))
            x += 43 + (49 if i == 1 else 9)
        return 480, 140, boxes, (boxes[1][0] + 43 + 24.5, 70)
    # 440x140 single-row: seven 45x90 boxes, 12 mm apart, 34 mm gap with the dot
    boxes, x = [], 15.5
    for i in range(7):
        boxes.append((x, 25, 45, 90))
        x += 45 + (34 if i == 1 else 12)
    return 440, 140, boxes, (boxes[1][0] + 45 + 17, 70)


def colours(kind, text, rng, style):
    a = 30 if style == "train" else 40
    if kind == "blue":
        # exposure range seen in the real crops: navy to light blue
        base = rng.choice([(18, 70, 200), (30, 100, 230), (10, 40, 140), (40, 120, 220),
                           (60, 90, 170)])
        return jitter_colour(base, rng, a), jitter_colour(WHITE, rng, 25), None
    if kind in ("yellow", "yellow2", "trailer", "coach"):
        return jitter_colour(YELLOW, rng, a), jitter_colour(BLACK, rng, 20), None
    if kind == "police":
        return jitter_colour(WHITE, rng, 20), jitter_colour(BLACK, rng, 20), "red_last"
    if kind in ("hk", "embassy", "consulate"):
        return jitter_colour(BLACK, rng, 15), jitter_colour(WHITE, rng, 25), \
            ("red_first" if kind == "embassy" else "red_last" if kind == "consulate"
             else None)
    if kind == "nev_small":
        return "gradient_green", jitter_colour(BLACK, rng, 20), None
    if kind == "nev_large":
        return "yellow_green", jitter_colour(BLACK, rng, 20), None
    raise ValueError(kind)


def render_plate(kind, text, rng, glyphs, style, chars=True):
    """The flat plate at about 2 mm per pixel... scaled by ppm (pixels per mm).
    chars=False draws the same plate without its characters, with the same draws (the
    blank twin against which gen_frames measures how visible the characters are)."""
    pw, ph, boxes, dot = layout(kind, text)
    ppm = rng.uniform(0.45, 0.6)
    W, H = int(pw * ppm), int(ph * ppm)
    base, ink, red = colours(kind, text, rng, style)
    if base == "gradient_green":
        top = np.array(jitter_colour(GREEN_TOP, rng, 15), np.float32)
        bot = np.array(jitter_colour(GREEN_BOTTOM, rng, 30), np.float32)
        t = np.linspace(0, 1, H)[:, None, None] ** rng.uniform(0.7, 1.5)
        arr = (top * (1 - t) + bot * t) * np.ones((1, W, 1), np.float32)
        plate = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    elif base == "yellow_green":
        plate = Image.new("RGB", (W, H), jitter_colour(NEV_GREEN, rng, 25))
        # yellow part on the left holding the province and the letter
        ImageDraw.Draw(plate).rectangle([0, 0, int((boxes[1][0] + 50) * ppm), H],
                                        fill=jitter_colour(YELLOW, rng, 25))
    else:
        plate = Image.new("RGB", (W, H), base)
    d = ImageDraw.Draw(plate)
    # frame: a thin line a few mm inside the edge, in the text colour
    fi = int(rng.uniform(1.5, 4) * ppm)
    if rng.random() < 0.9:
        d.rounded_rectangle([fi, fi, W - 1 - fi, H - 1 - fi], radius=int(8 * ppm),
                            outline=ink, width=max(1, int(rng.uniform(1.5, 3) * ppm)))
    font_i = rng.randrange(64)
    weight = rng.choice([-1, 0, 0, 1, 1, 2])
    for i, (ch, (x, y, w, h)) in enumerate(zip(text, boxes)):
        # 8-slot boxes for 7-char double-row? no: double-row has 7 chars in 7 boxes
        bw, bh = max(4, int(w * ppm)), max(6, int(h * ppm))
        m = glyphs.mask(ch, bw, bh, font_i + (0 if ord(ch) < 0x2000 else 1), weight)
        col = ink
        if (red == "red_last" and i == len(text) - 1) or (red == "red_first" and i == 0):
            col = jitter_colour(RED, rng, 30)
        if chars:
            plate.paste(Image.new("RGB", m.size, col), (int(x * ppm), int(y * ppm)), m)
    if dot:
        r = max(1, int(5 * ppm))
        cx, cy = dot[0] * ppm, dot[1] * ppm
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=ink)
    # rivets: two (sometimes four) screw heads, above the 2nd/3rd and 5th/6th chars
    if rng.random() < 0.85:
        rr = max(1, int(rng.uniform(3.5, 6) * ppm))
        ry = int(rng.uniform(10, 17) * ppm)
        shade = rng.choice([(200, 200, 200), (120, 120, 120), (60, 60, 60)])
        xs = [0.27, 0.73] if kind not in ("yellow2", "trailer") else [0.12, 0.88]
        for fx in xs:
            cx = int(fx * W + rng.uniform(-3, 3))
            d.ellipse([cx - rr, ry - rr, cx + rr, ry + rr], fill=jitter_colour(shade, rng, 30))
    # how the characters were drawn, for gen_frames.evidence() to draw their rivals
    # the same way: the font variant, the stroke weight, pixels per mm
    plate.info["glyphs"] = (font_i, weight, ppm)
    return plate


def dirt(img, rng, amount):
    """Dust film, mud blotches and streaks: dark/brown, low alpha, blurred."""
    W, H = img.size
    layer = Image.new("RGBA", (W, H), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    mud = rng.choice([(90, 70, 50), (60, 55, 50), (140, 120, 90), (30, 30, 30)])
    for _ in range(int(rng.uniform(0, 12) * amount)):
        x, y = rng.uniform(0, W), rng.uniform(0, H)
        r = rng.uniform(1, 0.25 * H)
        d.ellipse([x - r, y - r * rng.uniform(0.3, 1), x + r, y + r],
                  fill=mud + (int(rng.uniform(20, 120) * amount),))
    for _ in range(int(rng.uniform(0, 4) * amount)):
        x = rng.uniform(0, W)
        d.line([x, 0, x + rng.uniform(-10, 10), H], fill=mud + (int(rng.uniform(20, 80)),),
               width=int(rng.uniform(1, 4)))
    layer = layer.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.5)))
    out = img.convert("RGBA")
    out.alpha_composite(layer)
    out = out.convert("RGB")
    # a uniform dust film pulls colours toward grey-brown
    if rng.random() < 0.5 * amount:
        film = Image.new("RGB", (W, H), jitter_colour((150, 140, 120), rng, 30))
        out = Image.blend(out, film, rng.uniform(0.05, 0.35))
    return out


def background(W, H, rng, style):
    """Vehicle around the plate: body paint, bumper, grille; held-out uses others."""
    if style == "train":
        paints = [(200, 200, 200), (30, 30, 30), (240, 240, 240), (150, 20, 20),
                  (40, 60, 110), (110, 110, 100), (200, 170, 60), (70, 90, 60)]
    else:
        paints = [(90, 40, 30), (20, 80, 90), (180, 180, 150), (60, 60, 70),
                  (230, 120, 30), (120, 140, 160)]
    c = np.array(jitter_colour(rng.choice(paints), rng, 40), np.float32)
    y = np.linspace(-1, 1, H)[:, None, None]
    arr = c * (1 + rng.uniform(-0.4, 0.4) * y) * np.ones((1, W, 1), np.float32)
    rs = np.random.RandomState(rng.randrange(1 << 30))
    arr += rs.normal(0, rng.uniform(3, 15), (H, W, 1))
    # grille / bumper bars
    if rng.random() < 0.6:
        for _ in range(rng.randrange(1, 6)):
            y0 = rng.randrange(H)
            arr[y0:y0 + rng.randrange(1, max(2, H // 6))] *= rng.uniform(0.3, 1.4)
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


def perspective_coeffs(src, dst):
    """Coefficients for Image.transform(PERSPECTIVE) mapping dst points to src."""
    A, b = [], []
    for (x, y), (u, v) in zip(dst, src):
        A.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        A.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b += [u, v]
    return np.linalg.solve(np.array(A, np.float64), np.array(b, np.float64)).tolist()


def scene_crop(plate, kind, rng, style):
    """Place the plate on a background with a perspective tilt and crop it the way the
    real crops are cut: the plate fills nearly all the crop, a few per cent of margin,
    sometimes a bit of the frame cut off."""
    W, H = plate.size
    mx, my = int(W * 0.35), int(H * 0.6)
    bg = background(W + 2 * mx, H + 2 * my, rng, style)
    tilt = 0.06 if style == "train" else 0.09
    rot = math.radians(rng.uniform(-6, 6) if style == "train" else rng.uniform(-9, 9))
    corners = [(0, 0), (W, 0), (W, H), (0, H)]
    cx, cy = W / 2, H / 2
    dst = []
    for (x, y) in corners:
        x2 = x + rng.uniform(-tilt, tilt) * W
        y2 = y + rng.uniform(-tilt, tilt) * H * 1.5
        # rotate about the centre, then into the background
        dx, dy = x2 - cx, y2 - cy
        xr = cx + dx * math.cos(rot) - dy * math.sin(rot) + mx
        yr = cy + dx * math.sin(rot) + dy * math.cos(rot) + my
        dst.append((xr, yr))
    coeffs = perspective_coeffs(corners, dst)
    warped = plate.transform(bg.size, Image.PERSPECTIVE, coeffs, Image.BILINEAR)
    mask = Image.new("L", plate.size, 255).transform(bg.size, Image.PERSPECTIVE, coeffs,
                                                     Image.BILINEAR)
    bg.paste(warped, (0, 0), mask)
    xs, ys = [p[0] for p in dst], [p[1] for p in dst]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    bw, bh = x1 - x0, y1 - y0
    # crop tightness: from a little inside the plate edge to ~10 % margin
    l = x0 + bw * rng.uniform(-0.06, 0.02)
    r = x1 + bw * rng.uniform(-0.02, 0.06)
    t = y0 + bh * rng.uniform(-0.12, 0.05)
    b = y1 + bh * rng.uniform(-0.05, 0.12)
    return bg.crop((int(l), int(t), int(math.ceil(r)), int(math.ceil(b))))


def photometric(img, rng, style):
    """Lighting, camera and compression: the look of a gate camera's crop."""
    arr = np.asarray(img).astype(np.float32)
    H, W = arr.shape[:2]
    look = rng.random()
    if look < 0.12:
        # night IR: monochrome, the retro-reflective plate bright, text dark-ish
        g = arr.mean(axis=2, keepdims=True)
        g = (g - g.mean()) * rng.uniform(0.8, 1.6) + rng.uniform(110, 200)
        arr = np.repeat(g, 3, axis=2) * np.array([1, 1, rng.uniform(0.95, 1.05)])
    elif look < 0.22:
        # low light: dark, cast toward sodium orange or blue
        arr = arr * rng.uniform(0.25, 0.6) + np.array(
            rng.choice([(25, 12, 0), (0, 5, 20), (0, 0, 0)]))
    # white balance and exposure
    arr = arr * np.array([rng.uniform(0.8, 1.2) for _ in range(3)])
    arr = arr * rng.uniform(0.6, 1.4) + rng.uniform(-30, 30)
    # illumination gradient and glare
    xx = np.linspace(-1, 1, W)[None, :, None]
    yy = np.linspace(-1, 1, H)[:, None, None]
    arr = arr * (1 + rng.uniform(-0.3, 0.3) * xx + rng.uniform(-0.2, 0.2) * yy)
    if rng.random() < 0.15:
        gx, gy = rng.uniform(-1, 1), rng.uniform(-1, 1)
        s = rng.uniform(0.2, 0.6)
        arr = arr + rng.uniform(60, 160) * np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / s)
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    # camera resolution: most like the real 94x24 crops, some smaller, some larger
    if style == "train":
        tw = int(rng.choice([rng.uniform(60, 94), rng.uniform(90, 110), rng.uniform(94, 160),
                             rng.uniform(94, 130)]))
    else:
        tw = int(rng.choice([rng.uniform(70, 94), rng.uniform(90, 100), rng.uniform(94, 140)]))
    th = max(10, int(round(tw * img.height / img.width * rng.uniform(0.9, 1.1))))
    # blur before downscale acts as focus/optics, after as motion
    if rng.random() < 0.35:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.4)))
    img = img.resize((tw, th), rng.choice([Image.BILINEAR, Image.BICUBIC, Image.LANCZOS]))
    if rng.random() < 0.12:
        k = rng.choice([3, 3, 5])
        kern = [0] * (k * k)
        for i in range(k):
            kern[(k // 2) * k + i] = 1   # horizontal motion
        img = img.filter(ImageFilter.Kernel((k, k), kern, scale=k))
    # cameras sharpen their output; the real crops are crisper than a plain resize
    if rng.random() < 0.6:
        img = img.filter(ImageFilter.UnsharpMask(rng.uniform(0.8, 2), rng.randint(60, 200), 2))
    arr = np.asarray(img).astype(np.float32)
    rs = np.random.RandomState(rng.randrange(1 << 30))
    arr += rs.normal(0, rng.uniform(0, 8), arr.shape)
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    # the real crops were resized to 94x24 after cutting: do the same for most
    if kind_is_single(img) and rng.random() < 0.6:
        img = img.resize((94, 24), Image.BILINEAR)
    return img


def kind_is_single(img):
    return img.width > 2.5 * img.height


def make_one(i, kind, rng, glyphs, style):
    text = plate_text(kind, rng)
    plate = render_plate(kind, text, rng, glyphs, style)
    plate = dirt(plate, rng, rng.choice([0, 0.3, 0.7, 1.0, 1.5]))
    crop = scene_crop(plate, kind, rng, style)
    crop = photometric(crop, rng, style)
    return text, crop


def real_stats(d):
    files = sorted(glob.glob(os.path.join(d, "**", "*.jpg"), recursive=True))
    return stats([Image.open(f).convert("RGB") for f in files[:400]])


def stats(imgs):
    a = np.stack([np.asarray(im.resize((94, 24), Image.BILINEAR), np.float32)
                  for im in imgs])
    g = a.mean(axis=3)
    # sharpness: mean absolute horizontal gradient
    sharp = np.abs(np.diff(g, axis=2)).mean()
    return {"n": len(imgs), "mean_rgb": a.mean(axis=(0, 1, 2)).round(1).tolist(),
            "grey_std_in_crop": float(g.std(axis=(1, 2)).mean().round(1)),
            "sharpness": float(round(sharp, 2)),
            "size": sorted({im.size for im in imgs})[:3]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--out", required=True)
    ap.add_argument("--kinds", default="all",
                    help="comma list of " + ",".join(KINDS) + " (default: all, weighted)")
    ap.add_argument("--style", choices=["train", "heldout"], default="train")
    ap.add_argument("--real", help="real crop folder: print its statistics beside ours")
    ap.add_argument("--start", type=int, default=0, help="first index (to split work)")
    args = ap.parse_args()

    kinds = KINDS if args.kinds == "all" else args.kinds.split(",")
    for k in kinds:
        if k not in KINDS:
            sys.exit("gen_plates: unknown kind %s" % k)
    weights = [KIND_WEIGHTS[k] for k in kinds]
    os.makedirs(args.out, exist_ok=True)
    glyphs = Glyphs()
    rows, sample = [], []
    for i in range(args.start, args.start + args.count):
        # one generator per plate: any index range reproduces the same plates
        rng = random.Random(args.seed * 1000003 + i * 7919 + (0 if args.style == "train" else 17))
        kind = rng.choices(kinds, weights)[0]
        text, crop = make_one(i, kind, rng, glyphs, args.style)
        name = "%07d_%s.jpg" % (i, text)
        crop.save(os.path.join(args.out, name), quality=rng.randint(35, 92))
        rows.append((name, text, kind))
        if len(sample) < 400 and kind == "blue":
            sample.append(crop)
    lab = os.path.join(args.out, "labels.csv" if args.start == 0 else
                       "labels.%d.csv" % args.start)
    with open(lab, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "plate", "kind"])
        w.writerows(rows)
    if args.real:
        print("real      ", real_stats(args.real))
        if sample:
            print("synthetic ", stats(sample), "(blue only)")


if __name__ == "__main__":
    main()
