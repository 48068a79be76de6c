#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time and reports what it found.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 60 s, all targets)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). On a stable toolchain the targets are built
# without a sanitizer (`--sanitizer none`: coverage-guided, panics and aborts are caught);
# FUZZ_ASAN=1 adds AddressSanitizer, which needs nightly or RUSTC_BOOTSTRAP=1.
# Each run is capped at 1 GiB of memory (libFuzzer's -rss_limit_mb, so unbounded allocation
# is a failure) and inputs of 64 KiB. The corpus grows in fuzz/corpus/ (not committed), the
# seeds are in fuzz/seeds/; a crashing input is written to fuzz/artifacts/TARGET/ and
# `cargo fuzz run TARGET fuzz/artifacts/TARGET/crash-…` replays it.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

secs="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(parse_event normalize sentiment config)
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is not installed: cargo install cargo-fuzz" >&2
  exit 2
fi
build=(--sanitizer none)
if [ "${FUZZ_ASAN:-0}" = 1 ]; then
  build=(--sanitizer address)
  export RUSTC_BOOTSTRAP=1
fi

failed=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  seeds=()
  [ -d "seeds/$t" ] && seeds=("seeds/$t")
  echo "== $t: ${secs}s"
  log="$(mktemp)"
  if cargo fuzz run "${build[@]}" "$t" "corpus/$t" "${seeds[@]}" -- \
      -max_total_time="$secs" -rss_limit_mb=1024 -max_len=65536 -timeout=10 \
      -print_final_stats=1 >"$log" 2>&1; then
    grep -E "^Done|stat::number_of_executed_units|stat::peak_rss_mb" "$log" | sed 's/^/   /'
    grep -E "cov: [0-9]+ ft: [0-9]+ corp" "$log" | tail -1 | sed 's/^/   /'
  else
    echo "   FAILED: $t (see fuzz/artifacts/$t/)"
    grep -E "panicked|ERROR|SUMMARY|Test unit written" "$log" | head -5 | sed 's/^/   /'
    failed+=("$t")
  fi
  rm -f "$log"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found failures in: ${failed[*]}" >&2
  exit 1
fi
echo "no failures in ${#targets[@]} targets (${secs}s each)"
