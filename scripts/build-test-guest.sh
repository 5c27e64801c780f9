#!/usr/bin/env bash
# Builds the tiny test guest the QEMU driver's tests boot: a Debian kernel (vmlinuz) and a
# busybox-static initramfs, both taken from Debian packages with `apt-get download`.
#
# usage: scripts/build-test-guest.sh [OUTDIR]        (default: target/test-guest)
#
# Outputs in OUTDIR: vmlinuz, initrd.img (gzip'd newc cpio) and guest.env (KERNEL, INITRD, CMDLINE,
# KERNEL_VERSION, MARKER) for tests and benchmarks to source. Skips the build when OUTDIR already
# holds a guest built by this same script from the same package versions.
#
# What the guest does (busybox init, /etc/rc as sysinit), all on the serial console (ttyS0):
#   - mounts proc, sys, devtmpfs; loads the virtio (pci, blk, net, scsi, console, rng, balloon),
#     ACPI button and evdev modules;
#   - prints one line per disk it sees, `RVIRT-DISK <name> <512-byte sectors> <serial>`, and per
#     network interface, `RVIRT-NIC <name> <mac>`, then the marker `RVIRT-GUEST-READY`;
#   - runs busybox acpid, so an ACPI power-button press (QMP system_powerdown, virsh shutdown) makes
#     init run its shutdown actions (printing `RVIRT-GUEST-POWEROFF`) and power the machine off;
#   - kernel command line options: `rvirt.poweroff=N` powers off by itself N seconds after the
#     marker (a guest-initiated shutdown), `rvirt.reboot=N` reboots likewise;
#   - leaves a root shell on the console for `virsh console` tests.
#
# Environment: RVIRT_GUEST_KERNEL (default linux-image-cloud-amd64: a meta package whose current
# dependency is the kernel; the cloud flavour has every driver the guest needs as modules, no SATA).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-target/test-guest}")
meta=${RVIRT_GUEST_KERNEL:-linux-image-cloud-amd64}
marker=RVIRT-GUEST-READY

die() { echo "build-test-guest.sh: $*" >&2; exit 1; }
for tool in apt-get apt-cache dpkg-deb cpio gzip sha256sum; do
    command -v "$tool" >/dev/null || die "$tool not found (run scripts/install-qemu.sh)"
done

# Inputs: this script and the kernel meta package name. The resolved package versions are recorded
# in guest.env; they are re-resolved (and the guest rebuilt if they moved) only with
# RVIRT_GUEST_REFRESH=1, so a built guest stays fixed and needs no package index or network.
key="$(sha256sum "$0" | cut -d' ' -f1) $meta"
if [ -z "${RVIRT_GUEST_REFRESH:-}" ] && [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$key" ] \
    && [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.img" ] && [ -s "$out/guest.env" ]; then
    echo "test guest up to date in $out"
    exit 0
fi

candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }'; }
if [ -z "$(candidate "$meta")" ] || [ "$(candidate "$meta")" = "(none)" ]; then
    [ "$(id -u)" = 0 ] || die "no package index for $meta; run 'apt-get update' as root"
    apt-get update -q >/dev/null
fi
# The meta package's dependency is the versioned kernel image (e.g. linux-image-6.1.0-56-cloud-amd64).
kpkg=$meta
if ! apt-cache show --no-all-versions "$meta" | grep -q '^Filename:.*linux-image-[0-9]'; then
    kpkg=$(apt-cache show --no-all-versions "$meta" | sed -n 's/^Depends: //p' | tr ',' '\n' \
        | sed 's/^ *//; s/ .*//' | grep -m1 '^linux-image-[0-9]') || die "cannot resolve the kernel package of $meta"
