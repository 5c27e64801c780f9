#!/usr/bin/python3
"""Runs the benchmarks beside Debian's libvirtd 9.0 on this machine and writes BENCHMARKS.md.

usage: bench/run.py [--seconds N] [--reps N] [--out FILE]
       (build first: cargo build --release -p rvirtd; RVIRTD=path overrides the binary)

Both daemons serve the test driver on temporary sockets, side by side for the whole run. Two
clients measure virDomainGetInfo round trips with 1, 16 and 64 client threads (one connection
per thread and daemon): Debian's python3-libvirt (bench/rpc_getinfo.py), and bench/rawclient.c,
a C client that speaks the RPC frames itself and costs a few microseconds per call, to show what
the daemons do when the client is not the bottleneck. Each run is paired: the client takes turns
between the two daemons in quarter-second slices (libvirtd first in odd rounds, rvirtd first in
even ones), so both see the same machine load, which on a shared machine changes from second to
second. Every configuration is measured --reps times; the tables give medians, and the ratio
range over the rounds shows the noise.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THREADS = [1, 16, 64]
KINDS = ["libvirtd", "rvirtd"]


def start_libvirtd(d):
    pid = subprocess.check_output([f"{ROOT}/scripts/ref-libvirtd.sh", "start", d], text=True).strip()
    return int(pid), lambda: subprocess.call([f"{ROOT}/scripts/ref-libvirtd.sh", "stop", d])


def start_rvirtd(d):
    exe = os.environ.get("RVIRTD", f"{ROOT}/target/release/rvirtd")
    conf = f"{d}/rvirtd.conf"
    with open(conf, "w") as f:
        f.write(f'unix_sock_dir = "{d}"\nlisten_libvirt_paths = 1\nunix_sock_rw_perms = "0777"\n'
                "max_client_requests = 16\n")
    p = subprocess.Popen([exe, "--config", conf, "--pid-file", f"{d}/rvirtd.pid"],
                         stdout=subprocess.DEVNULL, stderr=open(f"{d}/rvirtd.log", "w"))
    for _ in range(200):
        if os.path.exists(f"{d}/libvirt-sock"):
            break
        time.sleep(0.05)
    else:
        raise SystemExit("rvirtd did not start; see " + d + "/rvirtd.log")

    def stop():
        p.terminate()
        p.wait(10)
    return p.pid, stop


class Daemon:
    """One daemon on a temporary socket, with a virsh client holding test:///default open."""

    def __init__(self, kind):
        self.kind = kind
        self.dir = tempfile.mkdtemp(prefix=f"rvirt-bench-{kind}-")
        self.pid, self._stop = (start_libvirtd if kind == "libvirtd" else start_rvirtd)(self.dir)
        self.socket = f"{self.dir}/libvirt-sock"
        self.uri = f"test+unix:///default?socket={self.socket}"
        # Hold one connection so test:///default state lives for the whole run.
        self.holder = subprocess.Popen(["virsh", "-c", self.uri, "event", "--all", "--loop"],
                                       stdout=subprocess.DEVNULL)
        time.sleep(0.5)
        self.rss_kib = int([line for line in open(f"/proc/{self.pid}/status")
                            if line.startswith("VmRSS")][0].split()[1])

    def stop(self):
        self.holder.terminate()
        self.holder.wait()
        self._stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_client(client, ds, threads, seconds, rawclient):
    """One paired run: the client takes turns between the daemons `ds` (slices of
    BENCH_SLICE seconds) until each has had `seconds`; returns one result per daemon."""
    targets = [a for d in ds for a in ((d.uri if client == "python" else d.socket), str(d.pid))]
    exe = [f"{ROOT}/bench/rpc_getinfo.py"] if client == "python" else [rawclient]
    r = subprocess.run(exe + targets + [str(threads), str(seconds)], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{client} client, {threads} threads failed: {r.stderr}{r.stdout}")
    load = os.getloadavg()[0]
    out = [json.loads(line) for line in r.stdout.splitlines()]
    for o in out:
        o["load"] = load
    return out


def median(runs, key):
    return statistics.median(r[key] for r in runs)


def summary(results, client, t):
    """Medians of one row, the ratios, and the ceiling: the most any daemon could make of the
    calls/s ratio with this client in these conditions. A daemon that cost nothing would save
    rvirtd's CPU per call and nothing else; rvirtd's calls/s can then grow at most by
    (client + daemon) / client CPU per call (CPU-bound: fewer µs per call; one call at a time:
    shorter round trips; client-bound: not at all)."""
    lv, rv = results[(client, "libvirtd", t)], results[(client, "rvirtd", t)]
    m = {f"{k}_{key}": median(runs, key) for k, runs in (("lv", lv), ("rv", rv))
         for key in ("calls_per_sec", "daemon_cpu_us_per_call", "client_cpu_us_per_call")}
    m["speed"] = m["rv_calls_per_sec"] / m["lv_calls_per_sec"]
    m["cpu"] = m["rv_daemon_cpu_us_per_call"] / m["lv_daemon_cpu_us_per_call"]
    m["ceiling"] = m["speed"] * ((m["rv_client_cpu_us_per_call"] + m["rv_daemon_cpu_us_per_call"])
                                 / m["rv_client_cpu_us_per_call"])
    m["speeds"] = [b["calls_per_sec"] / a["calls_per_sec"] for a, b in zip(lv, rv)]
    m["cpus"] = [b["daemon_cpu_us_per_call"] / a["daemon_cpu_us_per_call"] for a, b in zip(lv, rv)]
    m["errors"] = (sum(r["errors"] for r in lv), sum(r["errors"] for r in rv))
    return m


def table(results, client, reps):
    rng = (lambda v: f"{min(v):.2f}–{max(v):.2f}") if reps > 1 else (lambda v: "")
    rows = []
    for t in THREADS:
        m = summary(results, client, t)
        rows.append(
            f"| {t} | {m['lv_calls_per_sec']:.0f} | {m['rv_calls_per_sec']:.0f} | "
            f"**{m['speed']:.2f}×** | {rng(m['speeds'])} | {m['ceiling']:.2f}× | "
            f"{m['lv_daemon_cpu_us_per_call']:.1f} | {m['rv_daemon_cpu_us_per_call']:.1f} | "
            f"**{m['cpu']:.2f}** | {rng(m['cpus'])} | "
            f"{m['lv_client_cpu_us_per_call']:.1f} / {m['rv_client_cpu_us_per_call']:.1f} | "
            f"{m['errors'][0]} / {m['errors'][1]} |")
    head = ("| client threads | libvirtd calls/s | rvirtd calls/s | ratio | (rounds) | ceiling | "
            "libvirtd CPU µs/call | rvirtd CPU µs/call | CPU ratio | (rounds) | "
            "client CPU µs/call (lv / rv) | errors (lv / rv) |\n"
            "|---:|---:|---:|---:|:--:|---:|---:|---:|---:|:--:|---:|---:|")
    return head + "\n" + "\n".join(rows)


def verdict(results, client):
    """What the rows of one table say about the targets, in sentences."""
    rows = {t: summary(results, client, t) for t in THREADS}
    cpu_ok = [t for t in THREADS if rows[t]["cpu"] <= 0.25]
    fast = [t for t in THREADS if rows[t]["speed"] >= 2]
    slow = [t for t in THREADS if rows[t]["speed"] < 2]
    threads = lambda ts: ", ".join(str(t) for t in ts) + (" thread" if ts == [1] else " threads")
    out = []
    if len(cpu_ok) == len(THREADS):
        out.append("CPU per call: ≤ ¼ of libvirtd's in every row.")
    else:
        out.append(f"CPU per call: ≤ ¼ of libvirtd's with {threads(cpu_ok) if cpu_ok else 'no thread count'}, "
                   f"not with {threads([t for t in THREADS if t not in cpu_ok])}.")
    if not slow:
        out.append("Calls/s: ≥ 2× libvirtd's in every row.")
    else:
        if fast:
            out.append(f"Calls/s: ≥ 2× libvirtd's with {threads(fast)}.")
        for t in slow:
            m = rows[t]
            share = m["rv_daemon_cpu_us_per_call"] / (m["rv_daemon_cpu_us_per_call"] + m["rv_client_cpu_us_per_call"])
            head = (f"With {t} threads the median ratio is {m['speed']:.2f}× (rounds "
                    f"{min(m['speeds']):.2f}–{max(m['speeds']):.2f}×). rvirtd's CPU is "
                    f"{m['rv_daemon_cpu_us_per_call']:.1f} µs of the "
                    f"{m['rv_daemon_cpu_us_per_call'] + m['rv_client_cpu_us_per_call']:.1f} µs a call costs "
                    f"(client + daemon, {100 * share:.0f}%)")
            if m["ceiling"] < 2:
                out.append(f"{head}: a daemon costing nothing would reach at most {m['ceiling']:.2f}×, "
                           "so 2× is out of reach for any daemon with this client here.")
            else:
                out.append(f"{head}: a daemon costing nothing could reach up to {m['ceiling']:.2f}×.")
    return " ".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default=f"{ROOT}/BENCHMARKS.md")
    args = ap.parse_args()

    build = tempfile.mkdtemp(prefix="rvirt-bench-build-")
    rawclient = f"{build}/rawclient"
    subprocess.check_call(["cc", "-O2", "-pthread", "-o", rawclient, f"{ROOT}/bench/rawclient.c"])

    load_start = os.getloadavg()
    started = time.monotonic()
    daemons = {}
    results = {}
    try:
        for kind in KINDS:
            daemons[kind] = Daemon(kind)
        for rep in range(args.reps):
            order = KINDS if rep % 2 == 0 else KINDS[::-1]
            for client in ["python", "raw"]:
                for t in THREADS:
                    runs = run_client(client, [daemons[k] for k in order], t, args.seconds, rawclient)
                    for kind, r in zip(order, runs):
                        results.setdefault((client, kind, t), []).append(r)
                        print(f"round {rep + 1} {client:6} {kind:8} {t:2} threads: "
                              f"{r['calls_per_sec']:8.0f} calls/s, daemon {r['daemon_cpu_us_per_call']:5.1f} µs/call, "
                              f"client {r['client_cpu_us_per_call']:5.1f} µs/call, load {r['load']:.2f}",
                              flush=True)
    finally:
        for d in daemons.values():
            d.stop()
        shutil.rmtree(build, ignore_errors=True)
    load_end = os.getloadavg()
    minutes = (time.monotonic() - started) / 60
    every = [r["load"] for runs in results.values() for r in runs]
    loads = (min(every), max(every))

    md = f"""# Benchmarks

Produced by `bench/run.py --seconds {args.seconds:g} --reps {args.reps}` on {datetime.date.today()}
({platform.node()}, {os.cpu_count()} CPUs, {platform.platform()}), in {minutes:.0f} minutes.
Load average (1 min): {load_start[0]:.2f} at the start, {loads[0]:.2f}–{loads[1]:.2f} after the
runs, {load_end[0]:.2f} at the end. The machine is shared, so expect noise; re-run to refresh this
file. Numbers from other machines are not comparable.

## RPC round trip: `virDomainGetInfo` (test driver)

Both daemons serve `test:///default` on temporary UNIX sockets, side by side: Debian's libvirtd
9.0 and rvirtd (release build). Each client thread has its own connection to each daemon and
calls `virDomainGetInfo` in a loop, one call at a time. A run is paired: the client takes turns
between the daemons in 0.25 s slices, every thread calling only that slice's daemon, until each
daemon has had {args.seconds:g} s, so both see the same machine load. Daemon CPU is user+sys of the
daemon process from `/proc/PID/stat` over the run (it is idle outside its slices), divided by
its calls; client CPU is the client process's own during that daemon's slices, divided the same
way. Every configuration ran {args.reps} times: the tables show medians, and "(rounds)" the range
of the per-round ratios. Targets (brief §6): ≥ 2× libvirtd's calls per second, ≤ ¼ of its CPU
per call.

### python3-libvirt client (the benchmark of the brief)

Debian's python3-libvirt 9.0, `dom.info()` (`bench/rpc_getinfo.py`).

{table(results, "python", args.reps)}

### C client on raw RPC frames

`bench/rawclient.c`: the same calls, framed by hand, waiting for each reply with `poll()` as
libvirt's client library does; it costs a few µs of CPU per call instead of 20–30.

{table(results, "raw", args.reps)}

Idle daemon RSS after start-up with one client connected: libvirtd {daemons['libvirtd'].rss_kib} KiB,
rvirtd {daemons['rvirtd'].rss_kib} KiB.

## Reading the numbers

"ceiling" is the most any daemon could make of the calls/s ratio with that client in the same
conditions: a daemon that cost no CPU at all would save rvirtd's CPU per call and nothing else,
so rvirtd's calls/s could grow at most by (client + daemon CPU) / client CPU per call — that much
when the CPUs are the limit, less when the round trip is waiting (one call at a time) and not at
all when the client itself is the limit (python3-libvirt's threads share one interpreter lock).

python3-libvirt: {verdict(results, "python")}

Raw client: {verdict(results, "raw")}
"""
    # Keep the guest-start section bench/start_overhead.py writes (and the analysis after it).
    marker = "<!-- bench/start_overhead.py: begin -->"
    if os.path.exists(args.out):
        old = open(args.out).read()
        if marker in old:
            md = md.rstrip("\n") + "\n\n" + old[old.index(marker):]
    with open(args.out, "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
