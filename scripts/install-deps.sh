#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian 12 machine, skipping what is present:
# Debian's libvirt 9.0 (reference daemon, virsh, python3-libvirt) and the accounts libvirtd's QEMU
# driver insists on when it runs as root. Idempotent.
set -euo pipefail
need=()
command -v virsh >/dev/null || need+=(libvirt-clients)
command -v libvirtd >/dev/null || need+=(libvirt-daemon)
/usr/bin/python3 -c 'import libvirt' 2>/dev/null || need+=(python3-libvirt)
# rvirt-storage's tests make their images with the real qemu-img.
command -v qemu-img >/dev/null || need+=(qemu-utils)
# The logical (LVM) pool tests run LVM's tools on loop devices.
[ -x /sbin/lvcreate ] || [ -x /usr/sbin/lvcreate ] || need+=(lvm2)
if [ ${#need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${need[@]}"
fi
if [ "$(id -u)" = 0 ]; then
    getent group kvm >/dev/null || groupadd -r kvm
    getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
    id libvirt-qemu >/dev/null 2>&1 || useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
    mkdir -p /etc/libvirt
    touch /etc/libvirt/qemu.conf
    grep -q '^user = "root"' /etc/libvirt/qemu.conf || echo 'user = "root"' >> /etc/libvirt/qemu.conf
    grep -q '^group = "root"' /etc/libvirt/qemu.conf || echo 'group = "root"' >> /etc/libvirt/qemu.conf
fi
