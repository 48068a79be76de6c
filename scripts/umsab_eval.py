#!/usr/bin/env python3
"""`ondata sentiment` on labelled tweets in UMSAB's layout (one text per line in
{italian,english}_val_text.txt, labels 0 negative / 1 neutral / 2 positive beside them):
macro-F1 and per-class F1 of the release binary, per language.

    python3 scripts/umsab_eval.py DATA_DIR [SPLIT]    (SPLIT: val, the default, or train)
"""

import json
import os
import subprocess
import sys

LABELS = {"negative": 0, "neutral": 1, "positive": 2}


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    data, split = argv[1], argv[2] if len(argv) > 2 else "val"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ondata = os.path.join(root, "target", "release", "ondata")
    if not os.path.exists(ondata):
        sys.exit("umsab_eval: build it first: cargo build --release")
    for lang, name in (("it", "italian"), ("en", "english")):
        text_file = os.path.join(data, f"{name}_{split}_text.txt")
        if not os.path.exists(text_file):
            continue
        texts = open(text_file, encoding="utf-8").read().splitlines()
        gold = [int(x) for x in open(os.path.join(data, f"{name}_{split}_labels.txt")).read().split()]
        if len(texts) != len(gold):
            sys.exit(f"umsab_eval: {len(texts)} texts but {len(gold)} labels in {name}_{split}")
        out = subprocess.run(
            [ondata, "sentiment", "--json", "--lang", lang],
            input="\n".join(t if t.strip() else "." for t in texts) + "\n",
            capture_output=True, text=True, check=True,
        ).stdout
        pred = [LABELS[json.loads(line)["label"]] for line in out.splitlines()]
        f1 = []
        for c in range(3):
            tp = sum(p == c and g == c for p, g in zip(pred, gold))
            fp = sum(p == c and g != c for p, g in zip(pred, gold))
            fn = sum(p != c and g == c for p, g in zip(pred, gold))
            f1.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
        print(f"{name} {split} ({len(gold)} tweets): macro-F1 {sum(f1) / 3:.3f}; "
              f"F1 negative {f1[0]:.3f}, neutral {f1[1]:.3f}, positive {f1[2]:.3f}")


if __name__ == "__main__":
    main(sys.argv)
