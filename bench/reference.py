#!/usr/bin/env python3
"""An independent, straightforward implementation of the three journeys in bench/rules/.

It serves two purposes:
  * correctness: on a small generated stream, `journeyd replay` must produce exactly the touches this
    script computes (checked by the Swift test suite);
  * speed: it is the "plain Python loop over the same journeys" that `journeyd replay` is benchmarked
    against (`journeyd-bench --only replay`, DESIGN.md §11). To be an honest reference it is written as a
    Python programmer would write it for speed without leaving plain Python: timestamps are read by
    slicing the fixed-format RFC 3339 text (not `strptime`, about 4x slower), each line is parsed once.

Semantics (as DESIGN.md §5 and the journey files say): events are applied in file order at their own
timestamp; a timer due at or before an event's time fires first, at its due time, earliest first (ties in
the order they were armed); after the last event the clock runs on for 400 days. Output: one line per touch,
"AT USER JOURNEY STEP", sorted.
"""
import heapq
import json
import sys
import time

CHANNEL_TYPES = {"email": "log", "wecom": "log"}  # bench/rules/channels.yaml
HOUR = 3_600_000
DAY = 24 * HOUR


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_time(text):
    # RFC 3339 with Z and milliseconds, as the generator writes it: "2025-01-06T09:30:00.000Z".
    days = days_from_civil(int(text[0:4]), int(text[5:7]), int(text[8:10]))
    seconds = days * 86400 + int(text[11:13]) * 3600 + int(text[14:16]) * 60 + int(text[17:19])
    return seconds * 1000 + int(text[20:23])


def format_time(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(ms // 1000)) + f"{ms % 1000:03d}Z"


class Reference:
    def __init__(self):
        self.timers = []          # (due, seq, user, enrollment_id)
        self.seq = 0
        self.users = {}           # user -> dict(traits, enrollments (list), cart_touches (list), vip_last)
        self.next_enrollment = 0
        self.touches = []

    def user(self, uid):
        u = self.users.get(uid)
        if u is None:
            u = {"traits": {}, "enrollments": [], "cart_touches": [], "vip_last": None}
            self.users[uid] = u
        return u

    def arm(self, due, uid, enrollment):
        self.seq += 1
        enrollment["timer"] = self.seq
        heapq.heappush(self.timers, (due, self.seq, uid, enrollment["id"]))

    def touch(self, now, uid, journey, step, channel):
        """Produces a touch unless the user closed the channel (consent: the `unsubscribed` trait is true,
        "all", the channel's name or type, or a list holding one of those). Returns whether it went out."""
        closed = self.users[uid]["traits"].get("unsubscribed")
        names = {"all", channel, CHANNEL_TYPES[channel]}
        if closed is True or (isinstance(closed, str) and closed in names) or \
                (isinstance(closed, list) and any(isinstance(c, str) and c in names for c in closed)):
            return False
        self.touches.append(f"{format_time(now)} {uid} {journey} {step}")
        return True

    def fire_until(self, limit):
        while self.timers and self.timers[0][0] <= limit:
            due, seq, uid, eid = heapq.heappop(self.timers)
            u = self.users.get(uid)
            if u is None:
                continue
            for e in u["enrollments"]:
                if e["id"] == eid and e["timer"] == seq:
                    self.on_timer(due, uid, u, e)
                    break

    def on_timer(self, now, uid, u, e):
        e["timer"] = 0
        if e["journey"] == "cart_abandonment":
            # wait_for timed out: remind, subject to the journey cap of one per 24 hours.
            u["enrollments"].remove(e)
            recent = [t for t in u["cart_touches"] if t > now - DAY]
            if len(recent) < 1 and self.touch(now, uid, "cart_abandonment", "remind", "email"):
                u["cart_touches"] = recent + [now]
        else:  # repurchase
            if e["step"] == 0:
                self.touch(now, uid, "repurchase", "day_30", "email")
                e["step"] = 1
                self.arm(now + 30 * DAY, uid, e)
            else:
                self.touch(now, uid, "repurchase", "day_60", "email")
                u["enrollments"].remove(e)

    def on_event(self, event):
        """Applies one event; returns its time."""
        now = parse_time(event["timestamp"])
        self.fire_until(now)
        uid = event.get("userId") or event.get("anonymousId")
        u = self.user(uid)
        kind = event["type"]
        if kind == "identify":
            for k, v in event.get("traits", {}).items():
                if v is None:
                    u["traits"].pop(k, None)
                else:
                    u["traits"][k] = v
            return now
        if kind != "track":
            return now
        name = event["event"]
        props = event.get("properties", {})
        if name == "purchase":
            # exit_when purchase (cart_abandonment, repurchase) ends every running enrollment.
            u["enrollments"] = [e for e in u["enrollments"] if e["journey"] not in ("cart_abandonment", "repurchase")]
            # repurchase: every purchase starts a new countdown.
            e = self.enroll(u, "repurchase", "")
            self.arm(now + 30 * DAY, uid, e)
            # vip_thanks: gold members, purchases of 100 or more, at most once per 30 days.
            price = props.get("price")
            if isinstance(price, (int, float)) and not isinstance(price, bool) and price >= 100 \
                    and u["traits"].get("tier") == "gold":
                if u["vip_last"] is None or now >= u["vip_last"] + 30 * DAY:
                    u["vip_last"] = now
                    self.touch(now, uid, "vip_thanks", "thanks", "wecom")
        elif name == "cart_add":
            price = props.get("price")
            if isinstance(price, (int, float)) and not isinstance(price, bool) and price >= 50:
                key = props.get("cart_id")
                key = "" if key is None else (key if isinstance(key, str) else json.dumps(key))
                if not any(e["journey"] == "cart_abandonment" and e["key"] == key for e in u["enrollments"]):
                    e = self.enroll(u, "cart_abandonment", key)
                    self.arm(now + HOUR, uid, e)
        return now

    def enroll(self, u, journey, key):
        self.next_enrollment += 1
        e = {"id": self.next_enrollment, "journey": journey, "key": key, "step": 0, "timer": 0}
        u["enrollments"].append(e)
        return e


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: reference.py EVENTS.jsonl")
    ref = Reference()
    last = None
    with open(sys.argv[1], "rb") as f:
        for line in f:
            t = ref.on_event(json.loads(line))
            last = t if last is None else max(last, t)
    if last is not None:
        ref.fire_until(last + 400 * DAY)
    out = sys.stdout
    for line in sorted(ref.touches):
        out.write(line + "\n")
    print(f"{len(ref.touches)} touches", file=sys.stderr)


if __name__ == "__main__":
    main()
