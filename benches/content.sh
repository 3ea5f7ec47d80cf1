#!/usr/bin/env bash
# Content-serving benchmark: installs nginx if needed, builds release binaries, fills an Outpost
# cache from the in-process lab (1 GiB in files of 1-100 MiB by default) and compares Outpost's
# /Content with nginx serving the same files (hard links, same disk) in one run: full GETs,
# 1 MiB ranges, Outpost's peak RSS, cold-miss time to first byte and a 50-client herd on one
# uncached file. Arguments go to content-bench (e.g. --total-mib 256 for a quick run, --keep,
# --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-nginx
cargo build --release --locked -p outpost -p outpost-benches --bin outpost --bin content-bench
./target/release/content-bench --outpost ./target/release/outpost "$@"
