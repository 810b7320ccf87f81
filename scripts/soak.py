#!/usr/bin/env python3
"""The soak test: journeyd under steady load for a given time, with a delivery endpoint that fails 10 %
of requests and goes down for a while every few minutes.

    soak.py JOURNEYD SECONDS RATE WORKDIR

Every 10 s it records the daemon's RSS, open file descriptors, outbox depth and the answer latency of
the events of those 10 s (p50/p99) in WORKDIR/soak.csv. It fails (exit 1) when RSS or the descriptors
keep growing instead of levelling off, or when any touch is lost or delivered twice.

One event in ten is an `order`, and each order makes exactly one touch (a webhook), so what must arrive
is known: one 2xx answer per acknowledged order, never two. The other events (`view`) only move state and
arm two-day timers, as browsing does.
"""
import json, os, random, signal, socket, subprocess, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

journeyd, seconds, rate, work = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
os.makedirs(work + "/rules/journeys", exist_ok=True)
os.makedirs(work + "/rules/templates", exist_ok=True)

# --- the receiver: 10 % failures, down for a while every few minutes (in proportion on short runs)
lock = threading.Lock()
delivered = {}          # touch id -> successful deliveries
attempts = 0
down_until = 0.0
period = min(300.0, max(20.0, seconds / 3.0))   # one outage per period
outage = min(60.0, period / 4.0)


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        global attempts
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        touch = self.headers.get("Idempotency-Key") or self.headers.get("webhook-id") or ""
        with lock:
            attempts += 1
            down = time.time() < down_until
            fail = down or random.random() < 0.10
            if not fail:
                delivered[touch] = delivered.get(touch, 0) + 1
        self.send_response(503 if fail else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()
port = server.server_address[1]


def outages():
    global down_until
    while True:
        time.sleep(period - outage)
        with lock:
            down_until = time.time() + outage


threading.Thread(target=outages, daemon=True).start()

with open(work + "/rules/channels.yaml", "w") as f:
    f.write(f"""channels:
  - name: hook
    type: webhook
    url: "http://127.0.0.1:{port}/orders"
    allow_private: true
    timeout: 10s
    retry: {{ initial: 1s, multiplier: 2, max_delay: 30s, jitter: 0.2, max_attempts: 1000, max_age: 30d }}
    breaker: {{ failures: 20, open_for: 5s, max_open_for: 30s }}
""")
with open(work + "/rules/journeys/order.yaml", "w") as f:
    f.write("journey: order\ntrigger: { event: order }\nentry: { reentry: always }\nsteps:\n  - send: hook\n    template: thanks\n")
with open(work + "/rules/journeys/browse.yaml", "w") as f:
    f.write("journey: browse\ntrigger: { event: view }\nentry: { reentry: { after: 30d } }\nsteps:\n  - wait: 2d\n  - send: hook\n    template: thanks\n")
with open(work + "/rules/templates/thanks.liquid", "w") as f:
    f.write("Thanks, {{ user.first_name | default: \"there\" }}: {{ enrollment.trigger.properties.order_id }}\n")
with open(work + "/rules/journeyd.yaml", "w") as f:
    # Message ids are remembered for dedup.window (default 7 days, up to 10,000,000 ids): at thousands of
    # events a second that set grows for days by design. A five-minute window lets it level off within
    # the run, so what still grows is a leak.
    f.write("state: { checkpoint: { every: 10s } }\ndedup: { window: 5m }\n")

sock_path = work + "/events.sock"
log = open(work + "/daemon.log", "w")
daemon = subprocess.Popen([journeyd, "run", "--rules", work + "/rules", "--state", work + "/state/state.sqlite",
                           "--spool", work + "/spool", "--socket", sock_path], stderr=log, stdout=log)
for _ in range(600):
    if os.path.exists(sock_path):
        break
    time.sleep(0.1)
else:
    sys.exit("journeyd did not bind its socket")


def status():
    out = subprocess.run([journeyd, "status", "--json", "--control", work + "/state/control.sock"],
                         capture_output=True, text=True, timeout=60)
    return json.loads(out.stdout) if out.returncode == 0 else {}


def proc(field):
    with open(f"/proc/{daemon.pid}/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


# --- the producer: paced, one connection, answers read by a second thread
conn = socket.socket(socket.AF_UNIX)
conn.connect(sock_path)
sent_at = {}
acked_orders = set()
latencies = []
answers_lock = threading.Lock()


def reader():
    buf = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return
        buf += chunk
        *lines, buf = buf.split(b"\n")
        now = time.time()
        with answers_lock:
            for line in lines:
                text = line.decode()
                if text.startswith("ok "):
                    mid = text[3:]
                    t = sent_at.pop(mid, None)
                    if t is not None:
                        latencies.append(now - t)
                    if mid.startswith("o"):
                        acked_orders.add(mid)


threading.Thread(target=reader, daemon=True).start()
csv = open(work + "/soak.csv", "w")
csv.write("seconds,rss_kib,fds,outbox_waiting,outbox_in_flight,events,delivered_ok,attempts,p50_ms,p99_ms\n")
start = time.time()
next_sample = start + 10
n = 0
samples = []
users = 5000
while time.time() - start < seconds:
    # one batch per 10 ms
    due = int((time.time() - start) * rate)
    lines = []
    while n < due:
        user = random.randrange(users)
        ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if n % 10 == 0:
            mid = f"o{n}"
            lines.append(json.dumps({"type": "track", "userId": f"u{user}", "event": "order", "messageId": mid,
                                     "timestamp": ts, "properties": {"order_id": n}}))
        else:
            mid = f"v{n}"
            lines.append(json.dumps({"type": "track", "userId": f"u{user}", "event": "view", "messageId": mid, "timestamp": ts}))
        with answers_lock:
            sent_at[mid] = time.time()
        n += 1
    if lines:
        conn.sendall(("\n".join(lines) + "\n").encode())
    if time.time() >= next_sample:
        st = status()
        with answers_lock:
            window, latencies[:] = sorted(latencies), []
        p = lambda q: round(window[min(len(window) - 1, int(q * len(window)))] * 1000, 2) if window else 0
        with lock:
            ok, tries = sum(delivered.values()), attempts
        row = [int(time.time() - start), proc("VmRSS"), len(os.listdir(f"/proc/{daemon.pid}/fd")),
               st.get("outbox_waiting", -1), st.get("outbox_in_flight", -1), st.get("events", -1), ok, tries, p(0.5), p(0.99)]
        samples.append(row)
        csv.write(",".join(map(str, row)) + "\n")
        csv.flush()
        next_sample += 10
    time.sleep(0.01)

# --- drain: the receiver comes back up for good; wait until every acknowledged order arrived
conn.shutdown(socket.SHUT_WR)
with lock:
    down_until = 0.0
period = 1e9
deadline = time.time() + 180
while time.time() < deadline:
    with lock:
        got = set(delivered)
    with answers_lock:
        want = {f"o{m[1:]}" for m in acked_orders}
    if len(got) >= len(want):
        break
    time.sleep(1)
daemon.send_signal(signal.SIGTERM)
code = daemon.wait(timeout=120)

failures = []
with lock, answers_lock:
    touches_delivered = len(delivered)
    doubled = [t for t, c in delivered.items() if c > 1]
orders = len(acked_orders)
if touches_delivered != orders:
    failures.append(f"{orders} orders acknowledged, {touches_delivered} touches delivered")
if doubled:
    failures.append(f"{len(doubled)} touches delivered twice, e.g. {doubled[:3]}")
if code != 0:
    failures.append(f"journeyd exited {code}")
# Levelling off: the last third of the run may not be above the middle third by more than 10 % + slack.
# Only judged on runs of ten minutes or more: a shorter run is still filling its users' working set, and
# the one-minute run in scripts/test.sh is there for the exactly-once check.
if seconds >= 600 and len(samples) >= 3:
    third = len(samples) // 3
    middle, last = samples[third:2 * third], samples[2 * third:]
    rss_mid, rss_last = max(r[1] for r in middle), max(r[1] for r in last)
    fd_mid, fd_last = max(r[2] for r in middle), max(r[2] for r in last)
    if rss_last > rss_mid * 1.10 + 8192:
        failures.append(f"RSS still growing: {rss_mid} KiB in the middle third, {rss_last} KiB in the last")
    if fd_last > fd_mid + 8:
        failures.append(f"file descriptors still growing: {fd_mid} → {fd_last}")
print(f"soak: {seconds} s at {rate} events/s: {n} events, {orders} orders acknowledged, {touches_delivered} touches delivered "
      f"once each ({attempts} attempts with 10 % failures and outages of {int(outage)} s), samples in {work}/soak.csv")
for row in samples:
    print("  " + ", ".join(f"{k}={v}" for k, v in zip(
        ["t", "rss_kib", "fds", "waiting", "in_flight", "events", "delivered", "attempts", "p50_ms", "p99_ms"], row)))
if failures:
    print("soak FAILED:\n  " + "\n  ".join(failures))
    sys.exit(1)
print("soak passed: no touch lost or doubled" + ("; RSS and descriptors level off" if seconds >= 600 else ""))
