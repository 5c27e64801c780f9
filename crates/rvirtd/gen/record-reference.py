#!/usr/bin/python3
"""Record libvirtd's answers to a scripted conversation, for rvirtd's differential tests.

Reads a script (one request per line: `C <hex frame>`, `#` comments, blank lines; an optional
`socket: rw|ro` first line) and plays it against a running reference libvirtd (started with
scripts/ref-libvirtd.sh, restarted fresh for each recording). Each call's packets are read until
its reply; events (MESSAGE packets) arriving meanwhile are recorded separately, because their
position relative to replies is not deterministic in libvirtd. Writes the script back with the
`R <reply>` lines after each call and all `E <event>` lines at the end, in arrival order.

usage: record-reference.py SOCKET_DIR SCRIPT > crates/rvirtd/tests/data/NAME.txt
"""
import socket
import struct
import sys


def read_packet(s):
    def exact(n):
        b = b""
        while len(b) < n:
            c = s.recv(n - len(b))
            if not c:
                raise EOFError
            b += c
        return b
    head = exact(4)
    return head + exact(struct.unpack(">I", head)[0] - 4)


def main():
    sockdir, script = sys.argv[1], sys.argv[2]
    lines = open(script).read().splitlines()
    kind = "rw"
    if lines and lines[0].startswith("socket:"):
        kind = lines[0].split(":", 1)[1].strip()
    path = f"{sockdir}/libvirt-sock" + ("-ro" if kind == "ro" else "")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(10)
    out, events = [], []
    for line in lines:
        out.append(line)
        if not line.startswith("C "):
            continue
        frame = bytes.fromhex(line[2:].strip())
        serial = struct.unpack(">I", frame[20:24])[0]
        s.sendall(frame)
        while True:
            p = read_packet(s)
            ptype, pserial = struct.unpack(">iI", p[16:24])
            if ptype == 2:
                events.append(p.hex())
                continue
            if ptype == 1 and pserial == serial:
                out.append("R " + p.hex())
                break
            raise SystemExit(f"unexpected packet {p.hex()}")
    # Let events raised by the last calls arrive.
    s.settimeout(0.5)
    try:
        while True:
            p = read_packet(s)
            if struct.unpack(">i", p[16:20])[0] == 2:
                events.append(p.hex())
    except (socket.timeout, EOFError):
        pass
    for e in events:
        out.append("E " + e)
    print("\n".join(out))


main()
