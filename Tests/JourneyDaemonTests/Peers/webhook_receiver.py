"""A webhook receiver for the daemon's delivery tests, on 127.0.0.1.

Paths: /flaky answers 503 to its first FAIL requests, then 200; /gone answers 410; /broken always 500;
/robot/send answers as a DingTalk robot does ({"errcode":0}).
Every request is appended to LOG as one JSON line: path, status, headers, body, and whether its
Standard-Webhooks signature verifies with SECRET. The port goes to PORT_FILE once listening.

usage: webhook_receiver.py PORT_FILE LOG SECRET FAIL
"""
import base64, hashlib, hmac, json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, log_path, secret, fail = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
key = base64.b64decode(secret[len("whsec_"):])
seen = {"/flaky": 0}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        msg_id, ts = self.headers.get("webhook-id", ""), self.headers.get("webhook-timestamp", "")
        expected = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
        signatures = [s.split(",", 1)[1] for s in self.headers.get("webhook-signature", "").split() if "," in s]
        if self.path == "/flaky":
            seen["/flaky"] += 1
            status = 503 if seen["/flaky"] <= fail else 200
        elif self.path.startswith("/robot/send"):
            status = 200
        else:
            status = {"/gone": 410, "/broken": 500}.get(self.path, 404)
        with open(log_path, "a") as log:
            log.write(json.dumps({
                "path": self.path, "status": status, "body": body.decode(),
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "signature_ok": any(hmac.compare_digest(s, expected) for s in signatures),
            }) + "\n")
        answer = b'{"errcode":0,"errmsg":"ok"}' if self.path.startswith("/robot/send") else b""
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
