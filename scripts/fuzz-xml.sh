#!/usr/bin/env bash
# Runs one XML model fuzz target (xml_domain, xml_network, xml_pool, xml_volume, xml_domcaps,
# xml_secret or xml_caps) for SECONDS (default 600), seeding its corpus with libvirt's own test
# documents ($RVIRT_LIBVIRT_SRC, else fetched into the cargo target dir by scripts/fetch-libvirt-src.sh;
# never committed). Needs cargo-fuzz and the nightly toolchain.
#
# usage: scripts/fuzz-xml.sh TARGET [SECONDS]
set -euo pipefail
target=${1:?xml_domain, xml_network, xml_pool, xml_volume, xml_domcaps, xml_secret or xml_caps}
secs=${2:-600}
root=$(cd "$(dirname "$0")/.." && pwd)
tree=${RVIRT_LIBVIRT_SRC:-$("$root/scripts/fetch-libvirt-src.sh" "${CARGO_TARGET_DIR:-$root/target}/libvirt-src")}
case "$target" in
    xml_domain) dirs="genericxml2xmlindata qemuxml2argvdata qemuxml2xmloutdata" ;;
    xml_network) dirs="networkxml2xmlin networkxml2xmlout" ;;
    xml_pool) dirs="storagepoolxml2xmlin storagepoolxml2xmlout" ;;
    xml_volume) dirs="storagevolxml2xmlin storagevolxml2xmlout" ;;
    xml_domcaps) dirs="domaincapsdata" ;;
    xml_secret) dirs="secretxml2xmlin" ;;
    xml_caps) dirs="vircaps2xmldata capabilityschemadata qemucaps2xmloutdata" ;;
    *) echo "unknown target $target" >&2; exit 1 ;;
esac
seeds="$root/fuzz/corpus/$target"
mkdir -p "$seeds"
for d in $dirs; do
    for f in "$tree/tests/$d"/*.xml; do
        [ -f "$f" ] || continue
        if [ "$target" = xml_volume ]; then
            # first byte picks the pool type; 0 = dir
            { printf '\0'; cat "$f"; } > "$seeds/$(basename "$f")"
        else
            cp "$f" "$seeds/"
        fi
    done
done
cd "$root/fuzz"
cargo +nightly fuzz run "$target" -- -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536
