#!/usr/bin/env bash
# The experiment behind the detection defaults (README, "Detection quality"): simulates
# quiet weeks and click days for several seeds, replays them with the current (or
# overridden, via ONDATA__... variables) configuration, and prints for each seed the
# false alarms on quiet weeks and the delay in minutes from each planted incident's start
# to its first alert. Usage: scripts/detection_sweep.sh [SEEDS] (default 6). ~1 minute.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${1:-6}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
cargo build --release --quiet --bin ondata
bin=target/release/ondata
for s in $(seq 1 "$seeds"); do
  $bin simulate --scenario quiet --seed "$s" --days 6 --out "$dir/q$s.ndjson" 2>/dev/null
  $bin simulate --scenario click-day --seed "$s" --out "$dir/c$s.ndjson" --labels "$dir/c$s.json" 2>/dev/null
  quiet=$($bin replay --quiet "$dir/q$s.ndjson" 2>/dev/null | grep -c '"status":"firing"' || true)
  delays=$($bin replay --quiet "$dir/c$s.ndjson" 2>/dev/null | python3 -c '
import json, sys
from datetime import datetime
ts = lambda x: datetime.fromisoformat(x.replace("Z", "+00:00")).timestamp()
labels = json.load(open(sys.argv[1]))
alerts = [json.loads(l) for l in sys.stdin if json.loads(l)["status"] == "firing"]
kinds = {"surge": ["surge"], "negativity": ["negativity"], "complaint_wave": ["surge", "negativity"], "troll_burst": ["troll_burst"]}
out = []
for lab in labels:
    hits = [a for a in alerts if a["topic"] == lab["topic"] and a["kind"] in kinds[lab["kind"]]
            and ts(lab["start"]) - 600 <= ts(a["at"]) <= ts(lab["end"])]
    d = min((ts(a["at"]) - ts(lab["start"])) / 60 for a in hits) if hits else None
    name = lab["kind"] + "/" + lab["topic"]
    out.append(name + "=" + (f"{d:.0f}min" if d is not None else "MISSED"))
print(" ".join(out))
' "$dir/c$s.json")
  echo "seed $s: quiet-week false alarms $quiet | $delays"
done
