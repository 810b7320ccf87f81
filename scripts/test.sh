#!/usr/bin/env bash
# Runs every test a change must pass: the Swift test suite (unit, property and integration tests, including
# the comparison of `journeyd replay` with the independent Python reference), then the bundled rules'
# own checks and journey tests through the real command line.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

swift build --build-tests
swift test --skip-build 2>&1 | tee .build/swift-test.log
grep -qE "Test run with [0-9]+ tests? (in [0-9]+ suites? )?passed|passed after" .build/swift-test.log \
  || { echo "swift test did not report a passing run" >&2; exit 1; }

journeyd=$(swift build --show-bin-path)/journeyd
"$journeyd" check rules
"$journeyd" check bench/rules
"$journeyd" test rules --junit .build/journey-tests.xml

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
