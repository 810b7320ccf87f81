#!/usr/bin/env python3
"""Cluster mode against embedded mode, in the same run (issue 13's benchmark report).

Starts a nats-server (JetStream, loopback) and a PostgreSQL 15 (Unix socket in a temporary directory),
then for each mode — embedded, and 1, 2, 3 cluster instances — a fresh journeyd (a fresh nats-server
and database per cluster run), streams the same events through the instances' Unix sockets (split evenly,
one sender per instance, chunks of CHUNK lines, each line answered "ok" once durable), and measures
until every event is applied (the instances' `journeyd status`: events summed) the wall time, and the
CPU time of the journeyd processes, of nats-server and of PostgreSQL from /proc. Optionally profiles one
instance of the 1-instance run with `perf record -g` and keeps the top of `perf report`.

Figures are for comparing the modes against each other on the same machine in the same run: a shared,
noisy machine makes absolute rates vary from run to run.

usage: bench/cluster_bench.py [--binary .build/release/journeyd] [--events 200000] [--partitions 64]
                              [--perf] [--modes 0,1,2,3] [--out reports/cluster-benchmark-TIME.md]
"""
import argparse, glob, json, os, shutil, signal, socket, subprocess, sys, tempfile, threading, time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG = "/usr/lib/postgresql/15/bin"
TICK = os.sysconf("SC_CLK_TCK")
CHUNK = 2000
IDLE = 10  # seconds of idle CPU measured after each mode's run
RUNNING = []  # every journeyd started, killed at the end whatever happens


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total / TICK


def children(pid):
    """pid and every process below it (PostgreSQL's backends)."""
    found, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for path in glob.glob("/proc/[0-9]*/stat"):
            try:
                fields = open(path).read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            child = int(path.split("/")[2])
            if int(fields[1]) == parent and child not in found:
                found.add(child)
                frontier.append(child)
    return found


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, check, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"cluster_bench: {what} did not happen within {timeout} s")


def send(lines, path):
    """Streams lines to a journeyd event socket in chunks; every line must be answered ok."""
    for start in range(0, len(lines), CHUNK):
        chunk = lines[start:start + CHUNK]
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(path)
            s.sendall(("\n".join(chunk) + "\n").encode())
            s.shutdown(socket.SHUT_WR)
            answer = b""
            while True:
                data = s.recv(65536)
                if not data:
                    break
                answer += data
        answers = answer.decode().split("\n")[:-1]
        bad = [a for a in answers if not a.startswith("ok ")]
        if len(answers) != len(chunk) or bad:
            raise SystemExit(f"cluster_bench: {path}: {len(answers)} answers to {len(chunk)} lines, e.g. {bad[:1]}")


class Servers:
    def __init__(self, root):
        self.root = root
        self.nats, self.runs = None, 0
        self.fresh_nats()
        self.pg_dir = os.path.join(root, "pg")
        os.makedirs(self.pg_dir)
        as_root = os.getuid() == 0
        self.prefix = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] if as_root else []
        if as_root:
            shutil.chown(root, "postgres", "postgres")
            shutil.chown(self.pg_dir, "postgres", "postgres")
        subprocess.run(self.prefix + [PG + "/initdb", "-D", self.pg_dir + "/data", "-U", "journeyd", "-A", "trust", "--no-sync"],
                       check=True, stdout=subprocess.DEVNULL)
        self.pg_port = free_port()
        # PostgreSQL as shipped (fsync on): the cluster's commits are durable, like the embedded log's.
        self.postgres = subprocess.Popen(
            self.prefix + [PG + "/postgres", "-D", self.pg_dir + "/data", "-k", self.pg_dir, "-c", "listen_addresses=",
                           "-p", str(self.pg_port), "-c", "max_connections=200"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(root, "postgres.log"), "w"))
        wait_for("PostgreSQL ready", lambda: subprocess.run(
            [PG + "/pg_isready", "-h", self.pg_dir, "-p", str(self.pg_port)], stdout=subprocess.DEVNULL).returncode == 0)

    def fresh_nats(self):
        """A new nats-server on an empty store: every stream uses the subjects journeyd.events.*."""
        if self.nats:
            self.nats.send_signal(signal.SIGINT)
            self.nats.wait(30)
        self.runs += 1
        self.nats_port = free_port()
        nats_dir = os.path.join(self.root, f"nats-{self.runs}")
        os.makedirs(nats_dir)
        self.nats = subprocess.Popen(
            ["nats-server", "-js", "-a", "127.0.0.1", "-p", str(self.nats_port), "-sd", nats_dir],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.root, f"nats-{self.runs}.log"), "w"))
        wait_for("nats-server listening", lambda: socket.socket().connect_ex(("127.0.0.1", self.nats_port)) == 0)

    def createdb(self, name):
        subprocess.run([PG + "/createdb", "-h", self.pg_dir, "-p", str(self.pg_port), "-U", "journeyd", name], check=True)

    def cpu(self):
        return cpu_seconds([self.nats.pid]), cpu_seconds(children(self.postgres.pid))

    def stop(self):
        for p in (self.nats, self.postgres):
            p.send_signal(signal.SIGINT)
        for p in (self.nats, self.postgres):
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


