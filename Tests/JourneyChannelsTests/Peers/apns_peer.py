"""APNs, as far as journeyd's apns adapter meets it: a receiver on 127.0.0.1 (an ephemeral port) that speaks only
HTTP/2 over TLS (ALPN "h2"; a client offering anything else is refused and counted in OUT.stats as
"not_http2") and checks each request the way APNs does, independently of journeyd's own code:

  :method POST, :scheme https, :path /3/device/<hex token>; apns-topic, apns-push-type, apns-priority (5 for
  background), apns-expiration, apns-collapse-id (at most 64 bytes), apns-id (a UUID); a JSON payload of at
  most 4096 bytes with an "aps" dictionary; and the provider token: "authorization: bearer <JWT>" whose ES256
  signature verifies with the signing key's public key, header {"alg":"ES256","kid":KEY_ID}, claims
  {"iss":TEAM_ID,"iat":…} issued within the last hour.

Every accepted send is appended to OUT as one JSON line: {"path", "headers", "body", "jwt", "iat",
"expected_apns_id"} (the UUID version 5 of the payload's touch_id in journeyd's namespace, computed here). OUT.stats
counts "connections", "sent" and the distinct "tokens" verified.

The device token's first four hex digits steer the answer, as APNs' documented reasons:
  0bad  400 BadDeviceToken            0410  410 Unregistered (with the timestamp)
  0429  429 TooManyRequests           0500  500 InternalServerError
  0ded  no answer at all (the stream stays open until the client resets it)
  0e40  403 ExpiredProviderToken the first time this device token is seen; the token presented is expired from
        then on (every later request bearing it gets the same answer), as an hour-old token would be
  0e41  403 ExpiredProviderToken always
Anything else is sent (200 with the apns-id).

Prints "READY <port>" once listening and stops when its stdin closes (or, with --port-file, writes the port
there and runs until killed).

    python3 -B apns_peer.py --out FILE --cert PEM --key PEM --public-key PEM --key-id ID --team-id ID --topic TOPIC
"""
import argparse
import base64
import json
import re
import socket
import ssl
import threading
import time
import uuid

import h2.config
import h2.connection
import h2.events
import h2.exceptions
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

import peer_state as state

# journeyd's namespace for apns-id (APNsAdapter.apnsIDNamespace).
APNS_ID_NAMESPACE = uuid.UUID("6F1C4A52-8F0E-4B1D-9A57-3C2E0D9B7A41")
UUID_SHAPE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

ARGS = None
PUBLIC_KEY = None
LOCK = state.LOCK
SEEN_TOKENS = set()
EXPIRED_TOKENS = set()
SEEN_DEVICES = set()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Refusal(Exception):
    def __init__(self, status, reason, extra=None):
        super().__init__(reason)
        self.status, self.reason, self.extra = status, reason, extra or {}


def verify_provider_token(authorization):
    """The JWT of 'bearer <JWT>', verified as APNs does; returns (jwt, claims) or raises Refusal."""
    if not authorization or not authorization.startswith("bearer "):
        raise Refusal(403, "MissingProviderToken")
    jwt = authorization[len("bearer "):]
    try:
        head, body, signature = jwt.split(".")
        header, claims = json.loads(b64url_decode(head)), json.loads(b64url_decode(body))
        raw = b64url_decode(signature)
        if len(raw) != 64:
            raise ValueError("an ES256 signature is r || s, 64 bytes")
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        PUBLIC_KEY.verify(der, (head + "." + body).encode(), ec.ECDSA(hashes.SHA256()))
    except (ValueError, InvalidSignature):
        raise Refusal(403, "InvalidProviderToken")
    if header != {"alg": "ES256", "kid": ARGS.key_id} or set(claims) != {"iss", "iat"} or claims["iss"] != ARGS.team_id:
        raise Refusal(403, "InvalidProviderToken")
    if not isinstance(claims["iat"], int) or claims["iat"] > time.time() + 60:
        raise Refusal(403, "InvalidProviderToken")
    with LOCK:
        expired = jwt in EXPIRED_TOKENS
        new = jwt not in SEEN_TOKENS
        SEEN_TOKENS.add(jwt)
    if new:
        state.count("tokens")
    if expired or claims["iat"] < time.time() - 3600:
        raise Refusal(403, "ExpiredProviderToken")
    return jwt, claims


