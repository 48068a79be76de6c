#!/usr/bin/env bash
# The performance figures of the README, measured on this machine (the targets in docs/benchmarks.md).
#
#   scripts/bench.sh [SCALE]     SCALE 18 (default): about 1 M events, ~230 MB
#
# 1. Simulates a click day with `ondata simulate` (seed 1).
# 2. Parse-only baseline: the same reader and parser as replay, nothing else
#    (examples/parse_only.rs); best of 3.
# 3. Full replay with 1 and with 2 threads (the default configuration: every detector on,
#    themes and coordination included), best of 2 each: events/s, ratio to parse-only,
#    peak RSS; the alerts of both must be byte-identical.
# 4. Per-stage cost per comment from the criterion benches (`cargo bench --bench engine --
#    stage`): parse, tokenize, sentiment, topics, signature, windows, index, apply.
# 5. Memory with 1 M distinct comments in the troll window: the near-duplicate index alone
#    (examples/troll_memory.rs), then the peak RSS of a whole replay of them (every detector
#    on, themes included; two threads), with the default cluster caps and with caps raised
#    so every comment is indexed.
# 6. Live latency, produce to alert, at about 10,000 events/s through librdkafka's mock
#    cluster (examples/live_bench.rs --scale 10 --speed 5200).
# 7. Instructions executed, in all and by function, replaying the first 100,000 lines on one
#    thread under callgrind (scripts/callgrind.sh; skipped without valgrind). Unlike the
#    times, these hardly move between runs: compare changes with `scripts/callgrind.sh
#    --vs OLD_BINARY`.
#
# The machine is shared and noisy: compare ratios more than absolute numbers. Takes about
# 4-5 minutes once built (the first build adds a few minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
scale="${1:-18}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
started=$(date +%s)

echo "== building (release)"
cargo build --release --quiet --bin ondata --example parse_only --example troll_memory --example live_bench
cargo bench --quiet --bench engine --no-run 2>/dev/null
bin=target/release/ondata

$bin simulate --scenario click-day --seed 1 --scale "$scale" --out "$dir/bench.ndjson" 2>/dev/null
bytes=$(stat -c %s "$dir/bench.ndjson")
lines=$(wc -l < "$dir/bench.ndjson")
echo "input: $lines events, $((bytes / 1000000)) MB, $((bytes / lines)) bytes a line"

# Best of N of a command that prints "... in SECONDS s ...": the smallest SECONDS.
best_parse=""
for _ in 1 2 3; do
  s=$(target/release/examples/parse_only "$dir/bench.ndjson" | sed -E 's/.* in ([0-9.]+) s.*/\1/')
  if [ -z "$best_parse" ] || awk "BEGIN{exit !($s < $best_parse)}"; then best_parse=$s; fi
done

declare -A best_time best_rss
for threads in 1 2; do
  for _ in 1 2; do
    /usr/bin/time -o "$dir/time" -f "%M" $bin replay --quiet --threads "$threads" \
      "$dir/bench.ndjson" > "$dir/alerts.$threads" 2> "$dir/summary"
    s=$(sed -nE 's/^ondata replay: [0-9]+ lines in ([0-9.]+) s.*/\1/p' "$dir/summary")
    rss=$(cat "$dir/time")
    if [ -z "${best_time[$threads]:-}" ] || awk "BEGIN{exit !($s < ${best_time[$threads]})}"; then
      best_time[$threads]=$s
    fi
    if [ -z "${best_rss[$threads]:-}" ] || [ "$rss" -gt "${best_rss[$threads]}" ]; then
      best_rss[$threads]=$rss
    fi
  done
done
if cmp -s "$dir/alerts.1" "$dir/alerts.2"; then
  same="byte-identical ($(wc -l < "$dir/alerts.1") alerts)"
else
  same="DIFFERENT"
fi

echo "== per-stage cost (criterion, one simulated click day)"
cargo bench --quiet --bench engine -- stage 2>/dev/null | tee "$dir/criterion" \
  | awk '/^stage\// {name=$1} /thrpt:/ && name {
      v=$4; u=$5; per = (u ~ /^Melem/) ? 1/v : (u ~ /^Kelem/) ? 1000/v : 1e6/v;
      printf "  %-16s %6.2f µs a comment\n", name, per; name="" }'

echo "== near-duplicate index memory"
memory=$(target/release/examples/troll_memory 2>&1 | tail -1)
echo "  index alone: $memory"
target/release/examples/troll_memory --events "$dir/window.ndjson" > /dev/null
printf '[detect.troll]\nmax_clusters = 1000000\nmax_clusters_total = 1000000\n' > "$dir/uncapped.toml"
for config in default uncapped; do
  args=()
  [ "$config" = uncapped ] && args=(--config "$dir/uncapped.toml")
  /usr/bin/time -o "$dir/time" -f "%M" $bin replay --quiet --threads 2 "${args[@]}" --alerts-out /dev/null \
    "$dir/window.ndjson" 2> /dev/null
  echo "  whole replay, $config cluster caps: peak RSS $(( $(cat "$dir/time") / 1024 )) MB"
done
rm -f "$dir/window.ndjson"

echo "== live latency at ~10,000 events/s (mock cluster)"
target/release/examples/live_bench --scale 10 --speed 5200 > "$dir/live" 2>&1 || true
grep -E "^(throughput|latency|incident day produced|restart|rebuild)" "$dir/live" | sed 's/^/  /'

echo "== instructions (callgrind, first 100,000 lines, one thread)"
if command -v valgrind > /dev/null; then
  scripts/callgrind.sh "$bin" | sed 's/^/  /'
else
  echo "  skipped: valgrind is not installed"
fi

rate() { awk "BEGIN{printf \"%.0f\", $lines / $1}"; }
ratio() { awk "BEGIN{printf \"%.1f\", $1 / $best_parse}"; }
cat <<EOF

== summary ($lines events, $((bytes / lines)) bytes a line)
parse-only                 ${best_parse} s   $(rate "$best_parse") events/s
replay, 1 thread           ${best_time[1]} s   $(rate "${best_time[1]}") events/s   $(ratio "${best_time[1]}")x parse-only   peak RSS $((best_rss[1] / 1024)) MB
replay, 2 threads          ${best_time[2]} s   $(rate "${best_time[2]}") events/s   $(ratio "${best_time[2]}")x parse-only   peak RSS $((best_rss[2] / 1024)) MB
alerts 1 vs 2 threads      $same
machine                    $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)
bench took                 $(( $(date +%s) - started )) s
EOF