fi
kver=$(candidate "$kpkg")
bver=$(candidate busybox-static)
[ -n "$kver" ] && [ "$kver" != "(none)" ] || die "no installable version of $kpkg"
[ -n "$bver" ] && [ "$bver" != "(none)" ] || die "no installable version of busybox-static"
if [ -f "$out/guest.env" ] && [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$key" ] \
    && grep -qx "KERNEL_PACKAGE=$kpkg=$kver" "$out/guest.env" \
    && grep -qx "BUSYBOX_PACKAGE=busybox-static=$bver" "$out/guest.env"; then
    echo "test guest up to date in $out ($kpkg $kver)"
    exit 0
fi

mkdir -p "$out"
work=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "building test guest in $out from $kpkg $kver and busybox-static $bver"
# The packages are kept in OUTDIR/debs, so a rebuild after a change to this script downloads
# nothing. apt-get download writes into the current directory; that _apt cannot write there is
# only a warning.
debs="$out/debs"
mkdir -p "$debs"
fetch() { # package version
    local f
    f=$(ls "$debs/${1}_${2/:/%3a}_"*.deb 2>/dev/null | head -n1)
    if [ -z "$f" ]; then
        (cd "$debs" && apt-get download -q "$1=$2" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true) >&2
        f=$(ls "$debs/${1}_${2/:/%3a}_"*.deb 2>/dev/null | head -n1)
    fi
    [ -n "$f" ] || die "apt-get download of $1 $2 failed"
    echo "$f"
}
kdeb=$(fetch "$kpkg" "$kver")
bdeb=$(fetch busybox-static "$bver")
dpkg-deb -x "$kdeb" "$work/kernel"
dpkg-deb -x "$bdeb" "$work/busybox"

kernel_release=$(ls "$work/kernel/lib/modules" | head -n1)
moddir="$work/kernel/lib/modules/$kernel_release"
[ -d "$moddir" ] || die "$kdeb has no modules directory"

# --- initramfs tree ---
root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/acpi/PWRF,proc,sys,dev,run,tmp,root,lib/modules,var/log}
cp "$work/busybox/bin/busybox" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list-full); do
    [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done
ln -sf /bin/busybox "$root/init"

# Modules in load order: each module after the modules it depends on (read from the .modinfo
# section, since the image package carries no modules.dep and the host may lack kmod).
wanted="virtio_pci virtio_blk virtio_net virtio_scsi sd_mod sr_mod virtio_console virtio-rng virtio_balloon button evdev"
declare -A path_of=() done_mod=()
while IFS= read -r f; do
    n=$(basename "$f" .ko)
    path_of[${n//-/_}]=$f
done < <(find "$moddir/kernel" -name '*.ko')
order=()
add_module() {
    local n=${1//-/_} f deps d
    [ -n "${done_mod[$n]:-}" ] && return 0
    f=${path_of[$n]:-}
    if [ -z "$f" ]; then
        grep -q "/${1}.ko\$\|/${n}.ko\$" "$moddir/modules.builtin" 2>/dev/null && return 0
        die "module $1 is neither in $kpkg nor built in"
    fi
    done_mod[$n]=1
    deps=$(tr '\0' '\n' < "$f" | sed -n 's/^depends=//p' | head -n1)
    for d in ${deps//,/ }; do add_module "$d"; done
    cp "$f" "$root/lib/modules/"
    order+=("$(basename "$f")")
}
for m in $wanted; do add_module "$m"; done
printf '%s\n' "${order[@]}" > "$root/etc/modules.order"

cat > "$root/etc/inittab" <<'INITTAB'
::sysinit:/etc/rc
::respawn:-/bin/cttyhack /bin/sh
::ctrlaltdel:/sbin/reboot
::shutdown:/etc/rc.shutdown
INITTAB

cat > "$root/etc/rc" <<RC
#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
while read -r m; do insmod "/lib/modules/\$m" 2>/dev/null; done < /etc/modules.order
hostname rvirt-guest
ip link set lo up 2>/dev/null
echo "RVIRT-GUEST-KERNEL \$(uname -r)"
for d in /sys/block/*; do
    name=\${d##*/}
    case \$name in vd*|sd*|sr*|hd*|nvme*) ;; *) continue ;; esac
    serial=\$(cat "\$d/serial" 2>/dev/null || cat "\$d/device/serial" 2>/dev/null)
    echo "RVIRT-DISK \$name \$(cat "\$d/size") \${serial:--}"
done
for n in /sys/class/net/*; do
    name=\${n##*/}
    [ "\$name" = lo ] && continue
    echo "RVIRT-NIC \$name \$(cat "\$n/address")"
done
# The power button must be watched before the marker goes out, or a powerdown sent right after
# it is lost: acpid runs in the foreground (in its own session) and the marker waits until it
# holds an input event device open. It logs to /var/log/acpid.log (and exits if it cannot).
setsid acpid -f -c /etc/acpi -a /etc/acpid.conf -l /var/log/acpid.log &
acpid_pid=\$!
events=\$(ls /dev/input 2>/dev/null | grep -c '^event')
i=0
until [ "\$(ls -l /proc/\$acpid_pid/fd 2>/dev/null | grep -c /dev/input/event)" -ge "\$events" ] && [ "\$events" -gt 0 ]; do
    i=\$((i + 1))
    if [ \$i -gt 300 ] || ! [ -d /proc/\$acpid_pid ]; then
        echo "RVIRT-GUEST-ERROR acpid is not watching the power button"
        break
    fi
    usleep 20000
done
echo "$marker"
for opt in \$(cat /proc/cmdline); do
    case \$opt in
    rvirt.poweroff=*) (sleep "\${opt#*=}"; poweroff) & ;;
    rvirt.reboot=*) (sleep "\${opt#*=}"; reboot) & ;;
    esac
done
RC

cat > "$root/etc/rc.shutdown" <<'RC'
#!/bin/sh
echo "RVIRT-GUEST-POWEROFF"
sync
RC

# busybox acpid: the event "button/power PWRF 00000080" matches key PWRF, whose action file is
# run from the -c directory.
echo 'PWRF PWRF/00000080' > "$root/etc/acpid.conf"
cat > "$root/etc/acpi/PWRF/00000080" <<'ACT'
#!/bin/sh
poweroff
ACT
chmod 0755 "$root/etc/rc" "$root/etc/rc.shutdown" "$root/etc/acpi/PWRF/00000080"
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
echo 'root:x:0:' > "$root/etc/group"

# A reproducible archive: sorted names, fixed owner and times.
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -9n > "$work/initrd.img"

cp "$work/kernel/boot/vmlinuz-$kernel_release" "$work/vmlinuz"
cat > "$work/guest.env" <<ENV
KERNEL=$out/vmlinuz
INITRD=$out/initrd.img
CMDLINE='console=ttyS0 quiet panic=-1'
KERNEL_VERSION=$kernel_release
KERNEL_PACKAGE=$kpkg=$kver
BUSYBOX_PACKAGE=busybox-static=$bver
MARKER=$marker
ENV
mv -f "$work/vmlinuz" "$out/vmlinuz"
mv -f "$work/initrd.img" "$out/initrd.img"
mv -f "$work/guest.env" "$out/guest.env"
echo "$key" > "$out/stamp.tmp" && mv -f "$out/stamp.tmp" "$out/stamp"
echo "test guest: $out/vmlinuz ($kernel_release), $out/initrd.img ($(du -k "$out/initrd.img" | cut -f1) KiB)"
