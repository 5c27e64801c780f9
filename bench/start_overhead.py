#!/usr/bin/python3
"""Measures what a daemon adds to a guest's start: `virsh start` → guest marker, rvirtd vs libvirtd.

usage: bench/start_overhead.py [--rounds N] [--quick] [--out FILE | --no-write] [--keep]
  Needs root (the reference libvirtd runs as qemu:///system in private mounts, through
  scripts/ref-libvirtd.sh --virtlogd). Builds rvirtd with `cargo build --release -p rvirtd`
  (CARGO_TARGET_DIR is honoured) unless RVIRTD=path names a binary. The test guest comes from
  RVIRT_TEST_GUEST_DIR or target/test-guest (scripts/build-test-guest.sh builds it if absent).
  Rewrites only its own section of BENCHMARKS.md; --quick is a smoke run (1 round, prints the
  section, writes nothing).

Four variants boot the same guest (the tests' Debian kernel + busybox initramfs, which prints
RVIRT-GUEST-READY on its serial console) under TCG:

  rvirtd     `virsh -c qemu+unix:///session?socket=… start bench` against rvirtd (release build,
             --session with private HOME/XDG directories);
  libvirtd   the same against Debian's libvirtd 9.0 (qemu:///system), same domain XML but paths;
  bare       QEMU spawned directly with the command line rvirtd gave QEMU (read from
             /proc/PID/cmdline in the warm-up round) minus -S, monitor on a socket path;
  bare-lv    the same with libvirtd's command line (minus its master key and fd passing): shows
             whether the two command lines boot alike.

A start is timed from spawning its process (virsh or QEMU) until the marker is in the guest's
serial file (a `<serial type='file'>`, a fresh file each start, watched with inotify alike for
all). Meanwhile /proc is polled every 2 ms for the guest's QEMU: when it has exec'd, when its
vCPU thread exists, and when that thread has run 2 ms — the guest executes (for a daemon, after
its `cont`). Everything after that point is the same TCG boot, whose noise on a loaded machine
dwarfs the overheads, so the overheads are reported both until the marker (the issue's measure)
and until the guest runs (the daemons' whole contribution, measured precisely). Rounds are
paired: each runs all four variants, one second apart, in the orders of a Williams square
(balanced over every 4 rounds for position and predecessor), after one uncounted warm-up
round; overheads are per-round differences daemon − bare.
"""
import argparse
import ctypes
import datetime
import json
import os
import platform
import random
import re
import select
import shlex
import shutil
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER = b"RVIRT-GUEST-READY"
BOOT_TIMEOUT = 300.0
SETTLE = 1.0  # seconds of rest before every start, after the previous guest is gone
DAEMONS = ["rvirtd", "libvirtd"]
VARIANTS = ["rvirtd", "libvirtd", "bare", "bare-lv"]
SECTION_BEGIN = "<!-- bench/start_overhead.py: begin -->"
SECTION_END = "<!-- bench/start_overhead.py: end -->"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# A fixed identity, so both daemons build the same machine (libvirt would pick random ones).
UUID = "5f0c6d1e-2a8b-4c3d-9e7f-0123456789ab"
MAC = "52:54:00:be:0c:01"


def log(msg):
    print(msg, flush=True)


# --- the guest and the domain XML ---------------------------------------------------------------


def test_guest():
    gdir = os.environ.get("RVIRT_TEST_GUEST_DIR", f"{ROOT}/target/test-guest")
    if not os.path.exists(f"{gdir}/guest.env"):
        subprocess.check_call([f"{ROOT}/scripts/build-test-guest.sh", gdir])
    env = {}
    for line in open(f"{gdir}/guest.env"):
        k, _, v = line.rstrip("\n").partition("=")
        env[k] = v.strip("'")
    return env


