#!/usr/bin/env bash
# Runs one image-header fuzz target for SECONDS (default 600). The corpus is seeded with images the
# real qemu-img makes in that format (with and without backing files, recorded and unrecorded
# backing formats, external data files, descriptors), cut to the bytes rvirt-storage reads; formats
# qemu-img cannot create (cow, iso) get headers written here. Needs cargo-fuzz and nightly.
#
# usage: scripts/fuzz-image.sh TARGET [SECONDS]
#   TARGET: image_qcow image_qcow2 image_qed image_vmdk image_vpc image_vdi image_iso image_luks
#           image_cow image_ploop image_probe backing_name
set -euo pipefail
target=${1:?image_<format>, image_probe or backing_name}
secs=${2:-600}
root=$(cd "$(dirname "$0")/.." && pwd)
seeds="$root/fuzz/corpus/$target"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$seeds"
cd "$work"

img() { # FORMAT NAME [qemu-img create options…]: creates NAME, keeps the header bytes as a seed
    local fmt=$1 name=$2; shift 2
    if qemu-img create -q -f "$fmt" "$@" "$name" 1M 2>/dev/null; then
        head -c 33280 "$name" > "$seeds/$fmt-$name"
    fi
}
raw_header() { # NAME OFFSET BYTES…: a zero-filled header with BYTES (printf escapes) at OFFSET
    local name=$1 off=$2 bytes=$3
    head -c 33280 /dev/zero > "$name"
    printf "$bytes" | dd of="$name" bs=1 seek="$off" conv=notrunc status=none
    cp "$name" "$seeds/$name"
}

qemu-img create -q -f raw base.raw 1M
qemu-img create -q -f qcow2 base.qcow2 1M
case "$target" in
image_qcow2 | image_probe)
    img qcow2 plain
    img qcow2 v2 -o compat=0.10
    img qcow2 lazy -o lazy_refcounts=on
    img qcow2 backed -b base.raw -F raw
    img qcow2 backed2 -b "$work/base.qcow2" -F qcow2
    img qcow2 json -b 'json:{"driver":"raw","file":{"driver":"file","filename":"base.raw"}}' -F raw
    img qcow2 nbd -b nbd://localhost:10809/export -F raw
    img qcow2 datafile -o data_file=data.raw
    img qcow2 ext-l2 -o extended_l2=on
    img qcow2 zstd -o compression_type=zstd
    ;;&
image_qcow | image_probe)
    img qcow plain
    img qcow backed -b base.raw -F raw
    ;;&
image_qed | image_probe)
    img qed plain
    img qed backed -b base.raw -F raw
    img qed backed-qcow2 -b base.qcow2 -F qcow2
    ;;&
image_vmdk | image_probe)
    img vmdk sparse
    img vmdk stream -o subformat=streamOptimized
    img vmdk flat -o subformat=monolithicFlat
    img vmdk split -o subformat=twoGbMaxExtentSparse
    img vmdk backed -b "$work/base.qcow2" -F qcow2 2>/dev/null || true
    ;;&
image_vpc | image_probe)
    img vpc dynamic
    img vpc fixed -o subformat=fixed && tail -c 512 fixed > "$seeds/vpc-footer" || true
    ;;&
image_vdi | image_probe)
    img vdi dynamic
    img vdi static -o static=on
    ;;&
image_ploop | image_probe)
    img parallels plain
    ;;&
image_luks | image_probe)
    img luks plain --object secret,id=s0,data=abc -o key-secret=s0,iter-time=10
    ;;&
image_cow | image_probe)
    # UML cow v2: magic, version, 1024-byte backing name, mtime, size, sector size, align
    raw_header cow-backed 0 'OOOM\0\0\0\2base.raw'
    raw_header cow-plain 0 'OOOM\0\0\0\2'
    ;;&
image_iso | image_probe)
    raw_header iso 32769 'CD001\1'
    ;;&
backing_name)
    for s in base.raw /abs/base.qcow2 ../rel/base nbd://h:10809/e 'nbd:unix:/s:exportname=e' \
        'json:{"driver":"qcow2","file":{"driver":"file","filename":"/b"}}' \
        'json:{"file.driver":"nbd","file.server.type":"inet","file.server.host":"h","file.server.port":"1"}' \
        'rbd:pool/img:id=admin' 'gluster://h/vol/img' 'iscsi://h/iqn.2000-01.com.ex:t/1' \
        'http://h/img' 'sheepdog://h/vdi' 'ssh://u@h/img'; do
        printf '%s' "$s" > "$seeds/$(printf '%s' "$s" | md5sum | cut -c1-12)"
    done
    ;;
image_*) ;;
*) echo "unknown target $target" >&2; exit 1 ;;
esac
cd "$root/fuzz"
cargo +nightly fuzz run "$target" -- -max_total_time="$secs" -rss_limit_mb=2048 -max_len=33280
