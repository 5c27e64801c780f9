#!/usr/bin/python3
"""RPC round-trip benchmark: virDomainGetInfo calls per second from python3-libvirt clients, and the
daemon's own CPU time per call (user+sys from /proc/PID/stat).

usage: rpc_getinfo.py URI DAEMON_PID THREADS SECONDS   → prints one JSON line
Each thread opens its own connection (a separate client) and calls info() on domain 'test' in a
loop until the time is up. Any error fails the run.
"""
import json
import os
import sys
import threading
import time

import libvirt

uri, pid, threads, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(p):
    with open(f"/proc/{p}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime, stime are fields 14 and 15 (1-based) of the whole line; after the comm they are 12/13.
    return (int(fields[11]) + int(fields[12])) / TICK


conns = [libvirt.open(uri) for _ in range(threads)]
doms = [c.lookupByName("test") for c in conns]
counts = [0] * threads
errors = []
start_evt = threading.Event()
stop_at = [0.0]


def worker(i):
    d = doms[i]
    start_evt.wait()
    n = 0
    try:
        while time.monotonic() < stop_at[0]:
            d.info()
            n += 1
    except libvirt.libvirtError as e:
        errors.append(str(e))
    counts[i] = n


ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
for t in ts:
    t.start()
cpu0 = cpu_seconds(pid)
me0 = os.times()
t0 = time.monotonic()
stop_at[0] = t0 + seconds
start_evt.set()
for t in ts:
    t.join()
elapsed = time.monotonic() - t0
cpu1 = cpu_seconds(pid)
me1 = os.times()
for c in conns:
    c.close()
calls = sum(counts)
print(json.dumps({
    "threads": threads, "calls": calls, "seconds": elapsed, "errors": len(errors),
    "calls_per_sec": calls / elapsed, "daemon_cpu_us_per_call": (cpu1 - cpu0) * 1e6 / max(calls, 1),
    "client_cpu_us_per_call": ((me1.user + me1.system) - (me0.user + me0.system)) * 1e6 / max(calls, 1),
}))
if errors:
    print(errors[0], file=sys.stderr)
    sys.exit(1)
