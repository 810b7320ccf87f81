#!/usr/bin/env bash
# The demo: build journeyd, validate and test the bundled rules, generate a sample event stream, and
# back-test the journeys on it. Nothing to configure; everything stays in ./demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

if ! [ -e /usr/share/zoneinfo/Asia/Shanghai ] || ! command -v python3 >/dev/null || ! [ -e /usr/include/sqlite3.h ] \
  || ! [ -e /usr/include/systemd/sd-daemon.h ]; then
  apt-get update -qq && apt-get install -y -qq tzdata python3 libsqlite3-dev libsystemd-dev >/dev/null
fi

swift build -c release --product journeyd
journeyd=$(swift build -c release --show-bin-path)/journeyd
mkdir -p demo

"$journeyd" check rules
"$journeyd" test rules
"$journeyd" generate --users 2000 --events 50000 --span 60d --seed 7 --output demo/events.jsonl
"$journeyd" replay demo/events.jsonl --rules rules --output demo/touches.jsonl
echo
echo "touches written to demo/touches.jsonl ($(wc -l < demo/touches.jsonl) lines); first three:"
head -3 demo/touches.jsonl