def check(headers, body):
    """The request as APNs checks it; returns (device token, jwt, claims, payload) or raises Refusal."""
    names = [name for name, _ in headers]
    if len(names) != len(set(names)):
        raise Refusal(400, "DuplicateHeaders")
    h = dict(headers)
    if h.get(":method") != "POST":
        raise Refusal(405, "MethodNotAllowed")
    match = re.fullmatch(r"/3/device/([0-9a-fA-F]+)", h.get(":path", ""))
    if h.get(":scheme") != "https" or not match:
        raise Refusal(404, "BadPath")
    device = match.group(1)
    jwt, claims = verify_provider_token(h.get("authorization"))
    if "apns-topic" not in h:
        raise Refusal(400, "MissingTopic")
    if h["apns-topic"] != ARGS.topic:
        raise Refusal(400, "BadTopic")
    push_type = h.get("apns-push-type")
    if push_type not in ("alert", "background"):
        raise Refusal(400, "InvalidPushType")
    if h.get("apns-priority") not in ("10", "5", "1") or (push_type == "background" and h["apns-priority"] != "5"):
        raise Refusal(400, "BadPriority")
    if not h.get("apns-expiration", "").isdigit():
        raise Refusal(400, "BadExpirationDate")
    if len(h.get("apns-collapse-id", "").encode()) > 64:
        raise Refusal(400, "BadCollapseId")
    if not UUID_SHAPE.match(h.get("apns-id", "")):
        raise Refusal(400, "BadMessageId")
    if not body:
        raise Refusal(400, "PayloadEmpty")
    if len(body) > 4096:
        raise Refusal(413, "PayloadTooLarge")
    try:
        payload = json.loads(body)
        if not isinstance(payload.get("aps"), dict):
            raise ValueError("no aps")
    except (ValueError, AttributeError):
        raise Refusal(400, "BadPayload")
    if push_type == "background" and payload["aps"] != {"content-available": 1}:
        raise Refusal(400, "BadPayload")
    return device, jwt, claims, payload


def steer(device, jwt):
    """Raises the scripted refusal for this device token, if any."""
    prefix = device[:4].lower()
    if prefix == "0bad":
        raise Refusal(400, "BadDeviceToken")
    if prefix == "0410":
        raise Refusal(410, "Unregistered", {"timestamp": 1733400000000})
    if prefix == "0429":
        raise Refusal(429, "TooManyRequests")
    if prefix == "0500":
        raise Refusal(500, "InternalServerError")
    if prefix == "0e41":
        raise Refusal(403, "ExpiredProviderToken")
    if prefix == "0e40":
        with LOCK:
            first = device not in SEEN_DEVICES
            SEEN_DEVICES.add(device)
            if first:
                EXPIRED_TOKENS.add(jwt)
        if first:
            raise Refusal(403, "ExpiredProviderToken")


class Connection:
    def __init__(self, sock):
        self.sock = sock
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        self.requests = {}

    def flush(self):
        data = self.h2.data_to_send()
        if data:
            self.sock.sendall(data)

    def serve(self):
        self.h2.initiate_connection()
        self.flush()
        while True:
            data = self.sock.recv(65536)
            if not data:
                return
            for event in self.h2.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    self.requests[event.stream_id] = (event.headers, bytearray())
                elif isinstance(event, h2.events.DataReceived):
                    self.requests[event.stream_id][1].extend(event.data)
                    self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    headers, body = self.requests.pop(event.stream_id)
                    self.answer(event.stream_id, headers, bytes(body))
                elif isinstance(event, h2.events.StreamReset):
                    self.requests.pop(event.stream_id, None)
            self.flush()

    def answer(self, stream_id, headers, body):
        try:
            device, jwt, claims, payload = check(headers, body)
            steer(device, jwt)
        except Refusal as refusal:
            data = json.dumps(dict({"reason": refusal.reason}, **refusal.extra)).encode()
            apns_id = dict(headers).get("apns-id", str(uuid.uuid4()))
            self.h2.send_headers(stream_id, [(":status", str(refusal.status)), ("apns-id", apns_id),
                                             ("content-type", "application/json"), ("content-length", str(len(data)))])
            self.h2.send_data(stream_id, data, end_stream=True)
            return
        if device[:4].lower() == "0ded":
            return  # never answered
        h = dict(headers)
        entry = {"path": h[":path"], "headers": {k: v for k, v in headers if k != "authorization"}, "body": body.decode(),
                 "jwt": jwt, "iat": claims["iat"],
                 "expected_apns_id": str(uuid.uuid5(APNS_ID_NAMESPACE, str(payload.get("touch_id", ""))))}
        state.record(entry)
        state.count("sent")
        self.h2.send_headers(stream_id, [(":status", "200"), ("apns-id", h["apns-id"])], end_stream=True)


def handle(raw, context):
    state.count("connections")
    try:
        sock = context.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError):
        raw.close()
        return
    try:
        if sock.selected_alpn_protocol() != "h2":
            state.count("not_http2")
            return
        Connection(sock).serve()
    except (OSError, h2.exceptions.ProtocolError):
        pass
    finally:
        sock.close()


def main():
    global ARGS, PUBLIC_KEY
    parser = argparse.ArgumentParser()
    for name in ("--out", "--cert", "--key", "--public-key", "--key-id", "--team-id", "--topic"):
        parser.add_argument(name, required=True)
    parser.add_argument("--port-file", default="", help="write the port here and run until killed (daemon tests)")
    ARGS = state.ARGS = parser.parse_args()
    state.STATS = {"connections": 0, "sent": 0, "tokens": 0, "not_http2": 0}
    with open(ARGS.public_key, "rb") as f:
        PUBLIC_KEY = serialization.load_pem_public_key(f.read())
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(ARGS.cert, ARGS.key)
    context.set_alpn_protocols(["h2"])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)

    def accept():
        while True:
            raw, _ = listener.accept()
            threading.Thread(target=handle, args=(raw, context), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    state.announce(listener.getsockname()[1], ARGS.port_file)
    listener.close()


if __name__ == "__main__":
    main()
