#!/usr/bin/python3
"""RPC round-trip benchmark: virDomainGetInfo calls per second from python3-libvirt clients, and the
daemon's own CPU time per call (user+sys from /proc/PID/stat).

usage: rpc_getinfo.py URI DAEMON_PID [URI DAEMON_PID ...] THREADS SECONDS
       → one JSON line per daemon, in the order given

Each thread opens its own connection to each daemon (a separate client) and calls info() on
domain 'test' in a loop. With several daemons the run is split into slices (BENCH_SLICE seconds,
default 0.25) that take turns: during a slice every thread calls only that slice's daemon, so the
daemons are measured in the same conditions (a shared machine's load changes from second to
second) for SECONDS each. A daemon's CPU per call is its CPU time over the whole run (it is idle
outside its slices) divided by its calls; the client's CPU per call is the client's CPU during
the daemon's slices divided by the same calls. Any error fails the run.
"""
import json
import os
import sys
import threading
import time

import libvirt

args = sys.argv[1:]
if len(args) < 4 or len(args) % 2:
    sys.exit(__doc__)
threads, seconds = int(args[-2]), float(args[-1])
daemons = [(args[i], int(args[i + 1])) for i in range(0, len(args) - 2, 2)]
SLICE = float(os.environ.get("BENCH_SLICE", "0.25")) if len(daemons) > 1 else seconds
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(p):
    with open(f"/proc/{p}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime, stime are fields 14 and 15 (1-based) of the whole line; after the comm they are 12/13.
    return (int(fields[11]) + int(fields[12])) / TICK


def own_cpu():
    t = os.times()
    return t.user + t.system


n = len(daemons)
conns = [[libvirt.open(uri) for uri, _ in daemons] for _ in range(threads)]
doms = [[c.lookupByName("test") for c in row] for row in conns]
counts = [[0] * n for _ in range(threads)]
errors = [[] for _ in range(n)]
start_evt = threading.Event()
phase = [0]
running = [True]


def worker(i):
    d, c = doms[i], counts[i]
    start_evt.wait()
    p = 0
    try:
        while running[0]:
            p = phase[0]
            d[p].info()
            c[p] += 1
    except libvirt.libvirtError as e:
        errors[p].append(str(e))


ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
for t in ts:
    t.start()
wall = [0.0] * n
client = [0.0] * n
daemon0 = [cpu_seconds(pid) for _, pid in daemons]
start_evt.set()
k = 0
while min(wall) < seconds:
    p = k % n
    k += 1
    if wall[p] >= seconds:
        continue
    phase[0] = p
    t0, c0 = time.monotonic(), own_cpu()
    time.sleep(min(SLICE, seconds - wall[p]))
    wall[p] += time.monotonic() - t0
    client[p] += own_cpu() - c0
running[0] = False
for t in ts:
    t.join()
daemon1 = [cpu_seconds(pid) for _, pid in daemons]
for row in conns:
    for c in row:
        c.close()
for p, (uri, _) in enumerate(daemons):
    calls = sum(c[p] for c in counts)
    print(json.dumps({
        "uri": uri, "threads": threads, "calls": calls, "seconds": wall[p],
        "errors": len(errors[p]), "calls_per_sec": calls / wall[p],
        "daemon_cpu_us_per_call": (daemon1[p] - daemon0[p]) * 1e6 / max(calls, 1),
        "client_cpu_us_per_call": client[p] * 1e6 / max(calls, 1),
    }))
failed = [e[0] for e in errors if e]
if failed:
    print(failed[0], file=sys.stderr)
    sys.exit(1)
