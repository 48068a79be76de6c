#!/usr/bin/env bash
# Instruction counts of a replay, for comparing changes on a shared, noisy machine where
# wall time moves by tens of percent between runs and instruction counts do not.
#
#   scripts/callgrind.sh [--lines N] [--vs OTHER_BINARY] [BINARY]
#
# Simulates the bench click day (`ondata simulate --scenario click-day --seed 1 --scale 18`,
# as scripts/bench.sh does), keeps its first N lines (default 100,000) and replays them on
# one thread under `valgrind --tool=callgrind`, every detector on (each build's default
# configuration: the replay runs outside the repository, away from config/ondata.toml). Prints the instructions executed in all and a comment, and the functions
# that execute the most (their own instructions, not their callees'). With --vs, does the
# same for OTHER_BINARY (say, a build of the commit before a change) and prints the ratio.
# BINARY defaults to target/release/ondata, built if missing. About a minute a binary.
set -euo pipefail
cd "$(dirname "$0")/.."

lines=100000
other=""
bin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --lines) lines="${2:?--lines needs a number}"; shift 2 ;;
    --vs) other="${2:?--vs needs a binary}"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "callgrind.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) bin="$1"; shift ;;
  esac
done
case "$lines" in
  ''|*[!0-9]*|0) echo "callgrind.sh: --lines must be a positive whole number, not '$lines'" >&2; exit 2 ;;
esac
if ! command -v valgrind > /dev/null; then
  echo "callgrind.sh: valgrind is not installed (Debian: apt-get install valgrind)" >&2
  exit 2
fi
if [ -z "$bin" ]; then
  cargo build --release --quiet --bin ondata
  bin=target/release/ondata
fi
for b in "$bin" ${other:+"$other"}; do
  if [ ! -x "$b" ]; then
    echo "callgrind.sh: $b is not an executable" >&2
    exit 2
  fi
done
bin=$(realpath "$bin")
if [ -n "$other" ]; then other=$(realpath "$other"); fi

dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
"$bin" simulate --scenario click-day --seed 1 --scale 18 --out "$dir/day.ndjson" 2>/dev/null
head -n "$lines" "$dir/day.ndjson" > "$dir/input.ndjson"
events=$(wc -l < "$dir/input.ndjson")
echo "input: the first $events lines of the bench click day, replayed on one thread"

# Instructions of BINARY over the input; the function table goes to $dir/NAME.top.
count() {
  local b="$1" name="$2"
  # Run where no config/ondata.toml is, so every build gets its own defaults.
  (cd "$dir" && valgrind --tool=callgrind --callgrind-out-file="$dir/$name.out" \
    "$b" replay --quiet --threads 1 --alerts-out /dev/null "$dir/input.ndjson") \
    > /dev/null 2> "$dir/$name.log" || {
      echo "callgrind.sh: the replay under valgrind failed:" >&2
      tail -5 "$dir/$name.log" >&2
      exit 1
    }
  callgrind_annotate --auto=no --threshold=100 "$dir/$name.out" 2> /dev/null > "$dir/$name.annotated"
  # callgrind_annotate splits a function by the source file of each inlined piece: sum
  # them by function.
  awk '/file:function/ {on=1; getline; next}
       on && /^---/ {exit}
       on && $1 ~ /^[0-9,]+$/ {
         n=$1; gsub(/,/, "", n); f=$0; sub(/^ *[0-9,]+ +\( *[0-9.]+%\) +/, "", f)
         sub(/^[^:]*:/, "", f); sub(/ \[[^]]*\]$/, "", f); own[f] += n }
       END { for (f in own) printf "%d\t%s\n", own[f], f }' "$dir/$name.annotated" \
    | sort -rn > "$dir/$name.top"
  sed -nE 's/^ *([0-9,]+) .*PROGRAM TOTALS.*/\1/p' "$dir/$name.annotated" | tr -d ,
}

# The 15 functions of NAME that execute the most instructions of TOTAL.
top() {
  awk -F'\t' -v total="$2" 'NR <= 15 {
      printf "    %14s  %5.1f%%  %s\n", $1, 100 * $1 / total, substr($2, 1, 90) }' "$dir/$1.top"
}

total=$(count "$bin" a) || exit 1
printf '%-40s %16s instructions  %8.0f a comment\n' "$bin" \
  "$(printf "%'d" "$total")" "$(awk "BEGIN{print $total / $events}")"
echo "  where they go (own instructions):"
top a "$total"

if [ -n "$other" ]; then
  base=$(count "$other" b) || exit 1
  printf '%-40s %16s instructions  %8.0f a comment\n' "$other" \
    "$(printf "%'d" "$base")" "$(awk "BEGIN{print $base / $events}")"
  echo "  where they go (own instructions):"
  top b "$base"
  awk "BEGIN{printf \"ratio %s / %s: %.3f\n\", \"$bin\", \"$other\", $total / $base}"
fi
