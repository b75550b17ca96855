#!/usr/bin/env bash
# Builds the libFuzzer targets (Fuzz/Sources) with -sanitize=fuzzer,address and runs each for a bounded time
# on a copy of its seed corpus, after replaying every input that ever crashed it (Fuzz/Regressions).
# Exits non-zero on a crash, a trap, a leak, a timeout or an out-of-memory. See docs/FUZZING.md.
#
# Built with -sanitize=fuzzer,address -DPOOLSCOPE_FUZZING into .build/fuzz, apart from the normal build.
#
# usage: scripts/fuzz.sh [--time SECONDS] [--target scenario|recording]... [--keep DIR]
#   --time    seconds per target (default 60)
#   --target  run only this target: scenario, recording, monitor, cluster-payload (repeatable; default all)
#   --keep    keep the grown corpus and any crash artifacts in DIR (default: a temporary directory, removed)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
targets=()
keep=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --time) seconds="$2"; shift 2 ;;
    --target) targets+=("$2"); shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "fuzz.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=(scenario recording monitor cluster-payload)

product_of() {
  case "$1" in
    scenario) echo FuzzScenario ;;
    recording) echo FuzzRecording ;;
    monitor) echo FuzzMonitor ;;
    cluster-payload) echo FuzzClusterPayload ;;
    *) echo "fuzz.sh: no fuzz target '$1' (scenario, recording, monitor, cluster-payload)" >&2; exit 2 ;;
  esac
}

scratch=.build/fuzz
mkdir -p "$scratch"
flags=(-c release --scratch-path "$scratch" -Xswiftc -sanitize=fuzzer,address -Xswiftc -DPOOLSCOPE_FUZZING)
for target in "${targets[@]}"; do
  product=$(product_of "$target")
  echo "fuzz.sh: building $product (sanitizers: fuzzer, address)"
  if ! swift build "${flags[@]}" --product "$product" > "$scratch/build-$product.log" 2>&1; then
    tail -40 "$scratch/build-$product.log" >&2
    echo "fuzz.sh: the build of $product failed (log: $scratch/build-$product.log)" >&2
    exit 1
  fi
done

work="${keep:-$(mktemp -d)}"
mkdir -p "$work"
[[ -n "$keep" ]] || trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
status=0
for target in "${targets[@]}"; do
  product=$(product_of "$target")
  binary="$scratch/release/$product"
  regressions=(Fuzz/Regressions/"$target"/*)
  if [[ -e "${regressions[0]}" ]]; then
    echo "fuzz.sh: $target: replaying ${#regressions[@]} input(s) that once crashed it"
    if ! "$binary" -timeout=10 -rss_limit_mb=4096 "${regressions[@]}" > "$work/$target-regressions.log" 2>&1; then
      tail -40 "$work/$target-regressions.log" >&2
      echo "fuzz.sh: $target: an input in Fuzz/Regressions/$target crashes again" >&2
      status=1
      continue
    fi
  fi
  mkdir -p "$work/$target/corpus" "$work/$target/artifacts"
  cp -r Fuzz/Corpus/"$target"/. "$work/$target/corpus/"
  dictionary=()
  [[ -f Fuzz/$target.dict ]] && dictionary=(-dict="Fuzz/$target.dict")
  echo "fuzz.sh: $target: fuzzing for ${seconds}s"
  if "$binary" "$work/$target/corpus" "${dictionary[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$work/$target/artifacts/" > "$work/$target.log" 2>&1; then
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)|cov: ' "$work/$target.log" | tail -5
    echo "fuzz.sh: $target: no crash in ${seconds}s"
  else
    tail -60 "$work/$target.log" >&2
    echo "fuzz.sh: $target: a finding; the input is in $work/$target/artifacts (copy it to Fuzz/Regressions/$target and fix)" >&2
    for artifact in "$work/$target"/artifacts/*; do
      [[ -e "$artifact" ]] || continue
      echo "fuzz.sh: $(basename "$artifact") as base64 (its first 15000 bytes):" >&2
      head -c 15000 "$artifact" | base64 -w 0 >&2
      echo >&2
    done
    status=1
  fi
done
exit $status
