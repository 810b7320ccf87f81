#!/usr/bin/env bash
# The long crash test (outside the default test run): 100,000 events through `journeyd run`, killed with
# SIGKILL at random moments up to 200 times; afterwards no acknowledged event is lost, no touch is
# delivered twice, the delivered touches equal `journeyd replay`'s, and PRAGMA integrity_check is ok.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
swift build --build-tests
JOURNEYD_CRASH_TEST_LONG=1 swift test --skip-build --filter killedAtRandomMomentsItLosesNothingAndSendsNothingTwice
