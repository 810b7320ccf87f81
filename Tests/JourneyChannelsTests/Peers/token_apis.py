"""The token-based APIs' receivers for cloud_peer.py: WeChat (access_token from app id and secret, template and
subscribe messages) and Google (OAuth2 token from an RS256 JWT assertion, FCM HTTP v1 sends)."""
import base64
import json
import time
import urllib.parse

import peer_state as state

WECHAT = {"current": None, "expired": set()}
GOOGLE = {"current": None}


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_rs256(jwt, public_pem):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    head, claims, signature = jwt.split(".")
    header = json.loads(b64url_decode(head))
    if header.get("alg") != "RS256" or header.get("typ") != "JWT":
        raise ValueError("header " + json.dumps(header))
    key = serialization.load_pem_public_key(open(public_pem, "rb").read())
    key.verify(b64url_decode(signature), (head + "." + claims).encode(), padding.PKCS1v15(), hashes.SHA256())
    return header, json.loads(b64url_decode(claims))



class TokenAPIs:
    def wechat_token(self, query):
        app_id, secret = state.ARGS.wechat.split(":", 1)
        n = state.count("token_fetches")
        time.sleep(0.2)  # a real fetch takes a while: concurrent deliveries must find it in flight
        if query.get("grant_type") != "client_credential":
            return self.answer(200, {"errcode": 40002, "errmsg": "invalid grant_type"})
        if query.get("appid") != app_id:
            return self.answer(200, {"errcode": 40013, "errmsg": "invalid appid"})
        if query.get("secret") != secret:
            return self.answer(200, {"errcode": 40125, "errmsg": "invalid appsecret, view more at http://t.cn/RAEkdVq rid: " + query.get("secret", "")})
        token = "TOKEN-%d-%s" % (n, "x" * 100)
        with state.LOCK:
            WECHAT["current"] = token
        self.answer(200, {"access_token": token, "expires_in": 7200})

    def wechat_send(self, kind, query, body):
        def errcode(code, msg):
            self.answer(200, {"errcode": code, "errmsg": msg})

        with state.LOCK:
            current, expired = WECHAT["current"], query.get("access_token") in WECHAT["expired"]
        token = query.get("access_token")
        if expired:
            return errcode(42001, "access_token expired rid: " + str(token))
        if token != current:
            return errcode(40001, "invalid credential, access_token is invalid or not latest rid: " + str(token))
        try:
            request = json.loads(body)
        except ValueError:
            return errcode(47001, "data format error")
        if not request.get("touser") or not request.get("template_id") or not isinstance(request.get("data"), dict):
            return errcode(47003, "argument invalid!")
        for name, field in request["data"].items():
            if not isinstance(field, dict) or not isinstance(field.get("value"), str):
                return errcode(47003, "argument invalid! data.%s.value invalid" % name)
        openid = request["touser"]
        if openid == "o-transient":
            return errcode(-1, "system error")
        if openid == "o-permanent":
            return errcode(40003, "invalid openid " + openid)
        if openid == "o-hang":
            time.sleep(3600)
        if openid == "o-refused":
            return errcode(43101, "user refuse to accept the msg") if kind == "subscribe" else errcode(43004, "require subscribe")
        if openid == "o-quota":
            return errcode(45009, "reach max api daily quota limit")
        if openid == "o-always-expired":
            return errcode(40001, "invalid credential")
        n = state.count("sent")
        state.record({"provider": "wechat_" + kind, "path": self.path.split("?")[0], "headers": dict(self.headers), "body": body.decode()})
        self.answer(200, {"errcode": 0, "errmsg": "ok", "msgid": 200228332 + n})

    def google_token(self, body):
        form = dict(urllib.parse.parse_qsl(body.decode()))
        state.count("token_fetches")
        time.sleep(0.2)
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self.answer(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"})
        try:
            header, claims = verify_rs256(form.get("assertion", ""), state.ARGS.google)
        except Exception:
            return self.answer(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
        now = time.time()
        audience = "http://127.0.0.1:%d/google/token" % self.server.server_address[1]
        if claims.get("iss") != state.ARGS.google_email or claims.get("aud") != audience \
                or claims.get("scope") != "https://www.googleapis.com/auth/firebase.messaging":
            return self.answer(400, {"error": "invalid_grant", "error_description": "Invalid JWT: iss, aud or scope"})
        if not (claims["iat"] - 300 <= now <= claims["exp"] + 300) or claims["exp"] - claims["iat"] > 3600:
            return self.answer(400, {"error": "invalid_grant", "error_description": "Invalid JWT: Token must be a short-lived token"})
        token = "ya29.c.%d-%s" % (state.STATS["token_fetches"], "t" * 80)
        with state.LOCK:
            GOOGLE["current"] = token
        self.answer(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def fcm_send(self, path, body):
        def error(status, code, message, error_code=None, headers=()):
            obj = {"error": {"code": status, "message": message, "status": code}}
            if error_code:
                obj["error"]["details"] = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": error_code}]
            data = json.dumps(obj).encode()
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        with state.LOCK:
            current = GOOGLE["current"]
        if self.headers.get("Authorization") != "Bearer %s" % current or current is None:
            return error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if path != "/fcm/v1/projects/%s/messages:send" % state.ARGS.fcm_project:
            return error(404, "NOT_FOUND", "no such project in " + path)
        try:
            message = json.loads(body)["message"]
            token = message["token"]
            for k, v in message.get("data", {}).items():
                if not isinstance(v, str):
                    raise ValueError("data values are strings: " + k)
        except (ValueError, KeyError, TypeError) as e:
            return error(400, "INVALID_ARGUMENT", "Invalid JSON payload received. " + str(e))
        if token == "dev-transient":
            return error(503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE")
        if token == "dev-permanent":
            return error(400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token", "INVALID_ARGUMENT")
        if token == "dev-hang":
            time.sleep(3600)
        if token == "dev-unregistered":
            return error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
        if token == "dev-quota":
            return error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", "QUOTA_EXCEEDED", headers=[("Retry-After", "30")])
        if token == "dev-mismatch":
            return error(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH")
        n = state.count("sent")
        state.record({"provider": "fcm", "path": path, "headers": dict(self.headers), "body": body.decode()})
        self.answer(200, {"name": "projects/%s/messages/0:15004153%d" % (state.ARGS.fcm_project, n)})

