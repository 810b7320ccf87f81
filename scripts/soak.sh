#!/usr/bin/env bash
# The soak test (issue 10): journeyd under steady socket load for SECONDS at RATE events/s, delivering to
# a webhook that fails 10 % of requests and goes down for minutes at a time. Records RSS, open fds,
# outbox depth and answer latency every 10 s (WORKDIR/soak.csv), and fails on growth that does not
# level off or on any touch lost or delivered twice.
#
#   scripts/soak.sh [SECONDS] [RATE] [JOURNEYD]      (default 3600 s at 2000 events/s, release build)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
seconds="${1:-3600}"
rate="${2:-2000}"
journeyd="${3:-}"
if [ -z "$journeyd" ]; then
  swift build -c release --product journeyd >&2
  journeyd="$(swift build -c release --show-bin-path)/journeyd"
fi
work="$(mktemp -d /tmp/journeyd-soak.XXXXXX)"
trap 'rm -rf "$work"' EXIT
python3 scripts/soak.py "$journeyd" "$seconds" "$rate" "$work"
