"""What the cloud and APNs peers' parts share: their arguments, one lock, the counters (OUT.stats), the record
of accepted sends (OUT, one JSON line each) and how a peer tells the test where it listens."""
import json
import os
import sys
import threading
import time

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




def announce(port, port_file):
    """Prints "READY <port>" and returns when stdin closes; or, with a port file (daemon tests), writes the port
    there and runs until killed."""
    if port_file:
        with open(port_file + ".tmp", "w") as f:
            f.write(str(port))
        os.rename(port_file + ".tmp", port_file)
        while True:
            time.sleep(3600)
    print("READY %d" % port, flush=True)
    sys.stdin.read()
