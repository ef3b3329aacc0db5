#!/usr/bin/env bash
# Where a server's resident pages of its executable come from (BENCHMARKS.md, "Where the memory goes").
#
#   CARGO_TARGET_DIR=target/prof CARGO_PROFILE_RELEASE_STRIP=none \
#     cargo build --release --bin handler --target x86_64-unknown-linux-musl
#   scripts/fault-windows.sh target/prof/x86_64-unknown-linux-musl/release/handler
#
# Starts BINARY as the Functions host does (FUNCTIONS_CUSTOMHANDLER_PORT, working directory = the
# repository root), under `perf record -e minor-faults -d`, which records every page fault with its
# address; waits until it answers GET /, sends one ModelDeployed invocation, then loads it with wrk for
# $LOAD_SECS s. The kernel maps file pages in 64 KiB windows around each fault (fault-around), so the
# executable's resident size follows the number of windows touched. Prints, for each mapping of the
# executable, its windows and how many the start (up to the first answer) and the load mapped, the page
# faults to the first answer, and the crate whose code made the first fault in each code window mapped
# at start (names need a build with symbols). Works for any server binary, the baseline too.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BINARY=$(realpath "${1:?usage: scripts/fault-windows.sh BINARY}")
# The invocation body is built by `handler invocation`: the handler beside BINARY (BINARY itself, or
# the one built with the baseline), or HANDLER. The baseline has no commands: given one, it serves.
HANDLER=${HANDLER:-$(dirname "$BINARY")/handler}
[ -x "$HANDLER" ] || { echo "error: no handler at $HANDLER to build the invocation; set HANDLER" >&2; exit 1; }
HANDLER=$(realpath "$HANDLER")
LOAD_SECS=${LOAD_SECS:-1}
FUNCTION=MlWorkspaceEvents

# shellcheck source=scripts/load-lib.sh
. scripts/load-lib.sh
ensure_tools
command -v perf >/dev/null 2>&1 || { log "error: perf is required (Debian: linux-perf)"; exit 1; }

WORK=$(mktemp -d /tmp/aml-events-faults.XXXXXX)
PERF_PID=""
cleanup() {
  [ -z "$PERF_PID" ] || kill -INT "$PERF_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

BODY="$WORK/invocation.json"
invocation_body "$HANDLER" tests/fixtures/eventgrid-model-deployed.json "$BODY"
PORT=$(free_port)
# CLOCK_MONOTONIC timestamps, so the moment of the first answer (taken below) splits start and load.
FUNCTIONS_CUSTOMHANDLER_PORT=$PORT FUNCTIONS_CUSTOMHANDLER_WORKER_ID=faults \
  perf record -q -k mono -e minor-faults -c 1 -d -o "$WORK/faults.data" "$BINARY" >/dev/null 2>"$WORK/stderr" &
PERF_PID=$!
wait_ready "$(basename "$BINARY")" "$PERF_PID" "$PORT" "$WORK/stderr"
status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Content-Type: application/json' \
  --data-binary @"$BODY" "http://127.0.0.1:$PORT/$FUNCTION")
[ "$status" = 200 ] || { log "error: the first invocation answered $status"; exit 1; }
answered=$(python3 -c 'import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC))')
WRK_BODY="$BODY" wrk -t2 -c32 -d"${LOAD_SECS}s" -s scripts/wrk-invocation.lua \
  "http://127.0.0.1:$PORT/$FUNCTION" >/dev/null
kill -INT "$PERF_PID"
wait "$PERF_PID" || true
PERF_PID=""

perf script -i "$WORK/faults.data" --ns --show-mmap-events -F time,addr,ip,sym >"$WORK/faults.txt" 2>/dev/null
python3 - "$BINARY" "$answered" "$WORK/faults.txt" <<'PY'
import collections, re, sys

binary, answered, recorded = sys.argv[1], int(sys.argv[2]), sys.argv[3]
WINDOW = 64 * 1024
maps = []  # (start, end, perms)
faults = []  # (ns, addr, symbol of the faulting instruction)
mmap = re.compile(r"PERF_RECORD_MMAP2 .*\[(0x[0-9a-f]+)\((0x[0-9a-f]+)\) @ .*\]: (\S+) (\S+)$")
# "time: addr addr-symbol ip ip-symbol"; symbols may hold spaces, so the ip is the last hex word.
fault = re.compile(r"^\s*(\d+)\.(\d+):\s+([0-9a-f]+)\s+.*\s([0-9a-f]{6,16})\s+(.*)$")
for line in open(recorded, errors="replace"):
    m = mmap.search(line)
    if m:
        if m.group(4) == binary:
            start = int(m.group(1), 16)
            maps.append((start, start + int(m.group(2), 16), m.group(3)))
        continue
    m = fault.match(line)
    if m:
        ns = int(m.group(1)) * 10**9 + int(m.group(2).ljust(9, "0")[:9])
        faults.append((ns, int(m.group(3), 16), m.group(5).strip()))


# The kernel first maps the whole file, then each segment over it: each mapping ends where the next begins.
maps.sort()
maps = [(lo, min(hi, maps[i + 1][0]) if i + 1 < len(maps) else hi, perms)
        for i, (lo, hi, perms) in enumerate(maps)]


def crate(symbol):
    """The first path segment of a demangled Rust symbol: `<alloc::vec::Vec<T>>::push` -> alloc."""
    s = re.sub(r"^(?:[<&(]|impl |dyn |mut |core::ptr::drop_in_place<)+", "", symbol)
    m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", s)
    return m.group(0) if m else symbol


def mapping(addr):
    return next((i for i, (lo, hi, _) in enumerate(maps) if lo <= addr < hi), None)


first = {}  # (mapping, window) -> (ns, symbol)
for ns, addr, symbol in faults:
    i = mapping(addr)
    if i is not None and (i, addr // WINDOW) not in first:
        first[(i, addr // WINDOW)] = (ns, symbol)
print(f"{binary}")
print(f"page faults to the first answer: {sum(1 for ns, _, _ in faults if ns <= answered)}"
      f" (all kinds; {len(faults)} in the whole run)")
print(f"{'mapping':<12} {'KiB':>7} {'64 KiB windows':>15} {'mapped at start':>16} {'by the load':>12}")
for i, (lo, hi, perms) in enumerate(maps):
    windows = (hi - 1) // WINDOW - lo // WINDOW + 1
    start = sum(1 for (j, _), (ns, _) in first.items() if j == i and ns <= answered)
    load = sum(1 for (j, _), (ns, _) in first.items() if j == i and ns > answered)
    print(f"{perms:<12} {(hi - lo) // 1024:>7} {windows:>15} {start:>16} {load:>12}")
code = [i for i, (_, _, perms) in enumerate(maps) if "x" in perms]
by_crate = collections.Counter(
    crate(symbol) for (i, _), (ns, symbol) in first.items() if i in code and ns <= answered)
print("code windows mapped at start, by the crate that faulted first:",
      ", ".join(f"{name} {n}" for name, n in by_crate.most_common()))
PY
