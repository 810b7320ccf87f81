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

    python3 cloud_peer.py --out FILE [--aliyun ID:SECRET] [--tencent ID:KEY] [--wechat APPID:SECRET]
                          [--google PUBLIC_KEY_PEM --google-email EMAIL --fcm-project PROJECT]
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = None
LOCK = threading.Lock()
NONCES = set()
STATS = {"token_fetches": 0}
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


def count(name):
    with LOCK:
        STATS[name] = STATS.get(name, 0) + 1
        with open(ARGS.out + ".stats", "w") as f:
            json.dump(STATS, f)
        return STATS[name]


def pop_encode(text):
    return urllib.parse.quote(text, safe="-_.~")


def aliyun_signature(params, secret, method):
    canonical = "&".join(
        "%s=%s" % (pop_encode(k), pop_encode(v)) for k, v in sorted(params.items(), key=lambda kv: kv[0].encode()) if k != "Signature")
    to_sign = method + "&" + pop_encode("/") + "&" + pop_encode(canonical)
    mac = hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def tc3_authorization(secret_id, secret_key, service, host, content_type, timestamp, body):
    date = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).strftime("%Y-%m-%d")
    canonical = "POST\n/\n\ncontent-type:%s\nhost:%s\n\ncontent-type;host\n%s" % (
        content_type.lower(), host.lower(), hashlib.sha256(body).hexdigest())
    scope = "%s/%s/tc3_request" % (date, service)
    to_sign = "TC3-HMAC-SHA256\n%d\n%s\n%s" % (timestamp, scope, hashlib.sha256(canonical.encode()).hexdigest())

    def sign(key, msg):
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    key = sign(sign(sign(("TC3" + secret_key).encode(), date), service), "tc3_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return "TC3-HMAC-SHA256 Credential=%s/%s, SignedHeaders=content-type;host, Signature=%s" % (secret_id, scope, signature)


def record(entry):
    with LOCK:
        with open(ARGS.out, "a") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")


def steer(number):
    return {"0001": "transient", "0002": "permanent", "0003": "hang", "0004": "number_limit", "0005": "flow_control"}.get(number[-4:], "accept")


class Handler(BaseHTTPRequestHandler):
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

    def wechat_token(self, query):
        app_id, secret = ARGS.wechat.split(":", 1)
        n = count("token_fetches")
        time.sleep(0.2)  # a real fetch takes a while: concurrent deliveries must find it in flight
        if query.get("grant_type") != "client_credential":
            return self.answer(200, {"errcode": 40002, "errmsg": "invalid grant_type"})
        if query.get("appid") != app_id:
            return self.answer(200, {"errcode": 40013, "errmsg": "invalid appid"})
        if query.get("secret") != secret:
            return self.answer(200, {"errcode": 40125, "errmsg": "invalid appsecret, view more at http://t.cn/RAEkdVq rid: " + query.get("secret", "")})
        token = "TOKEN-%d-%s" % (n, "x" * 100)
        with LOCK:
            WECHAT["current"] = token
        self.answer(200, {"access_token": token, "expires_in": 7200})

    def wechat_send(self, kind, query, body):
        def errcode(code, msg):
            self.answer(200, {"errcode": code, "errmsg": msg})

        with LOCK:
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
        n = count("sent")
        record({"provider": "wechat_" + kind, "path": self.path.split("?")[0], "headers": dict(self.headers), "body": body.decode()})
        self.answer(200, {"errcode": 0, "errmsg": "ok", "msgid": 200228332 + n})

    def google_token(self, body):
        form = dict(urllib.parse.parse_qsl(body.decode()))
        count("token_fetches")
        time.sleep(0.2)
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self.answer(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"})
        try:
            header, claims = verify_rs256(form.get("assertion", ""), ARGS.google)
        except Exception:
            return self.answer(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
        now = time.time()
        audience = "http://127.0.0.1:%d/google/token" % self.server.server_address[1]
        if claims.get("iss") != ARGS.google_email or claims.get("aud") != audience \
                or claims.get("scope") != "https://www.googleapis.com/auth/firebase.messaging":
            return self.answer(400, {"error": "invalid_grant", "error_description": "Invalid JWT: iss, aud or scope"})
        if not (claims["iat"] - 300 <= now <= claims["exp"] + 300) or claims["exp"] - claims["iat"] > 3600:
            return self.answer(400, {"error": "invalid_grant", "error_description": "Invalid JWT: Token must be a short-lived token"})
        token = "ya29.c.%d-%s" % (STATS["token_fetches"], "t" * 80)
        with LOCK:
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

        with LOCK:
            current = GOOGLE["current"]
        if self.headers.get("Authorization") != "Bearer %s" % current or current is None:
            return error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if path != "/fcm/v1/projects/%s/messages:send" % ARGS.fcm_project:
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
        n = count("sent")
        record({"provider": "fcm", "path": path, "headers": dict(self.headers), "body": body.decode()})
        self.answer(200, {"name": "projects/%s/messages/0:15004153%d" % (ARGS.fcm_project, n)})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/google/token":
            return self.google_token(body)
        if url.path == "/fcm/_expire":
            with LOCK:
                GOOGLE["current"] = "expired"
            return self.answer(200, {})
        if url.path.startswith("/fcm/v1/"):
            return self.fcm_send(url.path, body)
        if url.path == "/wechat/_expire":
            with LOCK:
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

    def aliyun(self, body):
        key_id, secret = ARGS.aliyun.split(":", 1)
        params = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=True))
        rid = {"RequestId": "F655A8D5-B967-440B-8683-DAD6FF8DE990"}
        required = ["AccessKeyId", "Action", "Format", "RegionId", "SignatureMethod", "SignatureNonce", "SignatureVersion", "Timestamp",
                    "Version", "Signature", "PhoneNumbers", "SignName", "TemplateCode"]
        missing = [k for k in required if not params.get(k)]
        if missing:
            return self.answer(400, dict(rid, Code="MissingParameter", Message="missing " + ",".join(missing)))
        if params["AccessKeyId"] != key_id:
            return self.answer(404, dict(rid, Code="InvalidAccessKeyId.NotFound", Message="Specified access key is not found."))
        if params["Signature"] != aliyun_signature(params, secret, "POST"):
            return self.answer(400, dict(rid, Code="SignatureDoesNotMatch", Message="Specified signature is not matched with our calculation."))
        if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0" or params["Version"] != "2017-05-25" \
                or params["Action"] != "SendSms":
            return self.answer(400, dict(rid, Code="InvalidParameter", Message="unsupported method, version or action"))
        sent = datetime.datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
        if abs(time.time() - sent.timestamp()) > 900:
            return self.answer(400, dict(rid, Code="InvalidTimeStamp.Expired", Message="Specified time stamp or date value is expired."))
        with LOCK:
            if params["SignatureNonce"] in NONCES:
                return self.answer(400, dict(rid, Code="SignatureNonceUsed", Message="Specified signature nonce was used already."))
            NONCES.add(params["SignatureNonce"])
        if params.get("TemplateParam"):
            try:
                json.loads(params["TemplateParam"])
            except ValueError:
                return self.answer(200, dict(rid, Code="isv.INVALID_JSON_PARAM", Message="JSON参数不合法，只接受字符串值"))
        number = params["PhoneNumbers"]
        mode = steer(number)
        if mode == "transient":
            return self.answer(500, dict(rid, Code="isp.SYSTEM_ERROR", Message="System error for " + number))
        if mode == "permanent":
            return self.answer(200, dict(rid, Code="isv.MOBILE_NUMBER_ILLEGAL", Message="Illegal phone number " + number))
        if mode == "hang":
            time.sleep(3600)
        if mode == "number_limit":
            return self.answer(200, dict(rid, Code="isv.BUSINESS_LIMIT_CONTROL", Message="触发号码天级流控Permits:10"))
        if mode == "flow_control":
            return self.answer(200, dict(rid, Code="Throttling.User", Message="Request was denied due to user flow control."))
        record({"provider": "aliyun", "path": self.path, "headers": dict(self.headers), "params": params})
        self.answer(200, dict(rid, Code="OK", Message="OK", BizId="900619746936498440^0"))

    def tencent(self, body):
        secret_id, secret_key = ARGS.tencent.split(":", 1)
        rid = "ed93f3cb-f35e-473f-b9f3-0d451b8b79c6"

        def error(code, message):
            self.answer(200, {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": rid}})

        h = self.headers
        if h.get("X-TC-Action") != "SendSms" or h.get("X-TC-Version") != "2021-01-11" or not h.get("X-TC-Region"):
            return error("InvalidAction", "bad X-TC-Action, X-TC-Version or X-TC-Region")
        try:
            timestamp = int(h.get("X-TC-Timestamp", ""))
        except ValueError:
            return error("MissingParameter", "X-TC-Timestamp")
        if abs(time.time() - timestamp) > 300:
            return error("AuthFailure.SignatureExpire", "Signature expired. Timestamp is " + str(timestamp))
        auth = h.get("Authorization", "")
        if not auth.startswith("TC3-HMAC-SHA256 Credential=%s/" % secret_id):
            return error("AuthFailure.SecretIdNotFound", "The SecretId is not found")
        expected = tc3_authorization(secret_id, secret_key, "sms", h.get("Host", ""), h.get("Content-Type", ""), timestamp, body)
        if auth != expected:
            return error("AuthFailure.SignatureFailure", "The provided credentials could not be validated.")
        try:
            request = json.loads(body)
        except ValueError:
            return error("FailedOperation.JsonParseFail", "body is not JSON")
        for key in ["PhoneNumberSet", "SmsSdkAppId", "TemplateId"]:
            if key not in request:
                return error("MissingParameter", "missing " + key)
        number = request["PhoneNumberSet"][0]
        mode = steer(number)

        def status(code, message, serial=""):
            self.answer(200, {"Response": {"SendStatusSet": [
                {"SerialNo": serial, "PhoneNumber": number, "Fee": 1 if code == "Ok" else 0, "SessionContext": request.get("SessionContext", ""),
                 "Code": code, "Message": message, "IsoCode": "CN"}], "RequestId": rid}})

        if mode == "transient":
            return error("InternalError.Timeout", "timeout for " + number)
        if mode == "permanent":
            return status("InvalidParameterValue.IncorrectPhoneNumber", "invalid number " + number)
        if mode == "hang":
            time.sleep(3600)
        if mode == "number_limit":
            return status("LimitExceeded.PhoneNumberDailyLimit", "the number's daily limit")
        if mode == "flow_control":
            return error("RequestLimitExceeded", "The number of requests exceeds the frequency limit.")
        record({"provider": "tencent", "path": self.path, "headers": dict(self.headers), "body": body.decode()})
        status("Ok", "send success", "2028:f825e6b16e23f73f4123")


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--port-file", default="", help="write the port here and run until killed (daemon tests)")
    parser.add_argument("--aliyun", default="")
    parser.add_argument("--tencent", default="")
    parser.add_argument("--wechat", default="")
    parser.add_argument("--google", default="")
    parser.add_argument("--google-email", default="")
    parser.add_argument("--fcm-project", default="")
    ARGS = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    if ARGS.port_file:
        with open(ARGS.port_file + ".tmp", "w") as f:
            f.write(str(port))
        os.rename(ARGS.port_file + ".tmp", ARGS.port_file)
        while True:
            time.sleep(3600)
    print("READY %d" % port, flush=True)
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
