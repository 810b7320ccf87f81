#!/usr/bin/env bash
# Runs every test a change must pass: the Swift test suite (unit, property and integration tests, including
# the comparison of `journeyd replay` with the independent Python reference), then the bundled rules'
# own checks and journey tests through the real command line.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

bash scripts/test-deps.sh
swift build --build-tests
# Tests run with a temporary directory of their own: every test must remove what it creates, and
# anything left behind fails the run (SwiftPM's own TemporaryDirectory.* and lock files aside).
scratch=$(mktemp -d /tmp/journeyd-tests.XXXXXX)
# Removed however the run ends (a failing suite exits through `set -e` before the check below).
trap 'rm -rf "$scratch"' EXIT
TMPDIR=$scratch swift test --skip-build 2>&1 | tee .build/swift-test.log
grep -qE "Test run with [0-9]+ tests? (in [0-9]+ suites? )?passed|passed after" .build/swift-test.log \
  || { echo "swift test did not report a passing run" >&2; exit 1; }
leftovers=$(find "$scratch" -mindepth 1 -maxdepth 1 ! -name 'TemporaryDirectory.*' ! -name '*.lock' | head -20)
if [ -n "$leftovers" ]; then
  echo "tests left these behind in the temporary directory:" >&2
  echo "$leftovers" >&2
  exit 1
fi
rm -rf "$scratch"

journeyd=$(swift build --show-bin-path)/journeyd
"$journeyd" check rules
"$journeyd" check bench/rules
"$journeyd" test rules --junit .build/journey-tests.xml

# The fuzz targets (Fuzz/): a fixed seed and number of inputs each, about two minutes in all; long runs
# are `scripts/fuzz.sh TARGET SECONDS`.
bash scripts/fuzz.sh smoke

# One minute of the soak test on the debug build: steady socket load, a webhook that fails 10 % of the
# time and goes down, and every acknowledged order delivered exactly once (the hour-long run is
# `scripts/soak.sh`, outside CI).
bash scripts/soak.sh 60 1000 "$journeyd"

# journeyd as a real systemd 252 service in a container: needs root and systemd-nspawn (CI has both and
# insists on it; elsewhere it is skipped with a note).
if [ "$(id -u)" = 0 ] && command -v systemd-nspawn >/dev/null; then
  bash scripts/systemd-test.sh "$journeyd"
elif [ "${JOURNEYD_REQUIRE_SYSTEMD_TEST:-0}" = 1 ]; then
  echo "the systemd test needs root and systemd-nspawn (apt install systemd-container)" >&2
  exit 1
else
  echo "note: skipped the systemd service test (needs root and systemd-nspawn)" >&2
fi
