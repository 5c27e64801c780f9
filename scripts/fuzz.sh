#!/usr/bin/env bash
# Runs the RPC frame + XDR fuzz target for SECONDS (default 600), seeding the corpus with the
# packets captured between virsh 9.0 and libvirtd 9.0. Needs cargo-fuzz and the nightly toolchain.
set -euo pipefail
secs=${1:-600}
cd "$(dirname "$0")/../fuzz"
mkdir -p corpus/rpc_frame
for log in ../../shared/reference/captures/*.log ../tests/captures/*.log; do
    [ -f "$log" ] || continue
    grep -h '^  ' "$log" | awk '{print $1}' | while read -r h; do
        echo "$h" | xxd -r -p > "corpus/rpc_frame/cap-$(echo "$h" | md5sum | cut -c1-12)"
    done
done
cargo +nightly fuzz run rpc_frame -- -max_total_time="$secs" -rss_limit_mb=2048