def status(binary, control):
    out = subprocess.run([binary, "status", "--json", "--control", control], capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 else None


def run_mode(binary, servers, root, lines, instances, partitions, perf):
    """instances 0: embedded. Returns the figures."""
    mode = "embedded" if instances == 0 else f"cluster x{instances}"
    work = os.path.join(root, mode.replace(" ", "-"))
    rules = os.path.join(work, "rules")
    shutil.copytree(os.path.join(REPO, "bench/rules"), rules)
    with open(os.path.join(rules, "channels.yaml"), "w") as f:
        f.write("channels:\n  - { name: email, type: file, path: touches.jsonl }\n  - { name: wecom, type: file, path: touches.jsonl }\n")
    if instances:
        servers.fresh_nats()
        db = f"journeyd_{instances}"
        servers.createdb(db)
        with open(os.path.join(work, "dsn"), "w") as f:
            f.write(f"postgresql://journeyd@/{db}?host={servers.pg_dir}&port={servers.pg_port}\n")
        with open(os.path.join(rules, "journeyd.yaml"), "a") as f:
            f.write(f"\ncluster:\n  partitions: {partitions}\n  stream: BENCH{instances}\n"
                    f"  nats: {{ url: \"nats://127.0.0.1:{servers.nats_port}\" }}\n  postgres: {{ dsn_file: \"{work}/dsn\" }}\n")
    names = ["a", "b", "c"][:max(1, instances)]
    procs, sockets, controls = [], [], []
    for name in names:
        state = os.path.join(work, name)
        os.makedirs(state)
        sock, control = os.path.join(work, f"{name}.sock"), os.path.join(work, f"{name}.control")
        args = [binary, "run", "--rules", rules, "--state", state + "/state.sqlite", "--spool", state + "/spool",
                "--socket", sock, "--control", control, "--clock", "event"]
        if instances:
            args += ["--instance", name]
        procs.append(subprocess.Popen(args, stdout=open(os.path.join(work, f"{name}.log"), "w"), stderr=subprocess.STDOUT))
        RUNNING.append(procs[-1])
        sockets.append(sock)
        controls.append(control)
    wait_for(f"{mode}: sockets", lambda: all(os.path.exists(s) and os.path.exists(c) for s, c in zip(sockets, controls)))

    def spread():
        counts = []
        for c in controls:
            s = status(binary, c)
            if not s:
                return False
            counts.append(int(s.get("partitions", "0").split()[0]))
        # Every partition owned AND spread: a hand-over during the run would restart the moved partitions'
        # counters, and `applied()` (summed over owned partitions) would never reach the total.
        return sum(counts) == partitions and max(counts) <= -(-partitions // len(controls))
    if instances:
        wait_for(f"{mode}: every partition owned and spread", spread, timeout=300)

    def applied():
        return sum(int((status(binary, c) or {}).get("events", 0)) for c in controls)
    base_events = applied()
    pids = [p.pid for p in procs]
    nats0, pg0 = servers.cpu()
    cpu0 = cpu_seconds(pids)
    perf_proc = None
    if perf:
        perf_proc = subprocess.Popen(["perf", "record", "-F", "499", "-g", "-o", os.path.join(work, "perf.data"), "-p", str(pids[0])],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.time()
    # Round-robin by chunk, not by line, so that each sender's chunks are whole.
    chunks = [lines[i:i + CHUNK] for i in range(0, len(lines), CHUNK)]
    parts = [[l for c in chunks[i::len(names)] for l in c] for i in range(len(names))]
    threads = [threading.Thread(target=send, args=(part, s)) for part, s in zip(parts, sockets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    acknowledged = time.time() - started
    wait_for(f"{mode}: every event applied", lambda: applied() - base_events >= len(lines), timeout=1800)
    elapsed = time.time() - started
    cpu = cpu_seconds(pids) - cpu0
    nats1, pg1 = servers.cpu()
    profile = ""
    if perf_proc:
        perf_proc.send_signal(signal.SIGINT)
        perf_proc.wait()
        report = subprocess.run(["perf", "report", "-i", os.path.join(work, "perf.data"), "--stdio", "--no-children",
                                 "--sort", "dso,symbol", "-g", "none", "--percent-limit", "1.5"],
                                capture_output=True, text=True).stdout
        profile = "\n".join(l.rstrip(" -") for l in report.splitlines() if l.strip() and not l.startswith("#"))[:6000]
        # Who calls the most sampled user-space symbol: its call chains above 5 %.
        top = next((l.split("[.]")[-1].strip().split()[0] for l in report.splitlines() if "[.]" in l), None)
        if top:
            callers = subprocess.run(["perf", "report", "-i", os.path.join(work, "perf.data"), "--stdio", "--no-children",
                                      "--symbols", top, "-g", "caller,5,callee,function,percent", "--percent-limit", "1"],
                                     capture_output=True, text=True).stdout
            profile += f"\n\ncallers of {top}:\n" + "\n".join(l.rstrip() for l in callers.splitlines() if l.strip() and not l.startswith("#"))[:8000]
    # Idle: what the instances and nats-server spend with nothing to do, over IDLE seconds.
    time.sleep(2)
    idle0, (idle_nats0, _) = cpu_seconds(pids), servers.cpu()
    time.sleep(IDLE)
    idle_cpu = (cpu_seconds(pids) - idle0) / IDLE * 100
    idle_nats = (servers.cpu()[0] - idle_nats0) / IDLE * 100
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(120)
        except subprocess.TimeoutExpired:
            p.kill()
    n = len(lines)
    return {
        "mode": mode, "events_per_s": n / elapsed, "ack_per_s": n / acknowledged, "elapsed": elapsed,
        "journeyd_us": cpu / n * 1e6, "nats_us": (nats1 - nats0) / n * 1e6, "pg_us": (pg1 - pg0) / n * 1e6, "profile": profile,
        "idle_cpu": idle_cpu, "idle_nats": idle_nats,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(REPO, ".build/release/journeyd"))
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=64)
    parser.add_argument("--perf", action="store_true")
    parser.add_argument("--modes", default="0,1,2,3", help="instance counts to run, 0 = embedded (the first is the baseline)")
    parser.add_argument("--out", default=os.path.join(REPO, "reports", time.strftime("cluster-benchmark-%Y%m%dT%H%M%S.md")))
    a = parser.parse_args()
    root = tempfile.mkdtemp(prefix="journeyd-cluster-bench-", dir="/tmp")
    os.chmod(root, 0o755)
    events = os.path.join(root, "events.jsonl")
    subprocess.run([a.binary, "generate", "--users", str(max(1, a.events // 20)), "--events", str(a.events), "-o", events], check=True)
    lines = open(events).read().splitlines()
    servers = Servers(root)
    results = []
    failed = None
    try:
        for instances in [int(m) for m in a.modes.split(",")]:
            r = run_mode(a.binary, servers, root, lines, instances, a.partitions, a.perf and instances == 1)
            results.append(r)
            print(f"{r['mode']}: {r['events_per_s']:,.0f} events/s applied ({r['ack_per_s']:,.0f}/s acknowledged), "
                  f"journeyd {r['journeyd_us']:.1f} µs CPU/event, nats-server {r['nats_us']:.1f}, PostgreSQL {r['pg_us']:.1f}; "
                  f"idle: journeyd {r['idle_cpu']:.1f} % CPU, nats-server {r['idle_nats']:.1f} %", flush=True)
    except RuntimeError as error:
        failed = str(error)
        print(f"{failed}; its files are kept in {root}", file=sys.stderr)
    finally:
        for p in RUNNING:
            if p.poll() is None:
                p.kill()
                p.wait()
        servers.stop()
        if not failed:
            shutil.rmtree(root, ignore_errors=True)
    if not results:
        raise SystemExit(1)
    base = results[0]
    load = open("/proc/loadavg").read().split()[0]
    out = [f"# Cluster benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "",
           f"{a.events:,} Segment events (`journeyd generate`), bench/rules, file channel, `--clock event`; P = {a.partitions};",
           f"nats-server 2.9 (JetStream, file storage) and PostgreSQL 15 (fsync on) on this machine ({os.cpu_count()} cores,",
           f"load average {load} at the end). Each mode on fresh state; events sent over the Unix socket in chunks of {CHUNK},",
           "one sender per instance. Rates: events until every event was applied (instances' status), CPU per event from /proc.", "",
           "| mode | events/s applied | vs embedded | acknowledged/s | journeyd CPU µs/event | nats-server µs/event | PostgreSQL µs/event | total µs/event | idle: journeyd / nats-server CPU % |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        total = r["journeyd_us"] + r["nats_us"] + r["pg_us"]
        out.append(f"| {r['mode']} | {r['events_per_s']:,.0f} | {r['events_per_s'] / base['events_per_s']:.2f}× | {r['ack_per_s']:,.0f} | "
                   f"{r['journeyd_us']:.1f} | {r['nats_us']:.1f} | {r['pg_us']:.1f} | {total:.1f} | {r['idle_cpu']:.1f} / {r['idle_nats']:.1f} |")
    if failed:
        out += ["", f"Stopped early: {failed}."]
    for r in results:
        if r["profile"]:
            out += ["", f"## perf profile of instance a, {r['mode']} (`perf record -g`, by DSO and symbol, ≥ 1.5 %)", "", "```", r["profile"], "```"]
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    open(a.out, "w").write("\n".join(out) + "\n")
    print(f"report: {a.out}")


if __name__ == "__main__":
    main()
