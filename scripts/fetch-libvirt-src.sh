#!/usr/bin/env bash
# Fetches Debian's libvirt source package — the version of the installed libvirt-daemon — into a
# cache directory, for the XML conformance test's corpora (tests/*xml2xml*, tests/qemuxml2argvdata).
# The test data is never committed; this runs at test time and is a no-op once the cache exists.
#
# usage: scripts/fetch-libvirt-src.sh DIR   → prints the unpacked tree (DIR/libvirt-<upstream>)
#
# apt needs a deb-src entry for this. When none is configured, the script adds one by copying the
# system's own /etc/apt/sources.list.d/debian.sources with "Types: deb-src" (needs root), so the
# mirror is whatever the machine already uses.
set -euo pipefail
dir=$(realpath -m "${1:?cache directory}")
ver=$(dpkg-query -W -f '${source:Version}' libvirt-daemon 2>/dev/null) || {
    echo "libvirt-daemon is not installed: run scripts/install-deps.sh" >&2
    exit 1
}
upstream=${ver#*:}
upstream=${upstream%-*}
tree="$dir/libvirt-$upstream"
if [ -d "$tree/tests/qemuxml2argvdata" ]; then
    echo "$tree"
    exit 0
fi

has_deb_src() {
    grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/
}
if ! has_deb_src; then
    src=/etc/apt/sources.list.d/debian.sources
    [ -r "$src" ] || { echo "no deb-src entry and no $src to copy one from" >&2; exit 1; }
    [ "$(id -u)" = 0 ] || { echo "adding a deb-src entry needs root" >&2; exit 1; }
    sed 's/^Types:.*/Types: deb-src/' "$src" > /etc/apt/sources.list.d/rvirt-deb-src.sources
    apt-get update -q >&2
elif ! apt-cache showsrc "libvirt=$ver" 2>/dev/null | grep -q '^Package: libvirt'; then
    apt-get update -q >&2
fi

mkdir -p "$dir"
work=$(mktemp -d "$dir/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
# dpkg-source unpacks into the current directory; unpack aside, then move into place in one step.
(cd "$work" && apt-get source -q "libvirt=$ver" >&2)
rm -rf "$tree"
mv "$work/libvirt-$upstream" "$tree"
echo "$tree"
