#!/usr/bin/env bash
# Starts Debian's libvirtd 9.0 as the reference daemon for differential tests, isolated from the
# host and from any other instance: private tmpfs mounts over libvirt's state directories (one
# root libvirtd per machine would otherwise hold their pid files) and sockets in DIR.
#
# usage: scripts/ref-libvirtd.sh start DIR   → prints the daemon's PID; sockets: DIR/libvirt-sock{,-ro}
#        scripts/ref-libvirtd.sh stop DIR    → ends that daemon (by the PID recorded in DIR/pid)
set -euo pipefail
cmd=${1:?start|stop}
dir=$(realpath -m "${2:?socket directory}")
case "$cmd" in
start)
    command -v libvirtd >/dev/null || { echo "libvirtd not installed: run scripts/install-deps.sh" >&2; exit 1; }
    [ "$(id -u)" = 0 ] || { echo "the reference libvirtd needs root (private mounts)" >&2; exit 1; }
    mkdir -p "$dir"
    cat > "$dir/libvirtd.conf" <<CONF
unix_sock_dir = "$dir"
auth_unix_rw = "none"
auth_unix_ro = "none"
unix_sock_rw_perms = "0777"
unix_sock_ro_perms = "0777"
CONF
    rm -f "$dir/libvirt-sock" "$dir/libvirt-sock-ro" "$dir/libvirt-admin-sock" "$dir/pid"
    unshare -m --propagation private sh -c '
        for d in /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt; do
            mkdir -p "$d" && mount -t tmpfs tmpfs "$d"
        done
        exec libvirtd -f "$1/libvirtd.conf" -p "$1/pid"' sh "$dir" >"$dir/libvirtd.log" 2>&1 &
    for _ in $(seq 1 100); do
        [ -S "$dir/libvirt-sock" ] && [ -s "$dir/pid" ] && { cat "$dir/pid"; echo; exit 0; }
        sleep 0.1
    done
    echo "libvirtd did not start; see $dir/libvirtd.log" >&2
    exit 1
    ;;
stop)
    [ -s "$dir/pid" ] || exit 0
    pid=$(cat "$dir/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
