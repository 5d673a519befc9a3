#!/usr/bin/python3
"""Evaluate the plate reader on a labelled folder of plate crops (issue 5).

Runs models/plate-reader.cfg + .weights through Debian's libdarknet (ctypes, batch 1,
one core) on every crop of a folder -- synthetic (labels.csv with a kind column: per
kind figures) or real (labels in the file names, or a labels.csv) -- preprocessed
exactly as docs/lpr-models.md says, and reports whole-plate and character accuracy for
the raw per-slot argmax and for the rule-constrained decoding the daemon should use,
plus per-crop latency (preprocessing and network, median and p99).  Real and synthetic
folders are evaluated by separate runs, so their figures are never mixed.

    /usr/bin/python3 tools/lpr/eval_reader.py --in build/lpr-data/syn-heldout
    /usr/bin/python3 tools/lpr/eval_reader.py --in ../shared/data/real-plates --split test
"""

import argparse
import ctypes
import json
import math
import os
import sys
import time
from collections import defaultdict

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pack  # noqa: E402  (same folder listing and real-crop split as training)

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "..", "..", "models")

PROV = "京津冀晋蒙辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川贵云藏陕甘青宁新"
DIG = "0123456789"
LET = "ABCDEFGHJKLMNOPQRSTUVWXYZ"       # issuing letter: no I
SER = "ABCDEFGHJKLMNPQRSTUVWXYZ" + DIG  # serial: no I, no O
BLANK = "_"
# GA 36-2018 formats as the allowed symbols of each of the 8 slots (plate.h's rules)
FORMATS = {
    "ordinary": [PROV, LET, SER, SER, SER, SER, SER, BLANK],
    "special": [PROV, LET, SER, SER, SER, SER, "挂学警", BLANK],
    "hk_macau": ["粤", "Z", SER, SER, SER, SER, "港澳", BLANK],
    "embassy": ["使", DIG, DIG, DIG, DIG, DIG, DIG, BLANK],
    "consulate": [PROV, LET, DIG, DIG, DIG, DIG, "领", BLANK],
    "nev_small": [PROV, LET, "DF", SER, DIG, DIG, DIG, DIG],
    "nev_large": [PROV, LET, DIG, DIG, DIG, DIG, DIG, "DF"],
}


class Net:
    def __init__(self, cfg, weights):
        lib = ctypes.CDLL("/usr/lib/darknet/libdarknet.so")
        lib.load_network.restype = ctypes.c_void_p
        lib.load_network.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
        lib.set_batch_network.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.network_predict.restype = ctypes.POINTER(ctypes.c_float)
        lib.network_predict.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float)]
        lib.srand(1)
        self.lib = lib
        self.net = lib.load_network(cfg.encode(), weights.encode() if weights else None, 0)
        lib.set_batch_network(self.net, 1)

    def predict(self, x, n):
        out = self.lib.network_predict(self.net, x.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
        return np.ctypeslib.as_array(out, shape=(n,)).copy()


def preprocess(path, kind=None):
    """docs/lpr-models.md: double-row crops unfolded, stretch to 128x32 (bilinear),
    luma, [0, 1], planar."""
    im = Image.open(path).convert("RGB")
    if kind in pack.DOUBLE_ROW:
        im = pack.unfold(im)
    im = im.resize((128, 32), Image.BILINEAR).convert("L")
    return np.ascontiguousarray(np.asarray(im, np.float32).reshape(-1) / 255.0)


def decode(p, syms):
    """Best plate over the allowed formats; returns (text, per-char probs, format)."""
    idx = {s: i for i, s in enumerate(syms)}
    logp = np.log(np.maximum(p, 1e-12))
    best = None
    for name, slots in FORMATS.items():
        text, probs, score = [], [], 0.0
        for k, allowed in enumerate(slots):
            cand = [idx[c] for c in allowed]
            j = max(cand, key=lambda c: logp[k, c])
            score += logp[k, j]
            text.append(syms[j])
            probs.append(float(p[k, j]))
        if best is None or score > best[0]:
            best = (score, "".join(t for t in text if t != BLANK), probs, name)
    return best[1], best[2], best[3]


def pct(a, q):
    return float(np.percentile(np.array(a), q)) if a else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--in", dest="inp", required=True)
    ap.add_argument("--split", choices=["all", "train", "val", "test"], default="all",
                    help="part of a real folder, as pack.py splits it")
    ap.add_argument("--test-count", type=int, default=150)
    ap.add_argument("--val-count", type=int, default=100)
    ap.add_argument("--split-seed", type=int, default=5)
    ap.add_argument("--cfg", default=os.path.join(MODELS, "plate-reader.cfg"))
    ap.add_argument("--weights", default=os.path.join(MODELS, "plate-reader.weights"))
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--errors", type=int, default=10, help="print this many misreads")
    ap.add_argument("--json", help="write the figures here too")
    args = ap.parse_args()

    with open(os.path.join(MODELS, "symbols.txt"), encoding="utf-8") as f:
        syms = [l.rstrip("\n") for l in f if l.rstrip("\n")]
    items = pack.list_folder(args.inp)
    if args.split != "all":
        items = pack.split_part(items, args.split, args.test_count, args.val_count,
                                args.split_seed)
    if args.limit:
        items = items[:args.limit]
    net = Net(args.cfg, args.weights)
    nout = 8 * len(syms)
    per = defaultdict(lambda: [0, 0, 0, 0, 0])  # n, exact, exact_raw, chars_ok, chars
    t_pre, t_net, shown = [], [], 0
    for path, plate, kind in items:
        t0 = time.perf_counter()
        x = preprocess(path, kind)
        t1 = time.perf_counter()
        out = net.predict(x, nout).reshape(8, len(syms))
        t2 = time.perf_counter()
        t_pre.append((t1 - t0) * 1e3)
        t_net.append((t2 - t1) * 1e3)
        raw = "".join(syms[j] for j in out.argmax(1)).replace(BLANK, "")
        text, probs, fmt = decode(out, syms)
        got = text + BLANK * (8 - len(text))
        for k in (kind, "ALL"):
            r = per[k]
            r[0] += 1
            r[1] += text == plate
            r[2] += raw == plate
            # characters of the true plate, slot by slot (slot 8's blank not counted)
            r[3] += sum(a == b for a, b in zip(plate, got))
            r[4] += len(plate)
        if text != plate and shown < args.errors:
            print("  miss %s read %s (%s, min p %.2f)" % (plate, text, fmt, min(probs)))
            shown += 1
    res = {"folder": args.inp, "split": args.split, "weights": args.weights,
           "kinds": {}, "latency_ms": {
               "net_median": round(pct(t_net, 50), 2), "net_p99": round(pct(t_net, 99), 2),
               "pre_median": round(pct(t_pre, 50), 2)}}
    print("%-10s %6s %8s %8s %8s" % ("kind", "n", "exact", "raw", "chars"))
    for k in sorted(per, key=lambda k: (k == "ALL", k)):
        n, ex, exr, co, cn = per[k]
        res["kinds"][k] = {"n": n, "exact": round(ex / n, 4), "exact_raw": round(exr / n, 4),
                           "chars": round(co / cn, 4)}
        print("%-10s %6d %8.4f %8.4f %8.4f" % (k, n, ex / n, exr / n, co / cn))
    print("latency per crop: network median %.2f ms p99 %.2f ms, preprocessing median "
          "%.2f ms (PIL)" % (pct(t_net, 50), pct(t_net, 99), pct(t_pre, 50)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
