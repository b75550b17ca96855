#!/usr/bin/env bash
# What the live dashboard costs: the same 30 s scenario (200 workers about 95% busy) run headless and in
# the dashboard (in a detached tmux of 200x60, 10 fps). The dashboard reports its frames' own CPU time
# (--frame-stats: thread CPU time around snapshot, update, view and draw), the direct figure; the two
# processes' CPU times are printed too, though on a busy pool their difference is within run-to-run noise.
# The completed counts show what the dashboard took from the pool.
# Usage: scripts/dashboard_cost.sh [path/to/poolscope]   (a release build: swift build -c release)
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-.build/release/poolscope}
scenario=bench/dashboard/busy-200.yaml
out=$(mktemp -d)
trap 'tmux kill-session -t poolscope-cost 2>/dev/null || true; rm -rf "$out"' EXIT

/usr/bin/time -f "%U %S %e" -o "$out/headless.time" "$binary" run "$scenario" --json > "$out/headless.json" 2>/dev/null
tmux new-session -d -s poolscope-cost -x 200 -y 60 \
    "/usr/bin/time -f '%U %S %e' -o $out/dashboard.time $binary watch $scenario --fps 10 --frame-stats 2> $out/frames.txt; touch $out/done"
# The scenario ends after 30 s and the dashboard shows its report; q quits.
sleep 33
tmux capture-pane -p -t poolscope-cost > "$out/screen.txt"
tmux send-keys -t poolscope-cost q
for _ in $(seq 1 100); do [ -e "$out/done" ] && break; sleep 0.1; done

cat "$out/frames.txt"
read -r hu hs he < "$out/headless.time"
read -r du ds de < "$out/dashboard.time"
completed_headless=$(python3 -c "import json,sys; print(json.load(open('$out/headless.json'))['jobs']['completed'])")
completed_dashboard=$(grep -oE "completed +[0-9]+" "$out/screen.txt" | head -1 | grep -oE "[0-9]+" || echo "?")
python3 - "$hu" "$hs" "$he" "$du" "$ds" "$de" "$completed_headless" "$completed_dashboard" <<'PY'
import sys
hu, hs, he, du, ds, de = map(float, sys.argv[1:7])
ch, cd = sys.argv[7], sys.argv[8]
print(f"headless:  {hu + hs:.2f} s CPU in {he:.1f} s of wall time; completed {ch}")
print(f"dashboard: {du + ds:.2f} s CPU in {de:.1f} s of wall time (its last ~3 s showing the report); completed {cd}")
# Over the scenario's 30 s, charging the dashboard with its report tail too.
print(f"dashboard cost: {(du + ds - hu - hs) / 30 * 100:.1f}% of a core", end="")
if ch.isdigit() and cd.isdigit():
    print(f"; pool throughput with it {int(cd) / int(ch):.3f}x of without")
else:
    print()
PY
