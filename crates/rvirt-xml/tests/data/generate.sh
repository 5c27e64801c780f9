#!/usr/bin/env bash
# Regenerates the XML golden outputs from Debian's libvirtd 9.0 test driver: starts an isolated
# reference daemon (scripts/ref-libvirtd.sh), runs generate.py against test:///default, stops it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
dir=$(mktemp -d /tmp/rvirt-xml-golden.XXXXXX)
"$root/scripts/ref-libvirtd.sh" start "$dir" >/dev/null
trap '"$root/scripts/ref-libvirtd.sh" stop "$dir"; rm -rf "$dir"' EXIT
/usr/bin/python3 "$here/generate.py" "test+unix:///default?socket=$dir/libvirt-sock"
