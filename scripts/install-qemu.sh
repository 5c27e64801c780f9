#!/usr/bin/env bash
# Installs what the QEMU driver's tests need on a Debian 12 machine, skipping what is present:
# qemu-system-x86 from bookworm-backports (bookworm's own 7.2 build is not the one we test against),
# qemu-utils, and the tools scripts/build-test-guest.sh uses (busybox-static, cpio, zstd/xz for
# unpacking the kernel package). Idempotent; needs root only when something is missing.
#
# The backports suite is added by copying the machine's own Debian source stanza
# (/etc/apt/sources.list.d/debian.sources) with its Suites line changed, so no mirror address is
# ever written here.
set -euo pipefail

src=/etc/apt/sources.list.d/debian.sources
bp=/etc/apt/sources.list.d/debian-backports.sources

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
need_tools=()
for pkg in busybox-static cpio xz-utils zstd qemu-utils; do
    installed "$pkg" || need_tools+=("$pkg")
done

need_qemu=0
command -v qemu-system-x86_64 >/dev/null || need_qemu=1

if [ ${#need_tools[@]} -eq 0 ] && [ $need_qemu = 0 ]; then
    exit 0
fi
[ "$(id -u)" = 0 ] || { echo "install-qemu.sh: missing ${need_tools[*]} ${need_qemu/1/qemu-system-x86}; run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive

updated=0
if [ $need_qemu = 1 ] && [ ! -e "$bp" ]; then
    [ -r "$src" ] || { echo "install-qemu.sh: $src not found; cannot derive a bookworm-backports source" >&2; exit 1; }
    # Keep only the stanzas that carry the plain 'bookworm' suite (not -security, whose archive has
    # no backports), with Suites rewritten to bookworm-backports.
    awk -v RS= -v ORS='\n\n' '
        /(^|\n)Suites:([^\n]* )?bookworm( |\n|$)/ && /(^|\n)Types:[^\n]*deb( |\n|$)/ {
            gsub(/(^|\n)Suites:[^\n]*/, "\nSuites: bookworm-backports"); sub(/^\n/, ""); print
        }' "$src" > "$bp.tmp"
    grep -q '^Suites: bookworm-backports' "$bp.tmp" || { rm -f "$bp.tmp"; echo "install-qemu.sh: no bookworm stanza in $src" >&2; exit 1; }
    mv "$bp.tmp" "$bp"
    apt-get update -q
    updated=1
fi
if [ ${#need_tools[@]} -gt 0 ]; then
    [ $updated = 1 ] || { apt-get update -q; updated=1; }
    apt-get install -y -q --no-install-recommends "${need_tools[@]}"
fi
if [ $need_qemu = 1 ]; then
    [ $updated = 1 ] || apt-get update -q
    # seabios/ipxe are Recommends of qemu-system-x86 but the x86 machines need the BIOS image to boot
    # at all, so they are named explicitly instead of pulling every recommendation.
    apt-get install -y -q --no-install-recommends -t bookworm-backports qemu-system-x86 seabios ipxe-qemu
fi
command -v qemu-system-x86_64 >/dev/null
