"""The Chinese SMS clouds, as far as journeyd's adapters meet them: a receiver on 127.0.0.1 (an ephemeral
port) that checks each request the way the provider does, independently of journeyd's own code.

  /aliyun/   Alibaba Cloud SendSms (RPC, form POST): every common parameter present, the HMAC-SHA1 signature
             recomputed from the AccessKey secret, the timestamp within 15 minutes, each SignatureNonce used once.
  /tencent/  Tencent Cloud SendSms (API 3.0): X-TC-* headers, the TC3-HMAC-SHA256 signature recomputed from the
             SecretKey over content-type and host, the timestamp within 5 minutes, the credential scope's date.

Prints "READY <port>" once listening and stops when its stdin closes (or, with --port-file, writes the port
there and runs until killed). Every accepted send is appended to OUT
as one JSON line: {"provider", "path", "headers", "params" (aliyun) or "body" (tencent)}.

  /wechat/   WeChat: GET /cgi-bin/token (app id and secret checked; each fetch counted in OUT.stats, issues a new
             token and leaves the previous one valid for nothing but a grace period, as WeChat does), and the
             template and subscribe message sends (the token must be the current one, the body complete).
             POST /wechat/_expire expires the current token (the next send gets 42001).

The phone number's last four digits steer the answer: 0001 a transient failure, 0002 a permanent one,
0003 no answer at all, 0004 the number's own limit, 0005 the account's flow control. Anything else is sent.

  /google/token  Google's OAuth2 token endpoint: the RS256 JWT assertion verified with the service account's
             public key (iss, scope, aud, iat/exp); each fetch counted.
  /fcm/      FCM HTTP v1 messages:send: the bearer token must be the current one (else 401 UNAUTHENTICATED), the
             message complete. POST /fcm/_expire expires the current token.

WeChat openids steer the same way: o-transient (-1), o-permanent (40003), o-hang, o-refused (43101 for
subscribe, 43004 for template), o-quota (45009), o-always-expired (40001 whatever the token).

FCM device tokens steer too: dev-transient (503 UNAVAILABLE), dev-permanent (400 INVALID_ARGUMENT), dev-hang,
dev-unregistered (404 UNREGISTERED), dev-quota (429 QUOTA_EXCEEDED, Retry-After 30), dev-mismatch (403
SENDER_ID_MISMATCH).

    python3 -B cloud_peer.py --out FILE [--aliyun ID:SECRET] [--tencent ID:KEY] [--wechat APPID:SECRET]
                          [--google PUBLIC_KEY_PEM --google-email EMAIL --fcm-project PROJECT]
"""
import argparse
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import peer_state as state
from sms_clouds import SMSClouds
from token_apis import GOOGLE, WECHAT, TokenAPIs


class Handler(SMSClouds, TokenAPIs, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, obj):
        data = json.dumps(obj, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/wechat/cgi-bin/token":
            return self.wechat_token(dict(urllib.parse.parse_qsl(url.query)))
        self.answer(404, {"error": "no such path " + url.path})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/google/token":
            return self.google_token(body)
        if url.path == "/fcm/_expire":
            with state.LOCK:
                GOOGLE["current"] = "expired"
            return self.answer(200, {})
        if url.path.startswith("/fcm/v1/"):
            return self.fcm_send(url.path, body)
        if url.path == "/wechat/_expire":
            with state.LOCK:
                WECHAT["expired"].add(WECHAT["current"])
            return self.answer(200, {})
        if url.path == "/wechat/cgi-bin/message/template/send":
            return self.wechat_send("template", query, body)
        if url.path == "/wechat/cgi-bin/message/subscribe/send":
            return self.wechat_send("subscribe", query, body)
        if self.path == "/aliyun/":
            self.aliyun(body)
        elif self.path == "/tencent/":
            self.tencent(body)
        else:
            self.answer(404, {"error": "no such path " + self.path})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--port-file", default="", help="write the port here and run until killed (daemon tests)")
    parser.add_argument("--aliyun", default="")
    parser.add_argument("--tencent", default="")
    parser.add_argument("--wechat", default="")
    parser.add_argument("--google", default="")
    parser.add_argument("--google-email", default="")
    parser.add_argument("--fcm-project", default="")
    state.ARGS = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.announce(server.server_address[1], state.ARGS.port_file)
    server.shutdown()


if __name__ == "__main__":
    main()

