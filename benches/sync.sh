#!/usr/bin/env bash
# Sync benchmark: builds release binaries and syncs a 20,000-update lab catalog, reporting
# wall time, peak RSS and bytes next to a raw replay of the same requests (same run).
set -euo pipefail
cd "$(dirname "$0")/.."
updates="${1:-20000}"
cargo build --release --locked -p outpost -p outpost-benches --bin outpost --bin sync-bench
./target/release/sync-bench --updates "$updates" --outpost ./target/release/outpost
