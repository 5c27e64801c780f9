#!/usr/bin/env bash
# The full test suite, as CI runs it (.ci/run calls exactly this). Installs what it needs when
# missing (Debian's libvirt 9.0 daemon, virsh and python3-libvirt as the reference; QEMU from
# bookworm-backports and the packages the test guest is built from), builds every
# crate, checks formatting and lints, and runs unit, integration, differential and end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/install-qemu.sh
# libvirt 9.0's own test data (chain cases, qemu-img command lines, XML corpora), fetched from
# Debian's source package into a cache at test time, never committed.
LIBVIRT_SRC=$(scripts/fetch-libvirt-src.sh target/libvirt-src)
export LIBVIRT_SRC RVIRT_LIBVIRT_SRC="$LIBVIRT_SRC"
cargo fmt --all -- --check
cargo build --workspace --all-targets --locked
cargo clippy --workspace --all-targets --locked -- -D warnings
# End-to-end tests start daemons and real clients; run them one test binary at a time.
cargo test --workspace --locked -- --test-threads=2
