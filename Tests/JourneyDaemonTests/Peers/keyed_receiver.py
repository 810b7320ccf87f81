"""A webhook receiver for the cluster tests, on 127.0.0.1: what a provider sees of journeyd's deliveries.

/keyed honours the Idempotency-Key header the way a provider that accepts one does: the first request
with a key is acted on, a repeat is answered 200 and not acted on again. /plain has no keys: every
request is acted on. Each request is appended to LOG as one JSON line: path, key, whether it was acted
on ("acted"), whether a repeat names another touch than the first
request with its key ("conflict": the traits and text may differ, they are read at each attempt), and the touch's fields.
The port goes to PORT_FILE once listening. DELAY_MS (optional): how long each answer takes (a slow provider).

usage: keyed_receiver.py PORT_FILE LOG [DELAY_MS]
"""
import json, os, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, log_path = sys.argv[1], sys.argv[2]
fields = ("touch_id", "at", "user", "journey", "version", "enrollment", "step", "channel", "template")
seen, lock = {}, threading.Lock()
log = open(log_path, "a", buffering=1)
delay = int(sys.argv[3]) / 1000 if len(sys.argv) > 3 else 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        key = self.headers.get("Idempotency-Key", "")
        message = json.loads(body)
        touch = {f: message.get(f) for f in fields}
        if delay:
            time.sleep(delay)
        with lock:
            first = seen.setdefault(key, touch) if self.path == "/keyed" else touch
            acted = self.path != "/keyed" or first is touch
            log.write(json.dumps({
                "path": self.path, "key": key, "acted": acted, "conflict": first != touch, "touch": touch,
            }) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
