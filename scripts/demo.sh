#!/usr/bin/env bash
# The demo: build journeyd, validate and test the bundled rules, generate a sample event stream,
# back-test the journeys on it, then run the daemon on the same stream (spool input, SQLite state) and
# compare what it delivered with the back-test, and write the report page (demo/report.html). Nothing to
# configure; everything stays in ./demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

# Build needs: time zones, python3, SQLite and libsystemd headers, and the NATS C client (libnats-dev:
# journeyd links it for cluster mode, which the demo does not use).
if ! [ -e /usr/share/zoneinfo/Asia/Shanghai ] || ! command -v python3 >/dev/null || ! [ -e /usr/include/sqlite3.h ] \
  || ! [ -e /usr/include/systemd/sd-daemon.h ] || ! [ -e /usr/include/nats/nats.h ]; then
  apt-get update -qq && apt-get install -y -qq tzdata python3 libsqlite3-dev libsystemd-dev libnats-dev >/dev/null
fi

swift build -c release --product journeyd
journeyd=$(swift build -c release --show-bin-path)/journeyd
mkdir -p demo

"$journeyd" check rules
"$journeyd" test rules
"$journeyd" generate --users 2000 --events 50000 --span 60d --seed 7 --output demo/events.jsonl
"$journeyd" replay demo/events.jsonl --rules rules --output demo/touches.jsonl --until 2026-12-31T00:00:00Z
echo
echo "touches written to demo/touches.jsonl ($(wc -l < demo/touches.jsonl) lines); first three:"
head -3 demo/touches.jsonl

# The daemon on the same stream: the events go through the spool (renamed in, as producers must), state
# is logged in demo/state/log/ and checkpointed to demo/state/state.sqlite, touches are rendered and delivered through the bundled
# dry-run channels (log lines in demo/daemon.log, the archive channel's JSON lines). Event time drives the
# clock here, so 60 days of journeys run in seconds; `--until` runs the clock to the end, then it exits.
rm -rf demo/state demo/spool
mkdir -p demo/spool/incoming
cp demo/events.jsonl demo/spool/events.jsonl.part
mv demo/spool/events.jsonl.part demo/spool/incoming/events.jsonl
echo
echo "journeyd run on demo/events.jsonl (spool input, SQLite state, event-time clock):"
"$journeyd" run --rules rules --state demo/state/state.sqlite --spool demo/spool --clock event \
  --until 2026-12-31T00:00:00Z --log-level debug 2> demo/daemon.log
grep "journeyd stopped" demo/daemon.log
echo "daemon log: demo/daemon.log ($(grep -c "touch_sent" demo/daemon.log) touch_sent records); one of them:"
grep -m1 "touch_sent" demo/daemon.log
echo "replay said $(wc -l < demo/touches.jsonl) touches for the same stream and end time; the daemon delivered $(grep -c "touch_sent" demo/daemon.log)."

# What the journeys did, as an operator reads it: funnels, uplift against holdouts, touches per channel
# per day, stages (one HTML file, no network); `journeyd explain USER` tells one user's story.
"$journeyd" report --state demo/state/state.sqlite --rules rules -o demo/report.html
echo "report: demo/report.html; why u1 got what they got: $journeyd explain u1 --state demo/state/state.sqlite --rules rules"