def domain_xml(guest, disk, serial):
    """The domain both daemons define. Everything libvirt would otherwise fill in that changes
    the command line is spelled out (machine type, CPU model, USB controller, memballoon, PCI
    addresses, MAC, UUID), so that the two daemons build the same machine."""
    def addr(slot, fn=0):
        return f"<address type='pci' domain='0x0000' bus='0x00' slot='{slot:#04x}' function='{fn:#x}'/>"
    return f"""<domain type='qemu'>
  <name>bench</name>
  <uuid>{UUID}</uuid>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc-i440fx-10.0'>hvm</type>
    <kernel>{guest["KERNEL"]}</kernel>
    <initrd>{guest["INITRD"]}</initrd>
    <cmdline>{guest["CMDLINE"]}</cmdline>
  </os>
  <features><acpi/></features>
  <cpu mode='custom' match='exact'><model fallback='forbid'>qemu64</model></cpu>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='{disk}'/>
      <target dev='vda' bus='virtio'/>
      <serial>disk0</serial>
      {addr(3)}
    </disk>
    <controller type='usb' index='0' model='piix3-uhci'>{addr(1, 2)}</controller>
    <interface type='user'>
      <mac address='{MAC}'/>
      <model type='virtio'/>
      {addr(2)}
    </interface>
    <serial type='file'>
      <source path='{serial}'/>
      <target port='0'/>
    </serial>
    <memballoon model='virtio'>{addr(4)}</memballoon>
  </devices>
</domain>
"""


# --- watching the serial file -------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
IN_MODIFY, IN_CREATE = 0x2, 0x100


class SerialWatch:
    """Waits for MARKER in one file, woken by inotify on its directory (the file need not exist
    yet), reading only what was appended since the last look."""

    def __init__(self, path):
        self.path = path
        self.fd = _libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if _libc.inotify_add_watch(self.fd, os.path.dirname(path).encode(), IN_MODIFY | IN_CREATE) < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch " + os.path.dirname(path))
        self.file = None
        self.tail = b""

    def found(self):
        try:
            while os.read(self.fd, 65536):
                pass
        except BlockingIOError:
            pass
        if self.file is None:
            try:
                self.file = open(self.path, "rb")
            except FileNotFoundError:
                return False
        data = self.tail + self.file.read()
        if MARKER in data:
            return True
        self.tail = data[-len(MARKER):]
        return False

    def close(self):
        if self.file:
            self.file.close()
        os.close(self.fd)


VCPU_RUNNING_NS = 2_000_000  # a paused (-S) QEMU's vCPU thread has run < 0.5 ms


class QemuWatch:
    """Follows the guest's QEMU from outside, the same way for every variant, by polling /proc:
    `exec` when a process created after the clock started carries `guest=bench,` in its command
    line (QEMU has replaced whatever forked it), `vcpu` when its "CPU 0/TCG" thread exists
    (QEMU named it: -name …,debug-threads=on; the machine is being built), `run` when that
    thread has run VCPU_RUNNING_NS (/proc/…/schedstat): the guest is executing — at once for a
    bare QEMU, after the daemon's `cont` for one started with -S."""

    def __init__(self):
        self.before = set(os.listdir("/proc"))
        self.pid = self.vcpu = None
        self.times = {}
        self.argv = None

    def poll(self, now):
        if self.pid is None:
            for e in os.listdir("/proc"):
                if e in self.before or not e.isdigit():
                    continue
                try:
                    argv = open(f"/proc/{e}/cmdline", "rb").read().split(b"\0")[:-1]
                except OSError:
                    continue
                if any(a.startswith(b"guest=bench,") for a in argv):
                    self.pid, self.argv = int(e), [a.decode() for a in argv]
                    self.times["exec"] = now
                    break
        if self.pid is not None and self.vcpu is None:
            try:
                for t in os.listdir(f"/proc/{self.pid}/task"):
                    if open(f"/proc/{self.pid}/task/{t}/comm").read().startswith("CPU 0/"):
                        self.vcpu = f"/proc/{self.pid}/task/{t}/schedstat"
                        self.times["vcpu"] = now
                        break
            except OSError:
                pass
        if self.vcpu is not None:
            try:
                if int(open(self.vcpu).read().split()[0]) >= VCPU_RUNNING_NS:
                    self.times["run"] = now
            except OSError:
                pass
        return "run" in self.times


