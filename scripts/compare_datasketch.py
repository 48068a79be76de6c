#!/usr/bin/env python3
"""ondata's near-duplicate detection side by side with datasketch's MinHashLSH.

Both get the same normalised messages (written by `examples/lsh_pairs.rs`), the same
shingles (word bigrams) and the same threshold (0.7). Prints the pairs each finds, their
agreement, each one's precision and recall against the exact Jaccard similarity, and the
speed ratio. Usage:

    pip install datasketch
    scripts/compare_datasketch.py [STREAM.ndjson]

Without a stream it simulates one (`ondata simulate --scenario troll-wave --days 0`).
"""
import os
import subprocess
import sys
import tempfile
import time

from datasketch import MinHash, MinHashLSH

THRESHOLD = 0.7
NUM_PERM = 128


def shingles(tokens):
    if len(tokens) == 1:
        return {tokens[0]}
    return {a + " " + b for a, b in zip(tokens, tokens[1:])}


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    work = tempfile.mkdtemp(prefix="ondata-datasketch-")
    stream = sys.argv[1] if len(sys.argv) > 1 else os.path.join(work, "stream.ndjson")
    cargo = ["cargo", "run", "--quiet", "--release", "--manifest-path", os.path.join(root, "Cargo.toml")]
    if len(sys.argv) <= 1:
        subprocess.run(cargo + ["--bin", "ondata", "--", "simulate", "--scenario", "troll-wave",
                                "--days", "0", "--seed", "1", "--out", stream], check=True)
    out = subprocess.run(cargo + ["--example", "lsh_pairs", "--", stream, work],
                         check=True, capture_output=True, text=True).stdout.strip()
    print(out)
    ondata_secs = float(out.split(",")[-1].split()[0])
    messages = [line.split() for line in open(os.path.join(work, "messages.txt"))]
    ondata_pairs = {tuple(map(int, line.split())) for line in open(os.path.join(work, "ondata_pairs.txt"))}

    sets = [shingles(m) for m in messages]

    def run_datasketch(num_perm, params=None, seed=1):
        started = time.perf_counter()
        lsh = MinHashLSH(threshold=THRESHOLD, num_perm=num_perm, params=params)
        hashes, found = [], set()
        for i, s in enumerate(sets):
            mh = MinHash(num_perm=num_perm, seed=seed)
            for sh in s:
                mh.update(sh.encode("utf8"))
            for j in lsh.query(mh):
                # LSH gives candidates; keep those whose estimate passes, as ondata does.
                if mh.jaccard(hashes[j]) >= THRESHOLD:
                    found.add((j, i))
            lsh.insert(i, mh)
            hashes.append(mh)
        return found, time.perf_counter() - started

    def jaccard(a, b):
        return len(sets[a] & sets[b]) / len(sets[a] | sets[b])

    # The truth: exact Jaccard of every pair of messages sharing a shingle (all others are 0).
    index = {}
    for i, s in enumerate(sets):
        for sh in s:
            index.setdefault(sh, []).append(i)
    exact = {}
    for members in index.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                p = (members[x], members[y])
                if p not in exact:
                    exact[p] = jaccard(*p)
    truth = {p for p, j in exact.items() if j >= THRESHOLD}
    gray = {p for p, j in exact.items() if abs(j - THRESHOLD) <= 0.1}

    def pr(found):
        tp = len(found & truth)
        return tp / len(found) if found else 1.0, tp / len(truth) if truth else 1.0

    def agreement(a, b, exclude=frozenset()):
        either = (a | b) - exclude
        both = (a & b) - exclude
        return len(both) / len(either) if either else 1.0

    print(f"messages: {len(messages)}, true near-duplicate pairs (exact Jaccard >= {THRESHOLD}): {len(truth)}, "
          f"of which {len(truth & gray)} within 0.1 of the threshold")
    op, orc = pr(ondata_pairs)
    print(f"ondata (128 MinHash values, 16x4 bands over the first 64): {len(ondata_pairs)} pairs, "
          f"precision {op:.3f}, recall {orc:.3f}, {ondata_secs:.3f} s")
    runs = {}
    for label, num_perm, params in [("datasketch defaults", 128, None), ("datasketch, ondata's banding", 128, (16, 4))]:
        found, secs = run_datasketch(num_perm, params)
        runs[label] = found
        dp, drc = pr(found)
        print(f"{label} (num_perm={num_perm}): {len(found)} pairs, precision {dp:.3f}, recall {drc:.3f}, {secs:.3f} s; "
              f"ondata is {secs / max(ondata_secs, 1e-9):.0f}x faster")
        print(f"  agreement on near-duplicate pairs (both / either): {agreement(ondata_pairs, found):.3f} overall, "
              f"{agreement(ondata_pairs, found, gray):.3f} outside the gray zone (exact Jaccard 0.6-0.8)")
    # The ceiling for any independent implementation: datasketch against itself with other
    # hash functions (seed 2), everything else the same.
    for label, params in [("datasketch defaults", None), ("datasketch, ondata's banding", (16, 4))]:
        other, _ = run_datasketch(128, params, seed=2)
        print(f"{label}, seed 1 against seed 2: {len(other)} pairs; agreement {agreement(runs[label], other):.3f} "
              f"overall, {agreement(runs[label], other, gray):.3f} outside the gray zone")


if __name__ == "__main__":
    main()
