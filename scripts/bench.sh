#!/usr/bin/env bash
# End-to-end replay benchmark: simulates about a million events, replays them, and times a
# parse-only pass over the same file. Prints events/s, the ratio to parse-only, and peak RSS.
# Usage: scripts/bench.sh [SCALE]   (default 18: about 1 M events)
set -euo pipefail
cd "$(dirname "$0")/.."
scale="${1:-18}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
cargo build --release --quiet --bin ondata --example parse_only
bin=target/release/ondata
$bin simulate --scenario click-day --seed 1 --scale "$scale" --out "$dir/bench.ndjson" 2>&1 | head -1
ls -l "$dir/bench.ndjson" | awk '{printf "input: %.0f MB\n", $5/1e6}'
echo "== parse only (same reader and parser as replay)"
target/release/examples/parse_only "$dir/bench.ndjson"
echo "== full replay"
if [ -x /usr/bin/time ]; then
  /usr/bin/time -f "peak RSS: %M KB, wall %e s, user %U s" $bin replay --quiet "$dir/bench.ndjson" > "$dir/alerts.ndjson"
else
  $bin replay --quiet "$dir/bench.ndjson" > "$dir/alerts.ndjson"
fi
echo "alerts: $(wc -l < "$dir/alerts.ndjson")"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