def run_until_marker(argv, serial, env=None, new_session=False, out=None, kill_on_error=False):
    """Spawns argv and waits for the marker in `serial`, following the guest's QEMU meanwhile
    (QemuWatch: every 2 ms until its guest runs). Returns (process, times, watch): times in
    seconds after the spawn: `exec`, `vcpu`, `run`, `marker`, and `exit` if the process exited
    before the marker."""
    w = SerialWatch(serial)
    q = QemuWatch()
    try:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, env=env, start_new_session=new_session, stdin=subprocess.DEVNULL,
                             stdout=out or subprocess.DEVNULL, stderr=out or subprocess.PIPE)
        pidfd = os.pidfd_open(p.pid)
        times = q.times
        running = False
        try:
            while True:
                now = time.perf_counter() - t0
                if not running:
                    running = q.poll(now)
                if w.found():
                    times["marker"] = time.perf_counter() - t0
                    if not running:
                        raise SystemExit(f"{argv[0]}: the marker came, but the guest's QEMU was not "
                                         f"seen running (seen: {sorted(times)})")
                    return p, times, q
                if now > BOOT_TIMEOUT:
                    raise SystemExit(f"{argv[0]}: no {MARKER.decode()} in {serial} within {BOOT_TIMEOUT:.0f} s")
                fds = [w.fd] + ([pidfd] if "exit" not in times else [])
                ready, _, _ = select.select(fds, [], [], 0.05 if running else 0.002)
                if pidfd in ready and "exit" not in times:
                    times["exit"] = time.perf_counter() - t0
                    if p.wait() != 0:
                        err = p.stderr.read().decode() if p.stderr else ""
                        raise SystemExit(f"{' '.join(argv)} failed ({p.returncode}): {err}")
        except BaseException:
            if kill_on_error:
                p.kill()
                p.wait()
            raise
        finally:
            os.close(pidfd)
    finally:
        w.close()


# --- processes ----------------------------------------------------------------------------------


def cpu_seconds(pid):
    """user+sys CPU seconds of a process and of its reaped children (/proc/PID/stat)."""
    s = open(f"/proc/{pid}/stat").read()
    return sum(int(x) for x in s[s.rfind(")") + 2:].split()[11:15]) / CLK_TCK


def cpu_busy():
    """(busy, total) jiffies of all CPUs since boot (/proc/stat)."""
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return sum(f) - f[3] - f[4], sum(f)


def wait_gone(pid, timeout=30):
    t = time.monotonic()
    while os.path.exists(f"/proc/{pid}") and time.monotonic() - t < timeout:
        try:
            if open(f"/proc/{pid}/stat").read().split(") ")[1][0] in "ZX":
                return
        except OSError:
            return
        time.sleep(0.02)


class Rvirtd:
    def __init__(self, d, exe):
        self.kind = "rvirtd"
        self.dir = d
        home = f"{d}/home"
        os.makedirs(f"{home}/run", mode=0o700)
        with open(f"{d}/rvirtd.conf", "w") as f:
            f.write(f'unix_sock_dir = "{d}"\nunix_sock_rw_perms = "0700"\n')
        env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=f"{home}/.config",
                   XDG_RUNTIME_DIR=f"{home}/run", XDG_CACHE_HOME=f"{home}/.cache")
        self.proc = subprocess.Popen([exe, "--session", "-f", f"{d}/rvirtd.conf", "-p", f"{d}/rvirtd.pid"],
                                     env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(f"{d}/rvirtd.log", "w"))
        self.pid = self.proc.pid
        for _ in range(500):
            if os.path.exists(f"{d}/rvirt-admin-sock"):
                break
            if self.proc.poll() is not None:
                raise SystemExit(f"rvirtd exited; see {d}/rvirtd.log")
            time.sleep(0.02)
        else:
            raise SystemExit(f"rvirtd did not start; see {d}/rvirtd.log")
        self.uri = f"qemu+unix:///session?socket={d}/rvirt-sock"
        self.qemu_log = f"{home}/.cache/rvirt/qemu/log/bench.log"

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class Libvirtd:
    def __init__(self, d):
        self.kind = "libvirtd"
        self.dir = d
        self.pid = int(subprocess.check_output([f"{ROOT}/scripts/ref-libvirtd.sh", "start", d, "--virtlogd"],
                                               text=True).strip())
        self.uri = f"qemu+unix:///system?socket={d}/libvirt-sock"
        # Its /var/log/libvirt is a tmpfs in its own mount namespace.
        self.qemu_log = f"/proc/{self.pid}/root/var/log/libvirt/qemu/bench.log"

    def stop(self):
        subprocess.call([f"{ROOT}/scripts/ref-libvirtd.sh", "stop", self.dir])


