#!/usr/bin/env bash
# Soak: builds the release handler, runs scripts/soak.py (events with duplicate deliveries against a
# flaky target, reconciled: every event notified exactly once), then scripts/load-steady.sh (60 s at
# 64 connections: zero errors, every invocation logged, no RSS drift). Loopback only, bounded.
#   scripts/soak.sh [--events N] [--seconds S] [--duplicates 0.05] [--fail-rate 0.2] [--concurrency 16]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin handler
python3 scripts/soak.py "$@"
exec scripts/load-steady.sh
