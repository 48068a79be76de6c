#!/usr/bin/env python3
"""ondata's surge detection on the Numenta Anomaly Benchmark's realTweets series.

Steps (each a subcommand, driven by scripts/nab_eval.sh):
  events  NAB_DIR OUT_DIR          each series' 5-minute counts as comment events, one NDJSON
                                   file per series (the count of a row spread evenly over its
                                   5 minutes, on a topic named after the series)
  results NAB_DIR ALERTS_DIR NAME  NAB per-record results for detector NAME (anomaly_score 1 on
                                   the row where a surge alert fired), written into NAB_DIR
  table   NAB_DIR ALERTS_DIR       per series: alerts, inside a labelled window, outside,
                                   windows hit
  dispersion NAB_DIR               per series: how far its counts spread beyond Poisson noise,
                                   c in var(count - m) = m + c * m^2, m the previous hour's
                                   mean (the surge detector's cold-start assumption)

Standard library only; NAB's own scorer does the scoring.
"""

import csv
import datetime as dt
import json
import os
import sys

ROW_MS = 5 * 60_000


def parse_ts(text):
    """NAB timestamps are UTC, 'YYYY-MM-DD HH:MM:SS[.ffffff]'."""
    stamp = dt.datetime.fromisoformat(text.strip()).replace(tzinfo=dt.timezone.utc)
    return int(stamp.timestamp() * 1000)


def series(nab_dir):
    folder = os.path.join(nab_dir, "data", "realTweets")
    if not os.path.isdir(folder):
        sys.exit(f"nab_eval: {folder} not found: NAB_DIR must hold data/realTweets/*.csv")
    names = sorted(f for f in os.listdir(folder) if f.endswith(".csv"))
    if not names:
        sys.exit(f"nab_eval: no .csv series in {folder}")
    return [(name[:-4], os.path.join(folder, name)) for name in names]


def rows(path):
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            yield row["timestamp"], parse_ts(row["timestamp"]), int(float(row["value"]))


def topic_of(name):
    # Twitter_volume_AMZN -> AMZN
    return name.rsplit("_", 1)[-1]


def events(nab_dir, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for name, path in series(nab_dir):
        topic = topic_of(name)
        n = 0
        with open(os.path.join(out_dir, name + ".ndjson"), "w") as out:
            for _, ts, count in rows(path):
                for i in range(count):
                    # Spread over the row's 5 minutes; neutral text with an upstream score of
                    # 0, so only volume matters (this benchmark is about surges).
                    at = ts + i * ROW_MS // count
                    out.write(
                        f'{{"ts":{at},"text":"mention","author":"a{n}","topic":"{topic}","sentiment":0}}\n'
                    )
                    n += 1
        print(f"  {name}: {n} events", file=sys.stderr)


def windows(nab_dir):
    with open(os.path.join(nab_dir, "labels", "combined_windows.json")) as f:
        labels = json.load(f)
    return {
        key.split("/")[-1][:-4]: [(parse_ts(a), parse_ts(b)) for a, b in spans]
        for key, spans in labels.items()
    }


def fired(alerts_dir, name):
    """Event times (ms) at which surge episodes fired for one series (each episode's first
    firing record: an escalation of the same episode is not a new detection)."""
    path = os.path.join(alerts_dir, name + ".alerts.ndjson")
    times = []
    seen = set()
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            a = json.loads(line)
            if a["kind"] == "surge" and a["status"] == "firing" and a["id"] not in seen:
                seen.add(a["id"])
                at = dt.datetime.fromisoformat(a["at"].replace("Z", "+00:00"))
                times.append(int(at.timestamp() * 1000))
    return times


def row_of(starts, t):
    """The last row starting before t: the row whose data the alert had seen last."""
    lo, hi = 0, len(starts)
    while lo < hi:
        mid = (lo + hi) // 2
        if starts[mid] < t:
            lo = mid + 1
        else:
            hi = mid
    return max(lo - 1, 0)


def results(nab_dir, alerts_dir, detector):
    spans = windows(nab_dir)
    out_dir = os.path.join(nab_dir, "results", detector, "realTweets")
    os.makedirs(out_dir, exist_ok=True)
    for name, path in series(nab_dir):
        data = list(rows(path))
        starts = [ts for _, ts, _ in data]
        marked = {row_of(starts, t) for t in fired(alerts_dir, name)}
        with open(os.path.join(out_dir, f"{detector}_{name}.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["timestamp", "value", "anomaly_score", "label"])
            for i, (stamp, ts, value) in enumerate(data):
                label = int(any(a <= ts <= b for a, b in spans.get(name, [])))
                w.writerow([stamp, value, 1 if i in marked else 0, label])


def table(nab_dir, alerts_dir):
    spans = windows(nab_dir)
    total = [0, 0, 0, 0, 0]
    print("| series | surge alerts | in a window | outside | windows hit |")
    print("|---|---:|---:|---:|---:|")
    for name, _ in series(nab_dir):
        times = fired(alerts_dir, name)
        ws = spans.get(name, [])
        inside = [t for t in times if any(a <= t <= b for a, b in ws)]
        hit = sum(1 for a, b in ws if any(a <= t <= b for t in times))
        row = [len(times), len(inside), len(times) - len(inside), hit, len(ws)]
        total = [x + y for x, y in zip(total, row)]
        print(f"| {topic_of(name)} | {row[0]} | {row[1]} | {row[2]} | {row[3]} of {row[4]} |")
    print(f"| all | {total[0]} | {total[1]} | {total[2]} | {total[3]} of {total[4]} |")


def dispersion(nab_dir):
    """Moment estimate of c: sum((x - m)^2 - m) / sum(m^2) over rows with m > 0."""
    found = []
    for name, path in series(nab_dir):
        counts = [count for _, _, count in rows(path)]
        excess, scale = 0.0, 0.0
        for i in range(12, len(counts)):
            m = sum(counts[i - 12 : i]) / 12
            if m > 0:
                excess += (counts[i] - m) ** 2 - m
                scale += m * m
        c = excess / scale
        found.append(c)
        print(f"| {topic_of(name)} | {sum(counts) / len(counts):.1f} | {c:.2f} |")
    found.sort()
    print(f"| median | | {found[(len(found) - 1) // 2]:.2f} |")


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "events" and len(args) == 2:
        events(*args)
    elif cmd == "results" and len(args) == 3:
        results(*args)
    elif cmd == "table" and len(args) == 2:
        table(*args)
    elif cmd == "dispersion" and len(args) == 1:
        dispersion(*args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
