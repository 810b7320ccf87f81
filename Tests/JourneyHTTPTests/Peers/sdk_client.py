#!/usr/bin/env python3
"""Sends Segment-spec events (one JSON object per line of a file) to journeyd's HTTP input through a
real analytics SDK: segment-analytics-python or rudder-sdk-python, each with its own batching, gzip,
retry and back-off. Each event goes through the SDK call of its type (track, identify, page, screen,
group, alias) with its messageId and timestamp, so the daemon sees what the SDK makes of it.

Prints one JSON line: {"sdk": ..., "sent": N, "errors": [...]}; exits 1 when the SDK reported an error.
"""
import argparse
import json
import sys
from datetime import datetime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sdk", choices=["segment", "rudder"], required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--events", required=True)
    ap.add_argument("--gzip", action="store_true")
    ap.add_argument("--upload-size", type=int, default=100)
    args = ap.parse_args()

    errors = []

    def on_error(error, batch):
        errors.append(f"{error} ({len(batch)} events)")

    if args.sdk == "segment":
        from segment.analytics import Client
        client = Client(args.key, host=args.url, on_error=on_error, gzip=args.gzip, upload_size=args.upload_size,
                        max_retries=20, max_total_backoff_duration=120)
    else:
        from rudderstack.analytics import Client
        client = Client(args.key, host=args.url, on_error=on_error, gzip=args.gzip, upload_size=args.upload_size,
                        max_retries=20)

    sent = 0
    with open(args.events) as lines:
        for line in lines:
            if not line.strip():
                continue
            e = json.loads(line)
            common = dict(context=e.get("context"), message_id=e["messageId"],
                          timestamp=datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")))
            kind = e.get("type")
            user = e.get("userId")
            if kind == "track":
                client.track(user_id=user, event=e["event"], properties=e.get("properties"),
                             anonymous_id=e.get("anonymousId"), **common)
            elif kind == "identify":
                client.identify(user_id=user, traits=e.get("traits"), anonymous_id=e.get("anonymousId"), **common)
            elif kind == "page":
                client.page(user_id=user, name=e.get("name"), properties=e.get("properties"),
                            anonymous_id=e.get("anonymousId"), **common)
            elif kind == "screen":
                client.screen(user_id=user, name=e.get("name"), properties=e.get("properties"),
                              anonymous_id=e.get("anonymousId"), **common)
            elif kind == "group":
                client.group(user_id=user, group_id=e["groupId"], traits=e.get("traits"),
                             anonymous_id=e.get("anonymousId"), **common)
            elif kind == "alias":
                client.alias(previous_id=e["previousId"], user_id=user, **common)
            else:
                raise SystemExit(f"unknown type {kind!r}")
            sent += 1
    client.flush()
    client.join()
    print(json.dumps({"sdk": args.sdk, "sent": sent, "errors": errors}))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