def virsh(d, *args, check=True):
    r = subprocess.run(["virsh", "-c", d.uri, *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit(f"virsh -c {d.uri} {' '.join(args)}: {r.stderr.strip()}")
    return r


# --- the bare command lines ---------------------------------------------------------------------


FLAGS = {"-S", "-no-user-config", "-nodefaults", "-no-shutdown", "-nographic", "-snapshot"}


def option_pairs(argv):
    """(option, value) pairs of a QEMU command line (after the binary): every option takes one
    value except the few flags these command lines use."""
    pairs, i = [], 1
    while i < len(argv):
        if argv[i] in FLAGS:
            pairs.append((argv[i], None))
            i += 1
        else:
            pairs.append((argv[i], argv[i + 1]))
            i += 2
    return pairs


def bare_argv(argv, kind, work):
    """A daemon's QEMU command line made runnable by hand: without -S (nobody sends `cont`), with
    the monitor on a socket path instead of an inherited descriptor, its own pid file and serial
    file. For libvirtd's also without the master key secret (a file in libvirtd's private
    /var/lib/libvirt that no device here uses) and with the serial file named instead of passed
    as a descriptor (-add-fd)."""
    serial = f"{work}/serial/{kind}.log"
    out = [argv[0]]
    seen_serial = False
    for a, v in option_pairs(argv):
        if a in ("-S", "-add-fd", "-pidfile") or (a == "-object" and '"masterKey0"' in v):
            continue
        if a == "-chardev" and v.startswith("socket,id=charmonitor,"):
            v = f"socket,id=charmonitor,path={work}/{kind}.monitor,server=on,wait=off"
        elif a == "-chardev" and v.startswith("file,id=charserial0,"):
            v = f"file,id=charserial0,path={serial}"
            seen_serial = True
        out += [a] if v is None else [a, v]
    if not seen_serial:
        raise SystemExit(f"no serial file chardev in the {kind} command line: {argv}")
    return out + ["-pidfile", f"{work}/{kind}.pid"], serial


# --- one start of each variant ------------------------------------------------------------------


def start_daemon(d, serial):
    """virsh start → marker; then virsh destroy. Returns the measurements."""
    before = cpu_seconds(d.pid)
    p, t, q = run_until_marker(["virsh", "-c", d.uri, "start", "bench"], serial)
    if "exit" not in t:
        p.wait()
        t["exit"] = t["marker"]  # virsh returned after the marker (not expected)
    t["daemon_cpu"] = cpu_seconds(d.pid) - before
    virsh(d, "destroy", "bench")
    wait_gone(q.pid)
    os.unlink(serial)
    t["argv"] = q.argv
    return t


def start_bare(argv, serial, env, work, kind):
    """QEMU spawned by hand → marker; then SIGTERM."""
    with open(f"{work}/{kind}.qemu.log", "ab") as logf:
        p, t, q = run_until_marker(argv, serial, env=env, new_session=True, out=logf, kill_on_error=True)
        if q.pid != p.pid:
            raise SystemExit(f"{kind}: watched pid {q.pid}, spawned {p.pid}")
        p.terminate()
        p.wait(30)
    os.unlink(serial)
    if os.path.exists(f"{work}/{kind}.monitor"):
        os.unlink(f"{work}/{kind}.monitor")
    return t


def client_round_trip(d):
    t0 = time.perf_counter()
    virsh(d, "domstate", "bench")
    return time.perf_counter() - t0


# --- report -------------------------------------------------------------------------------------


def ms(x):
    return f"{1000 * x:.0f}"


def spread(v):
    """Median, interquartile range and extremes, in ms."""
    if len(v) < 4:
        return ms(statistics.median(v)), "–", f"{ms(min(v))}–{ms(max(v))}" if len(v) > 1 else "–"
    q = statistics.quantiles(v, n=4)
    return ms(statistics.median(v)), f"{ms(q[0])}–{ms(q[2])}", f"{ms(min(v))}–{ms(max(v))}"


LABELS = {
    "rvirtd": "`virsh start`, rvirtd",
    "libvirtd": "`virsh start`, libvirtd",
    "bare": "bare QEMU, rvirtd's command line",
    "bare-lv": "bare QEMU, libvirtd's command line",
}


def overheads(res, key):
    """Per-round differences at `key` (marker or run): each daemon − bare, libvirtd − bare-lv,
    bare-lv − bare."""
    d = lambda a, b: [x[key] - y[key] for x, y in zip(res[a], res[b])]
    return {"rvirtd − bare": d("rvirtd", "bare"), "libvirtd − bare": d("libvirtd", "bare"),
            "libvirtd − bare-lv (libvirtd's own command line)": d("libvirtd", "bare-lv"),
            "bare-lv − bare (the two command lines)": d("bare-lv", "bare")}


def bootstrap(rv, lv, n=4000):
    """90% intervals of the median overheads and of their ratio, resampling whole rounds (the
    pairs stay together); fixed seed, so a report can be reproduced from its data."""
    rng = random.Random(1)
    k = len(rv)
    mr, ml, ratios = [], [], []
    for _ in range(n):
        idx = [rng.randrange(k) for _ in range(k)]
        a = statistics.median(rv[i] for i in idx)
        b = statistics.median(lv[i] for i in idx)
        mr.append(a)
        ml.append(b)
        ratios.append(a / b if b > 0 else float("inf"))
    q = lambda v: (sorted(v)[int(0.05 * n)], sorted(v)[int(0.95 * n) - 1])
    return q(mr), q(ml), q(ratios)


def ratio_line(o):
    """The ratio of the median overheads, its 90% interval, and whether the target is met; or
    why these rounds cannot tell."""
    rv, lv = o["rvirtd − bare"], o["libvirtd − bare"]
    mrv, mlv = statistics.median(rv), statistics.median(lv)
    head = f"median overheads {ms(mrv)} ms (rvirtd) and {ms(mlv)} ms (libvirtd)"
    if len(rv) < 3:
        r = mrv / mlv if mlv > 0 else float("nan")
        return f"{head}, ratio {r:.2f} (too few rounds for an interval or a verdict)"
    (rlo, rhi), (llo, lhi), (qlo, qhi) = bootstrap(rv, lv)
    head += (f"; 90% intervals (bootstrap over rounds) {ms(rlo)}…{ms(rhi)} ms and "
             f"{ms(llo)}…{ms(lhi)} ms")
    if llo <= 0:
        return (f"{head}. libvirtd's overhead is not distinguishable from zero here, so the ratio "
                "is not measurable with these rounds: the boot's noise is larger than the overheads")
    r = mrv / mlv
    verdict = ("**met**" if qhi <= 0.5 else "**not met**" if qlo > 0.5
               else "not decided (the interval straddles 0.5)")
    return f"{head}. Ratio **{r:.2f}** (90% interval {qlo:.2f}…{qhi:.2f}); target ≤ 0.5: {verdict}"


def report(res, cold, argvs, meta, args):
    n = len(res["bare"])
    med = statistics.median

    def table(key, first=True):
        head = "| variant | median ms | IQR ms | min–max ms |" + (" first (warm-up) ms |" if first else "")
        rows = [head, "|---|---:|---:|---:|" + ("---:|" if first else "")]
        for k in VARIANTS:
            m, iqr, rng = spread([r[key] for r in res[k]])
            rows.append(f"| {LABELS[k]} | {m} | {iqr} | {rng} |" + (f" {ms(cold[k][key])} |" if first else ""))
        return "\n".join(rows)

    def otable(o):
        rows = ["| overhead, paired per round | median ms | IQR ms | min–max ms |", "|---|---:|---:|---:|"]
        for label, v in o.items():
            m, iqr, rng = spread(v)
            bold = "**" if label in ("rvirtd − bare", "libvirtd − bare") else ""
            rows.append(f"| {label} | {bold}{m}{bold} | {iqr} | {rng} |")
        return "\n".join(rows)

    om, orun = overheads(res, "marker"), overheads(res, "run")
    line_marker, line_run = ratio_line(om), ratio_line(orun)

    prow = []
    for k in VARIANTS:
        rs = res[k]
        col = lambda f: ms(med([f(r) for r in rs]))
        daemon = k in DAEMONS
        prow.append(
            f"| {k} | {col(lambda r: r['exec'])} | {col(lambda r: r['vcpu'] - r['exec'])} | "
            f"{col(lambda r: r['run'] - r['vcpu'])} | {col(lambda r: r['run'])} | "
            f"{col(lambda r: r['exit']) if daemon else '–'} | {col(lambda r: r['marker'] - r['run'])} | "
            f"{ms(statistics.mean(r['daemon_cpu'] for r in rs)) if daemon else '–'} | "
            f"{ms(med(res['virsh_rt'][k])) if daemon else '–'} |")

    def normal(kind):
        """The option pairs with what necessarily differs made alike: the daemon's own file
        names under $WORK and descriptor numbers."""
        work = meta["work"]
        fix = lambda v: None if v is None else re.sub(
            r"\bfd=\d+", "fd=N", v.replace(work, "$WORK").replace(f"$WORK/{kind}", "$WORK/DAEMON"))
        return [(a, fix(v)) for a, v in option_pairs(argvs[kind])]

    rv_pairs, lv_pairs = normal("rvirtd"), normal("libvirtd")
    lv_only = [p for p in lv_pairs if p not in rv_pairs]
    rv_only = [p for p in rv_pairs if p not in lv_pairs]
    fmt_pairs = lambda ps: "\n".join(a if v is None else f"{a} {shlex.quote(v)}" for a, v in ps) or "(none)"
    show_argv = lambda a: " \\\n    ".join(
        [shlex.quote(a[0])] + [x if v is None else f"{x} {shlex.quote(v)}" for x, v in option_pairs(a)]
    ).replace(meta["work"], "$WORK")

    cmd = "bench/start_overhead.py" + (f" --rounds {args.rounds}" if args.rounds != 10 else "")
    return f"""{SECTION_BEGIN}
## Guest start: `virsh start` → guest marker (QEMU driver)

Produced by `{cmd}` on {meta['date']} ({meta['node']}, {meta['cpus']} CPUs,
{meta['platform']}; {meta['qemu']}; rvirtd release build of {meta.get('commit', 'an unrecorded commit')};
Debian's libvirtd 9.0), in {meta['minutes']:.0f} minutes. Load average (1 min): {meta['load_start']:.2f} at the start,
{meta['load_min']:.2f}–{meta['load_max']:.2f} after the starts, {meta['load_end']:.2f} at the end
{meta['load_note']}

**What is timed.** From spawning `virsh -c URI start bench` until `RVIRT-GUEST-READY` appears
in the guest's serial file, against rvirtd (`qemu:///session`, private state directories) and
against Debian's libvirtd 9.0 (`qemu:///system`, isolated by `scripts/ref-libvirtd.sh
--virtlogd`; root, stock qemu.conf apart from `user`/`group` = root), both with the same
domain XML apart from file paths; and from spawning QEMU until the marker for QEMU started by
hand ("bare") with the command line rvirtd gave it, minus `-S` and with the monitor on a
socket path; "bare-lv" is the same with libvirtd's command line. The guest is the tests'
Debian kernel + busybox initramfs (scripts/build-test-guest.sh), 256 MiB, 1 vCPU, under TCG
(`-accel tcg`; this machine's /dev/kvm is not usable). Every start writes a fresh serial file,
watched with inotify in the same way for all four. {n} paired rounds: every round starts all four
once, one second apart, in the orders of a 4×4 Williams square (over every 4 rounds each
variant has each position once and follows each other variant once), after one uncounted
warm-up round (the "first" column; rvirtd's includes probing QEMU's capabilities into its
empty cache). Overheads are taken
within a round (daemon − bare of the same round), then summarised.

**Until the marker** (the issue's measure):

{table("marker")}

{otable(om)}

rvirtd's overhead / libvirtd's overhead, until the marker: {line_marker}.

**Until the guest runs.** The marker comes after seconds of TCG boot, whose noise on a shared
machine is larger than the overheads themselves. Once the guest executes, the daemons' part is done
(but for CPU they may still use meanwhile, which would show in the "boot" phase below):
everything after is the same boot of the same machine. So each start is also timed to
the moment QEMU's vCPU thread ("CPU 0/TCG") has run {VCPU_RUNNING_NS // 1000000} ms (polled every 2 ms from
/proc/PID/task/TID/schedstat; a QEMU held by `-S` stays below 0.5 ms): for a bare QEMU when it
has built the machine, for a daemon's after its `cont`.

{table("run")}

{otable(orun)}

rvirtd's overhead / libvirtd's overhead, until the guest runs: {line_run}.

**Phases** (medians, ms after the spawn of virsh or QEMU). "exec": a process created after the
clock started has QEMU's command line (polled every 2 ms); "→ vCPU thread": from exec until
QEMU has created its vCPU thread (QEMU's own start-up: libraries, options, devices);
"→ runs": from then until the guest runs (the rest of QEMU's start-up and, for the daemons,
their monitor handshake, queries and `cont`); "virsh returned": `virsh start` exited; "boot":
from the guest running until the marker; "daemon CPU": user+sys of the daemon and its reaped
helpers from before `virsh start` until the marker (counted in 10 ms ticks, so the mean over
the rounds, not the median); "virsh round trip": a separate
`virsh domstate bench` (start virsh, connect, one call, close) to the same daemon, the client's
own share of any virsh command.

| variant | exec | → vCPU thread | → runs | runs | virsh returned | boot | daemon CPU | virsh round trip |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(prow)}

**Command lines** (/proc/PID/cmdline of the running QEMU; $WORK is the run's temporary
directory). Option by option, with each daemon's own files under $WORK called DAEMON and
descriptor numbers as N, only in libvirtd's:

```
{fmt_pairs(lv_only)}
```

Only in rvirtd's:

```
{fmt_pairs(rv_only)}
```

rvirtd's in full:

```
{show_argv(argvs["rvirtd"])}
```

libvirtd's in full:

```
{show_argv(argvs["libvirtd"])}
```

Remaining differences between the two machines: libvirtd hands QEMU the serial file as a
descriptor (`-add-fd`, `append=on`) where rvirtd names it, and adds `-no-shutdown`, a master-key
secret object, an explicit RAM backend object, `audiodev none` and `bootindex=1` on the disk
(no effect with a direct kernel boot). Outside the command line, libvirtd also puts QEMU in
cgroups of its own (`/machine/qemu-N-bench.libvirt-qemu`, with its vCPU and emulator threads
in child groups) and in a private mount namespace with its own /dev, which rvirtd does not.
The "bare-lv − bare" rows show what the command-line differences cost.
{SECTION_END}
"""


def write_section(path, section):
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    if SECTION_BEGIN in text and SECTION_END in text:
        a = text.index(SECTION_BEGIN)
        b = text.index(SECTION_END) + len(SECTION_END) + 1
        text = text[:a] + section + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(text)


# --- main ---------------------------------------------------------------------------------------


def rvirtd_binary():
    if os.environ.get("RVIRTD"):
        return os.environ["RVIRTD"]
    subprocess.check_call(["cargo", "build", "--release", "-q", "-p", "rvirtd"], cwd=ROOT)
    target = os.environ.get("CARGO_TARGET_DIR", f"{ROOT}/target")
    return f"{target}/release/rvirtd"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=10, help="paired rounds (default 10)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 round, BENCHMARKS.md untouched")
    ap.add_argument("--out", default=f"{ROOT}/BENCHMARKS.md", help="file whose section to (re)write")
    ap.add_argument("--no-write", action="store_true", help="print the section only")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--save", metavar="FILE", help="also write the raw measurements as JSON")
    ap.add_argument("--from", dest="from_", metavar="FILE", help="report from a --save file, measure nothing")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.no_write = 1, True
    if args.from_:
        with open(args.from_) as f:
            saved = json.load(f)
        args.rounds = saved["rounds"]
        section = report(saved["res"], saved["cold"], saved["argvs"], saved["meta"], args)
        print(section)
        if not args.no_write:
            write_section(args.out, section)
            log(f"wrote the section to {args.out}")
        return
    if os.geteuid() != 0:
        raise SystemExit("needs root: the reference libvirtd runs in private mounts as qemu:///system")

    guest = test_guest()
    exe = rvirtd_binary()
    commit = "`" + subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True,
                                  text=True).stdout.strip() + "`" + (" (RVIRTD=" + exe + ")" if os.environ.get("RVIRTD") else "")
    work = tempfile.mkdtemp(prefix="rvirt-bench-start-")
    os.chmod(work, 0o755)
    os.makedirs(f"{work}/serial")
    qemu_version = subprocess.check_output(["qemu-system-x86_64", "--version"], text=True).splitlines()[0]
    load_start = os.getloadavg()[0]
    busy_start = cpu_busy()
    started = time.monotonic()
    daemons = {}
    loads = []
    try:
        daemons["rvirtd"] = Rvirtd(f"{work}/rvirtd", exe)
        daemons["libvirtd"] = Libvirtd(f"{work}/libvirtd")
        serial = {}
        for k, d in daemons.items():
            disk = f"{work}/{k}.img"
            with open(disk, "wb") as f:
                f.truncate(16 << 20)
            serial[k] = f"{work}/serial/{k}.log"
            with open(f"{work}/{k}.xml", "w") as f:
                f.write(domain_xml(guest, disk, serial[k]))
            virsh(d, "define", f"{work}/{k}.xml")

        # Warm-up: one start per daemon, whose QEMU command lines become the bare variants'.
        cold, argvs, bare = {}, {}, {}
        env = {"LC_ALL": "C", "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
        for k in DAEMONS:
            cold[k] = start_daemon(daemons[k], serial[k])
            argvs[k] = cold[k]["argv"]
            log(f"warm-up {k:9}: runs {ms(cold[k]['run'])}, marker {ms(cold[k]['marker'])} ms")
        for k, b in (("rvirtd", "bare"), ("libvirtd", "bare-lv")):
            bare[b] = bare_argv(argvs[k], b, work)
            cold[b] = start_bare(*bare[b], env, work, b)
            log(f"warm-up {b:9}: runs {ms(cold[b]['run'])}, marker {ms(cold[b]['marker'])} ms")

        res = {k: [] for k in VARIANTS}
        res["virsh_rt"] = {k: [] for k in DAEMONS}
        for r in range(args.rounds):
            # A Williams square: over 4 rounds every variant runs once in every position and
            # right after every other variant once, so neither the position in a round nor what
            # ran just before (a daemon still tidying up after a destroy) favours any variant.
            order = [VARIANTS[(x + r) % 4] for x in (0, 1, 3, 2)]
            for k in order:
                time.sleep(SETTLE)
                if k in DAEMONS:
                    t = start_daemon(daemons[k], serial[k])
                    if bare_argv(t["argv"], "x", work) != bare_argv(argvs[k], "x", work):
                        log(f"note: {k}'s QEMU command line changed in round {r + 1}")
                    res["virsh_rt"][k].append(client_round_trip(daemons[k]))
                else:
                    t = start_bare(*bare[k], env, work, k)
                res[k].append(t)
                loads.append(os.getloadavg()[0])
                extra = f", virsh returned {ms(t['exit'])}" if k in DAEMONS else ""
                log(f"round {r + 1}/{args.rounds} {k:9}: exec {ms(t['exec'])}, vCPU thread {ms(t['vcpu'])}, "
                    f"runs {ms(t['run'])}{extra}, marker {ms(t['marker'])} ms; load {loads[-1]:.2f}")
    finally:
        for d in daemons.values():
            # Nothing of ours may keep running: a guest left by a failed round goes first.
            virsh(d, "destroy", "bench", check=False)
            d.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"work directory kept: {work}")

    busy_end = cpu_busy()
    busy = (busy_end[0] - busy_start[0]) / (busy_end[1] - busy_start[1])
    meta = {
        "date": datetime.date.today(), "node": platform.node(), "cpus": os.cpu_count(),
        "platform": platform.platform(), "qemu": qemu_version,
        "minutes": (time.monotonic() - started) / 60, "load_start": load_start,
        "work": work, "commit": commit, "load_min": min(loads), "load_max": max(loads), "load_end": os.getloadavg()[0],
        "load_note": f"(CPUs {100 * busy:.0f}% busy over the run, counting the benchmark's own QEMU, which keeps "
                     "one CPU busy while it boots"
                     + ("; other work shared the machine, so expect noise — the rounds are paired for that)."
                        if busy > 0.6 else "; nothing else ran).")
    }
    if args.save:
        with open(args.save, "w") as f:
            json.dump({"rounds": args.rounds, "res": res, "cold": cold, "argvs": argvs, "meta": meta},
                      f, indent=1, default=str)
    section = report(res, cold, argvs, meta, args)
    print(section)
    if not args.no_write:
        write_section(args.out, section)
        log(f"wrote the section to {args.out}")


if __name__ == "__main__":
    main()
