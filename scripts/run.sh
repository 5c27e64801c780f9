#!/usr/bin/env bash
# The main job: build rvirt, start the rvirtd session daemon (if none is running) and use it
# through rvsh. Arguments are passed to rvsh; without arguments rvsh starts its interactive shell.
#
#   scripts/run.sh                        # interactive rvsh on test:///default served by rvirtd
#   scripts/run.sh list --all             # one command
#   RVIRT_URI=qemu:///session scripts/run.sh list
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p rvirtd -p rvsh
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/run/user/$(id -u)}
mkdir -p "$XDG_RUNTIME_DIR"
sock="$XDG_RUNTIME_DIR/rvirt/rvirt-sock"
if ! [ -S "$sock" ] || ! target/release/rvsh -c "test+unix:///default?socket=$sock" uri >/dev/null 2>&1; then
    target/release/rvirtd --session --daemon --timeout 600
    for _ in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.05; done
fi
exec target/release/rvsh -c "${RVIRT_URI:-test+unix:///default?socket=$sock}" "$@"
