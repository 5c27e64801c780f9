#!/usr/bin/env bash
# Starts Debian's libvirtd 9.0 as the reference daemon for differential tests, isolated from the
# host and from any other instance: private tmpfs mounts over libvirt's state directories (one
# root libvirtd per machine would otherwise hold their pid files) and sockets in DIR.
#
# usage: scripts/ref-libvirtd.sh start DIR [--virtlogd]
#                                            → prints the daemon's PID; sockets: DIR/libvirt-sock{,-ro}
#        scripts/ref-libvirtd.sh stop DIR    → ends that daemon (by the PID recorded in DIR/pid)
#
# --virtlogd also starts Debian's virtlogd in the same private mount namespace, before libvirtd
# (its socket is /run/libvirt/virtlogd-sock there; its PID goes to DIR/virtlogd.pid, its output to
# DIR/virtlogd.log). libvirtd's QEMU driver needs it to start domains: it hands QEMU's stdout and
# stderr to virtlogd. `stop` ends it too.
set -euo pipefail
cmd=${1:?start|stop}
dir=$(realpath -m "${2:?socket directory}")
virtlogd=0
case "${3:-}" in
"") ;;
--virtlogd) virtlogd=1 ;;
*) echo "usage: $0 start DIR [--virtlogd] | stop DIR" >&2; exit 2 ;;
esac
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
    rm -f "$dir/libvirt-sock" "$dir/libvirt-sock-ro" "$dir/libvirt-admin-sock" "$dir/pid" "$dir/virtlogd.pid"
    if [ "$virtlogd" = 1 ]; then
        command -v virtlogd >/dev/null || { echo "virtlogd not installed: run scripts/install-deps.sh" >&2; exit 1; }
    fi
    unshare -m --propagation private sh -c '
        for d in /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt; do
            mkdir -p "$d" && mount -t tmpfs tmpfs "$d"
        done
        if [ "$2" = 1 ]; then
            virtlogd -p "$1/virtlogd.pid" >"$1/virtlogd.log" 2>&1 &
            i=0
            until [ -S /run/libvirt/virtlogd-sock ]; do
                i=$((i + 1))
                [ $i -le 100 ] && kill -0 $! 2>/dev/null || { echo "virtlogd did not start; see $1/virtlogd.log"; exit 1; }
                sleep 0.1
            done
        fi
        exec libvirtd -f "$1/libvirtd.conf" -p "$1/pid"' sh "$dir" "$virtlogd" >"$dir/libvirtd.log" 2>&1 &
    for _ in $(seq 1 100); do
        [ -S "$dir/libvirt-sock" ] && [ -s "$dir/pid" ] && { cat "$dir/pid"; echo; exit 0; }
        sleep 0.1
    done
    echo "libvirtd did not start; see $dir/libvirtd.log" >&2
    exit 1
    ;;
stop)
    end() { # pid file
        [ -s "$1" ] || return 0
        local pid
        pid=$(cat "$1")
        kill "$pid" 2>/dev/null || return 0
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    }
    end "$dir/pid"
    end "$dir/virtlogd.pid"
    ;;
*) echo "usage: $0 start DIR [--virtlogd] | stop DIR" >&2; exit 2 ;;
esac
