"""The SMS clouds' receivers for cloud_peer.py: Alibaba Cloud SendSms (RPC signature) and Tencent Cloud SendSms
(TC3-HMAC-SHA256), each checking a request the way the provider does."""
import base64
import datetime
import hashlib
import hmac
import json
import time
import urllib.parse

import peer_state as state

NONCES = set()


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


def steer(number):
    return {"0001": "transient", "0002": "permanent", "0003": "hang", "0004": "number_limit", "0005": "flow_control"}.get(number[-4:], "accept")



class SMSClouds:
    def aliyun(self, body):
        key_id, secret = state.ARGS.aliyun.split(":", 1)
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
        with state.LOCK:
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
        state.record({"provider": "aliyun", "path": self.path, "headers": dict(self.headers), "params": params})
        self.answer(200, dict(rid, Code="OK", Message="OK", BizId="900619746936498440^0"))

    def tencent(self, body):
        secret_id, secret_key = state.ARGS.tencent.split(":", 1)
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
        state.record({"provider": "tencent", "path": self.path, "headers": dict(self.headers), "body": body.decode()})
        status("Ok", "send success", "2028:f825e6b16e23f73f4123")


