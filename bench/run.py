#!/usr/bin/python3
"""Runs the benchmarks beside Debian's libvirtd 9.0 on this machine and writes BENCHMARKS.md.

usage: bench/run.py [--seconds N]     (build first: cargo build --release -p rvirtd)
Both daemons serve the test driver on temporary sockets; the same python3-libvirt client measures
virDomainGetInfo round trips with 1, 16 and 64 client threads (one connection each).
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


def measure(kind, threads_list, seconds):
    d = tempfile.mkdtemp(prefix=f"rvirt-bench-{kind}-")
    pid, stop = (start_libvirtd if kind == "libvirtd" else start_rvirtd)(d)
    # Hold one connection so test:///default state lives for the whole run.
    holder = subprocess.Popen(["virsh", "-c", f"test+unix:///default?socket={d}/libvirt-sock",
                               "event", "--all", "--loop"], stdout=subprocess.DEVNULL)
    try:
        rss = int([l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0].split()[1])
        out = {"rss_kib_idle": rss}
        for t in threads_list:
            r = subprocess.run([f"{ROOT}/bench/rpc_getinfo.py",
                                f"test+unix:///default?socket={d}/libvirt-sock", str(pid), str(t),
                                str(seconds)], capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit(f"{kind} {t} threads failed: {r.stderr}")
            out[t] = json.loads(r.stdout)
        return out
    finally:
        holder.terminate()
        holder.wait()
        stop()
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    threads = [1, 16, 64]
    lv = measure("libvirtd", threads, args.seconds)
    rv = measure("rvirtd", threads, args.seconds)
    rows = []
    for t in threads:
        a, b = lv[t], rv[t]
        rows.append(f"| {t} | {a['calls_per_sec']:.0f} | {b['calls_per_sec']:.0f} | "
                    f"**{b['calls_per_sec'] / a['calls_per_sec']:.2f}×** | "
                    f"{a['daemon_cpu_us_per_call']:.1f} | {b['daemon_cpu_us_per_call']:.1f} | "
                    f"**{b['daemon_cpu_us_per_call'] / a['daemon_cpu_us_per_call']:.2f}** | "
                    f"{a['errors']} / {b['errors']} |")
    md = f"""# Benchmarks

Produced by `bench/run.py --seconds {args.seconds:g}` on {datetime.date.today()} ({platform.node()},
{os.cpu_count()} CPUs, {platform.platform()}). Re-run it to refresh this file; numbers from other
machines are not comparable.

## RPC round trip: `virDomainGetInfo` (test driver)

The same python3-libvirt client (Debian's python3-libvirt 9.0) calls `dom.info()` in a loop, one
connection per thread, against Debian's libvirtd 9.0 and against rvirtd (release build), both
serving `test:///default` on a temporary UNIX socket. Daemon CPU is user+sys of the daemon process
from `/proc/PID/stat` over the run, divided by the calls made. Targets (brief §6): ≥ 2× libvirtd's
calls per second, ≤ ¼ of its CPU per call.

| client threads | libvirtd calls/s | rvirtd calls/s | ratio | libvirtd CPU µs/call | rvirtd CPU µs/call | CPU ratio | errors (lv / rv) |
|---:|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

Idle daemon RSS after start-up with one client connected: libvirtd {lv['rss_kib_idle']} KiB,
rvirtd {rv['rss_kib_idle']} KiB.

Note: with 2 cores the client (python, one thread per connection) competes with the daemon for
CPU, so calls/s at high thread counts is bounded by the client as much as by the daemon; the CPU
per call column isolates the daemon's own cost.
"""
    with open(f"{ROOT}/BENCHMARKS.md", "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
