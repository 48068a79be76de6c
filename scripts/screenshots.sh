#!/usr/bin/env bash
# Redraws the pictures in docs with headless Chromium (Debian's `chromium`): the
# status page in English and, with alerts.language = "it" and display.timezone =
# "Europe/Rome", in Italian; and the Italian incident report of the simulated click day.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$PWD/docs"
mkdir -p "$out"
ONDATA_SCREENSHOTS="$out" cargo test --release --test observability -- --ignored chromium
cargo build --release
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
./target/release/ondata simulate --scenario click-day --seed 1 --out "$work/s.ndjson" --labels "$work/l.json"
printf '[alerts]\nlanguage = "it"\n[display]\ntimezone = "Europe/Rome"\n' > "$work/it.toml"
./target/release/ondata replay --quiet --config "$work/it.toml" "$work/s.ndjson" \
  --alerts-out /dev/null --report "$work/report.html"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,2200 \
  --user-data-dir="$work/profile" --screenshot="$out/incident-report-it.png" "file://$work/report.html" 2>/dev/null
ls -l "$out"/*.png
