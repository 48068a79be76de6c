#!/usr/bin/env bash
# ondata's surge detection scored by the Numenta Anomaly Benchmark on its realTweets series.
#
#   scripts/nab_eval.sh NAB_DIR [--config FILE]
#
# NAB_DIR is a folder in NAB's layout (data/realTweets/*.csv, labels/combined_windows.json,
# results/<detector>/..., run.py, nab/, config/thresholds.json), e.g. a checkout of NAB's
# public repository. Each series' 5-minute tweet counts become comment events on a topic
# named after the series, ondata replays them (the given configuration, else the defaults),
# each surge alert marks the row where it fired, and NAB's own scorer scores those rows at
# a fixed threshold beside the published detectors' results. Prints NAB's scores and a
# per-series table. Needs python3; NAB's scorer runs in a virtual environment kept in
# ~/.cache/ondata-nab (pandas 1.5.3, numpy < 2, simplejson from PyPI). NAB_EVAL_KEEP=1 keeps
# the work folder (events, alerts, NAB results) and prints where it is.
set -euo pipefail

usage() { echo "usage: scripts/nab_eval.sh NAB_DIR [--config FILE]" >&2; exit 2; }
[ $# -ge 1 ] || usage
nab=$(cd "$1" && pwd) || usage
shift
config=()
while [ $# -gt 0 ]; do
  case "$1" in
    --config) [ $# -ge 2 ] || usage; config=(--config "$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"); shift 2 ;;
    *) usage ;;
  esac
done
for f in run.py labels/combined_windows.json config/thresholds.json; do
  [ -e "$nab/$f" ] || { echo "nab_eval: $nab/$f not found: not a NAB folder" >&2; exit 2; }
done

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
if [ -n "${NAB_EVAL_KEEP:-}" ]; then
  echo "== keeping the work folder: $work" >&2
else
  trap 'rm -rf "$work"' EXIT
fi

echo "== building ondata (release)" >&2
(cd "$root" && cargo build --release --quiet --bin ondata)
ondata="$root/target/release/ondata"

venv="${XDG_CACHE_HOME:-$HOME/.cache}/ondata-nab"
if [ ! -x "$venv/bin/python" ]; then
  echo "== NAB's scorer environment in $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "pandas==1.5.3" "numpy<2" simplejson
fi

# The scorer writes into results/: work on a copy.
cp -r "$nab" "$work/nab"
mkdir -p "$work/events" "$work/alerts"
echo "== series as events" >&2
python3 "$root/scripts/nab_eval.py" events "$work/nab" "$work/events"
echo "== replay" >&2
for f in "$work"/events/*.ndjson; do
  name=$(basename "$f" .ndjson)
  "$ondata" replay --quiet ${config[@]+"${config[@]}"} "$f" \
    --alerts-out "$work/alerts/$name.alerts.ndjson" 2>>"$work/replay.log"
done
python3 "$root/scripts/nab_eval.py" results "$work/nab" "$work/alerts" ondata

echo "== NAB's scorer (fixed threshold 1.0 for ondata)" >&2
(
  cd "$work/nab"
  "$venv/bin/python" - <<'PY'
import json
d = json.load(open("config/thresholds.json"))
d["ondata"] = {p: {"threshold": 1.0, "score": 0.0}
               for p in ("standard", "reward_low_FP_rate", "reward_low_FN_rate")}
json.dump(d, open("thresholds-ondata.json", "w"))
PY
  detectors=ondata,null
  for d in numenta twitterADVec skyline ARTime contextOSE; do
    [ -d "results/$d" ] && detectors="$detectors,$d"
  done
  "$venv/bin/python" run.py -d "$detectors" --score --normalize --skipConfirmation \
    --windowsFile labels/combined_windows.json --resultsDir results -t thresholds-ondata.json \
    >"$work/scorer.log" 2>&1 || { cat "$work/scorer.log" >&2; exit 1; }
  "$venv/bin/python" - <<'PY'
import json
scores = json.load(open("results/final_results.json"))
print("| detector | standard | reward_low_FP | reward_low_FN |")
print("|---|---:|---:|---:|")
for name, s in sorted(scores.items(), key=lambda kv: -kv[1].get("standard", 0)):
    print(f"| {name} | {s.get('standard', 0):.1f} | {s.get('reward_low_FP_rate', 0):.1f} | {s.get('reward_low_FN_rate', 0):.1f} |")
PY
)
echo
python3 "$root/scripts/nab_eval.py" table "$work/nab" "$work/alerts"
