#!/usr/bin/env bash
# Soak: builds the release handler and runs scripts/soak.py (a few minutes, loopback only, bounded).
#   scripts/soak.sh [--events N] [--seconds S] [--duplicates 0.05] [--fail-rate 0.2] [--concurrency 16]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin handler
exec python3 scripts/soak.py "$@"
