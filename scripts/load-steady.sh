#!/usr/bin/env bash
# Steady load: the release handler under $SECONDS_LOAD s of invocations at $CONNECTIONS connections,
# started as the Functions host starts it (FUNCTIONS_CUSTOMHANDLER_PORT, the repository root as the
# function app, stdout through a pipe). Checks, and exits 1 when one fails:
#   - zero errors: every answer a 200, no socket errors (wrk);
#   - nothing lost: one "ModelDeployed:" log line per answered invocation (at least as many lines as
#     wrk counted answers; requests in flight when wrk stops may add a few);
#   - no leak: RSS at the end within $DRIFT_LIMIT % of RSS after the $WARMUP s warm-up.
# Prints requests/s, p50/p99/max latency and the RSS figures. Loopback only; bounded; everything it
# starts is killed on exit. Part of scripts/soak.sh; RELIABILITY.md has a recorded run.
#
#   scripts/load-steady.sh            # SECONDS_LOAD=60 CONNECTIONS=64 WARMUP=10 THREADS=2 DRIFT_LIMIT=10
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SECONDS_LOAD=${SECONDS_LOAD:-60}
CONNECTIONS=${CONNECTIONS:-64}
WARMUP=${WARMUP:-10}
THREADS=${THREADS:-2}
DRIFT_LIMIT=${DRIFT_LIMIT:-10}
FUNCTION=MlWorkspaceEvents
FIXTURE=tests/fixtures/eventgrid-model-deployed.json

WORK=$(mktemp -d /tmp/aml-events-steady.XXXXXX)
PID=
cleanup() {
  [ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# shellcheck source=scripts/load-lib.sh
. scripts/load-lib.sh
ensure_tools
cargo build --release --locked --bin handler >&2
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
HANDLER="$target_dir/release/handler"

BODY="$WORK/invocation.json"
invocation_body "$HANDLER" "$FIXTURE" "$BODY"

PORT=$(free_port)
# Every stdout line is read (as the host does); the ModelDeployed summaries are counted. Under the
# Functions door a hook's line is in the answer's Logs and on stdout only at debug, so debug is on for
# the hooks: each invocation then writes one stdout line, and the count checks that none is lost.
(cd "$ROOT" && exec env FUNCTIONS_CUSTOMHANDLER_PORT="$PORT" FUNCTIONS_CUSTOMHANDLER_WORKER_ID=steady \
    RUST_LOG=info,aml_events::hooks=debug "$HANDLER") > >(exec grep -c '"message":"ModelDeployed: ' >"$WORK/lines") 2>"$WORK/stderr" &
PID=$!
wait_ready handler "$PID" "$PORT" "$WORK/stderr"

rss() { awk '$1 == "VmRSS:" {print $2}' "/proc/$PID/status"; }
url="http://127.0.0.1:$PORT/$FUNCTION"
echo "steady load — $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wrk: ${WARMUP}s warm-up, then ${SECONDS_LOAD}s, $THREADS threads, $CONNECTIONS connections, POST /$FUNCTION"
WRK_BODY="$BODY" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" -s scripts/wrk-invocation.lua "$url" >"$WORK/warmup"
rss_warm=$(rss)
WRK_BODY="$BODY" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_LOAD}s" --latency -s scripts/wrk-invocation.lua "$url" >"$WORK/load"
rss_end=$(rss)
hwm=$(awk '$1 == "VmHWM:" {print $2}' "/proc/$PID/status")

kill -TERM "$PID"
deadline=$((SECONDS + 15))
while kill -0 "$PID" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
wait "$PID" 2>/dev/null || { log "error: the handler did not exit cleanly on SIGTERM"; exit 1; }
PID=
sleep 0.2  # the counting pipe drains after the handler's last write

answered() { awk '/requests in/ {print $1}' "$1"; }
requests=$(( $(answered "$WORK/warmup") + $(answered "$WORK/load") ))
lines=$(cat "$WORK/lines")
rps=$(awk '/^Requests\/sec:/ {print $2}' "$WORK/load")
p50=$(awk '$1 == "50%" {print $2}' "$WORK/load")
p99=$(awk '$1 == "99%" {print $2}' "$WORK/load")
max=$(awk '$1 == "Latency" {print $4}' "$WORK/load")
drift=$(awk -v a="$rss_warm" -v b="$rss_end" 'BEGIN { printf "%.1f", (b - a) * 100 / a }')
echo "requests/s $rps; latency p50 $p50, p99 $p99, max $max"
echo "answered $requests invocations (warm-up included); ModelDeployed log lines: $lines"
echo "RSS after warm-up $rss_warm KiB, at the end $rss_end KiB (drift $drift %, limit $DRIFT_LIMIT %); peak $hwm KiB"
echo "stderr lines: $(wc -l <"$WORK/stderr")"

failed=0
if grep -q -E 'Non-2xx|Socket errors' "$WORK/warmup" "$WORK/load"; then
  log "FAILED: errors under load:"; cat "$WORK/load" >&2; failed=1
fi
if [ "$lines" -lt "$requests" ]; then
  log "FAILED: $requests answered invocations but only $lines log lines"; failed=1
fi
if ! awk -v d="$drift" -v l="$DRIFT_LIMIT" 'BEGIN { exit !(d <= l) }'; then
  log "FAILED: RSS grew by $drift % under steady load"; failed=1
fi
[ "$failed" = 0 ] && echo "ok: zero errors, every invocation logged, RSS drift within $DRIFT_LIMIT %"
exit "$failed"
