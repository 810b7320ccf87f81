#!/usr/bin/env bash
# Builds the libFuzzer targets (Fuzz/, a package of its own) with AddressSanitizer and runs them.
#
#   scripts/fuzz.sh [TARGET|all] [SECONDS] [extra libFuzzer flags…]      (default: all, 60 s each)
#   scripts/fuzz.sh smoke                     (the default test run's: every target, a fixed seed and
#                                              a fixed number of inputs, about 30 s each here, so its
#                                              outcome does not depend on how fast the machine is)
#
# Targets: SegmentParserFuzz (JSON and Segment lines), RuleLoaderFuzz (journey YAML and expressions),
# TemplateFuzz (Liquid compiler and renderer), ControlRequestFuzz (the control socket protocol),
# TrackingBodyFuzz (the HTTP input's request bodies: single events and batches).
# Each starts from its committed seed corpus, Fuzz/Corpus/TARGET (seeded from the repository's
# fixtures), plus what earlier runs found in $FUZZ_DIR/corpus/TARGET (default .build-fuzz/). A crash,
# leak or hang stops the run with a reproducer $FUZZ_DIR/TARGET-crash-…; replay it with
# `Fuzz/.build/debug/TARGET FILE`. To grow the committed corpus after a long run:
#   Fuzz/.build/debug/TARGET -merge=1 Fuzz/Corpus/TARGET .build-fuzz/corpus/TARGET
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="/opt/swift/usr/bin:$PATH"
target="${1:-all}"
seconds="${2:-60}"
shift $(( $# > 2 ? 2 : $# ))
work="${FUZZ_DIR:-$root/.build-fuzz}"
all=(SegmentParserFuzz RuleLoaderFuzz TemplateFuzz ControlRequestFuzz TrackingBodyFuzz)
declare -A smoke_runs=([SegmentParserFuzz]=150000 [RuleLoaderFuzz]=20000 [TemplateFuzz]=60000 [ControlRequestFuzz]=500000 [TrackingBodyFuzz]=200000)
if [ "$target" = all ] || [ "$target" = smoke ]; then targets=("${all[@]}"); else targets=("$target"); fi

echo "building the fuzz targets with -sanitize=fuzzer,address…" >&2
swift build --package-path "$root/Fuzz" -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library >&2
bin="$(swift build --package-path "$root/Fuzz" --show-bin-path)"

status=0
for name in "${targets[@]}"; do
  [ -x "$bin/$name" ] || { echo "no fuzz target $name (have: ${all[*]})" >&2; exit 2; }
  mkdir -p "$work/corpus/$name"
  if [ "$target" = smoke ]; then
    # A fresh corpus each time: the same seed over the same inputs is the same run.
    rm -rf "$work/corpus/$name" && mkdir -p "$work/corpus/$name"
    budget=(-seed=1 -runs="${smoke_runs[$name]}")
    export SWIFT_DETERMINISTIC_HASHING=1
    echo "fuzzing $name: ${smoke_runs[$name]} inputs from seed 1…" >&2
  else
    budget=(-max_total_time="$seconds")
    echo "fuzzing $name for ${seconds}s…" >&2
  fi
  # -rss_limit_mb and -timeout catch leaks and hangs; the text of each run goes to $work/$name.log.
  if ! SWIFT_BACKTRACE=enable=no "$bin/$name" "${budget[@]}" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$work/$name-" "$@" \
      "$work/corpus/$name" "$root/Fuzz/Corpus/$name" > "$work/$name.log" 2>&1; then
    echo "FAILED: $name (see $work/$name.log)" >&2
    tail -40 "$work/$name.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/$name.log" | tr -s ' \n' ' ' | sed "s/^/$name: /" >&2
    echo >&2
  fi
done
exit $status
