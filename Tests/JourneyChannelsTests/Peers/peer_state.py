"""What the cloud peer's parts share: its arguments, one lock, the counters (OUT.stats) and the record of
accepted sends (OUT, one JSON line each)."""
import json
import threading

ARGS = None
LOCK = threading.Lock()
STATS = {"token_fetches": 0}


def count(name):
    with LOCK:
        STATS[name] = STATS.get(name, 0) + 1
        with open(ARGS.out + ".stats", "w") as f:
            json.dump(STATS, f)
        return STATS[name]


def record(entry):
    with LOCK:
        with open(ARGS.out, "a") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")


