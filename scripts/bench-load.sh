#!/usr/bin/env bash
# Load, cold-start, memory and size benchmark of the release `handler` against the floor of its HTTP
# stack (examples/baseline.rs: the same warp server answering a fixed body). See BENCHMARKS.md.
#
#   scripts/bench-load.sh            # the static musl build that scripts/package.sh ships (the default)
#   scripts/bench-load.sh --glibc    # the host (glibc) build instead; TARGET=host does the same
#   TARGET=<triple> scripts/bench-load.sh   # any other installed target
#
# The default target is chosen by scripts/musl-target.sh, as scripts/package.sh chooses it (it adds the
# Rust target and installs musl-tools when missing); when musl cannot be had, the host build is measured,
# as package.sh would then ship it, and the report's first line says so. The baseline is built in the
# same cargo invocation for the same target, so every ratio compares like with like (the baseline keeps
# the target's own allocator: it is the floor of the stack, not a rival build).
#
# Both servers are started as the Functions host starts the handler: FUNCTIONS_CUSTOMHANDLER_PORT on a
# free port, working directory = the function app root (so the handler reads the shipped ./hooks.toml:
# one log line per event), GET / polled every 25 ms until it answers, stdout read through a pipe. All
# traffic goes to 127.0.0.1 only; every request loop is bounded; every process started here is killed on
# exit. Measurements (about 50 s once the binaries are built; the profile-guided build about 5 minutes
# on 2 cores, 8 from nothing):
#
#   1. throughput and latency: wrk, $THREADS threads, $CONNECTIONS connections, POSTing the ModelDeployed
#      invocation (scripts/wrk-invocation.lua); $ROUNDS rounds, each starting every server in turn for a
#      $WARMUP s warm-up and $DURATION s measured, so that drift on a shared machine hits all alike;
#      each figure is the mean over the rounds; also each server's CPU time per request (user + system
#      from /proc/PID/stat over the measured seconds), which another tenant's load moves less;
#   2. cold start: median over $COLD_STARTS starts of spawn -> first 200 answer to an invocation (the
#      invocation is retried every 0.25 ms until it is answered: at 1 ms the polling period alone
#      moved single starts by up to 1 ms);
#   3. peak RSS (VmHWM) after $RSS_INVOCATIONS invocations over $CONNECTIONS keep-alive connections;
#   4. the size of the release binary.
#
# Targets (issue 11), for the handler against the baseline of the same run: throughput >= 0.55 x,
# cold start <= 1.5 x, peak RSS <= 3 x, binary under 8 MiB. Prints everything, then the same figures as
# Markdown table rows for BENCHMARKS.md; exits 2 when a target is missed, 1 on errors.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
COLD_STARTS=${COLD_STARTS:-20}
RSS_INVOCATIONS=${RSS_INVOCATIONS:-10000}
TARGET=${TARGET:-}
for arg in "$@"; do
  case $arg in
    --glibc) TARGET=host ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--glibc]" >&2; exit 1 ;;
  esac
done
FUNCTION=MlWorkspaceEvents
FIXTURE=tests/fixtures/eventgrid-model-deployed.json

WORK=$(mktemp -d /tmp/aml-events-bench.XXXXXX)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=scripts/load-lib.sh
. scripts/load-lib.sh
ensure_tools

# --- build -----------------------------------------------------------------------------------------
# The target: what scripts/package.sh ships unless told otherwise.
case $TARGET in
  host|glibc) TARGET= ; target_name="host target ($(rustc -vV | awk '/^host:/ {print $2}'), glibc)" ;;
  "")
    # shellcheck source=scripts/musl-target.sh
    { . scripts/musl-target.sh; } >&2
    TARGET=$target
    if [ -n "$TARGET" ]; then
      target_name="$TARGET (static, as scripts/package.sh ships it)"
    else
      target_name="host target: WARNING, musl is not available here, so this is the glibc build that scripts/package.sh would then ship"
      log "warning: the musl target is not available; measuring the host (glibc) build"
    fi
    ;;
  *) target_name=$TARGET ;;
esac
target_args=()
if [ -n "$TARGET" ]; then
  target_args=(--target "$TARGET")
fi
log "building handler and baseline (release${TARGET:+, $TARGET})"
build_start=$(date +%s)
# Two invocations. The handler is built exactly as scripts/package.sh builds it (release-build.sh:
# profile-guided; the baseline is a plain release build, the floor of the stack as it comes). The baseline
# (examples/baseline.rs, built by the bench/baseline package so that the main crate's dev-dependencies
# stay out) asks for warp's `server` feature, which the handler does not use: built in the same
# invocation, cargo would unify that feature into the handler's warp and with it hyper-util's auto
# server and HTTP/2 (h2), and the binary measured would not be the one shipped (until 2026-12-02 it
# was: 1.5 MB more code and 33 KiB more relocated data, BENCHMARKS.md). Apart, the baseline compiles
# its own warp, hyper and hyper-util; everything else is shared.
# shellcheck source=scripts/release-build.sh
. scripts/release-build.sh
release_build "$TARGET" -p aml-events >&2
cargo build --release --locked -p aml-events-baseline --bin baseline "${target_args[@]}" >&2
build_secs=$(( $(date +%s) - build_start ))
# The build leaves hundreds of MiB to write back; writing them during the first measurement skews it.
sync
target_dir=$(cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
out_dir="$target_dir/${TARGET:+$TARGET/}release"
HANDLER=$binary  # release_build says where it put it
BASELINE="$out_dir/baseline"

# --- the invocation body (`handler invocation`, as the tests build it) ------------------------------
BODY="$WORK/invocation.json"
invocation_body "$HANDLER" "$FIXTURE" "$BODY"


# start NAME BINARY: starts a server as the host does and sets PORT and PID.
start() {
  local name=$1 binary=$2
  PORT=$(free_port)
  # stdout goes through a pipe, as under the host (the handler writes one JSON log line per event).
  (cd "$ROOT" && exec env FUNCTIONS_CUSTOMHANDLER_PORT="$PORT" FUNCTIONS_CUSTOMHANDLER_WORKER_ID=bench \
      ${SERVER_ENV:-} "$binary") > >(exec cat >/dev/null) 2>"$WORK/$name.stderr" &
  PID=$!
  PIDS+=("$PID")
  wait_ready "$name" "$PID" "$PORT" "$WORK/$name.stderr"
}

stop() {
  kill -TERM "$PID" 2>/dev/null || true
  local deadline=$((SECONDS + 15))
  while kill -0 "$PID" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
  kill -KILL "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PIDS=()  # one server at a time: nothing left for the exit trap
}

# check NAME: one invocation must answer 200 (and the handler must log the ModelDeployed line).
check() {
  local name=$1 answer status
  answer=$(curl -s -w '\n%{http_code}' --max-time 5 -H 'Content-Type: application/json' \
    -H 'X-Azure-Functions-InvocationId: bench-check' --data-binary @"$BODY" \
    "http://127.0.0.1:$PORT/$FUNCTION")
  status=${answer##*$'\n'}
  if [ "$status" != 200 ]; then
    log "error: $name answered $status: ${answer%$'\n'*}"; exit 1
  fi
  if [ "$name" = handler ] && ! grep -q 'ModelDeployed: service my-sklearn-service' <<<"$answer"; then
    log "error: the handler did not log the event: ${answer%$'\n'*}"; exit 1
  fi
}

# to_ms VALUE: wrk's 12.34us / 1.23ms / 1.02s -> milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000
    printf "%.3f", n }'
}

# load NAME BINARY: one round: starts the server, warms it up, measures, stops it; adds requests/s, p50
# and p99 (ms) and the server's CPU per request (us) to SUM_RPS, SUM_P50, SUM_P99 and SUM_CPU[NAME].
declare -A SUM_RPS SUM_P50 SUM_P99 SUM_CPU
CLK_TCK=$(getconf CLK_TCK)
# cpu_ticks PID: the process's user + system CPU time so far, in clock ticks (/proc/PID/stat 14 and 15).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
load() {
  local name=$1 binary=$2
  local out="$WORK/$name.wrk"
  start "$name" "$binary"
  check "$name"
  local url="http://127.0.0.1:$PORT/$FUNCTION"
  WRK_BODY="$BODY" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" -s scripts/wrk-invocation.lua "$url" >/dev/null
  local cpu0 cpu1
  cpu0=$(cpu_ticks "$PID")
  WRK_BODY="$BODY" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s scripts/wrk-invocation.lua "$url" >"$out"
  cpu1=$(cpu_ticks "$PID")
  stop
  if grep -q -E 'Non-2xx|Socket errors' "$out"; then
    log "error: $name had failed requests:"; cat "$out" >&2; exit 1
  fi
  local rps p50 p99 requests cpu
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
  requests=$(awk '/ requests in / {print $1}' "$out")
  cpu=$(awk -v a="$cpu0" -v b="$cpu1" -v hz="$CLK_TCK" -v n="$requests" 'BEGIN { printf "%.1f", (b - a) * 1e6 / hz / n }')
  log "$name: $rps req/s, p50 $p50 ms, p99 $p99 ms, $cpu us CPU per request"
  SUM_CPU[$name]=$(awk -v a="${SUM_CPU[$name]:-0}" -v b="$cpu" 'BEGIN { print a + b }')
  SUM_RPS[$name]=$(awk -v a="${SUM_RPS[$name]:-0}" -v b="$rps" 'BEGIN { print a + b }')
  SUM_P50[$name]=$(awk -v a="${SUM_P50[$name]:-0}" -v b="$p50" 'BEGIN { print a + b }')
  SUM_P99[$name]=$(awk -v a="${SUM_P99[$name]:-0}" -v b="$p99" 'BEGIN { print a + b }')
}

# mean NAME: sets RPS, P50, P99, CPU to the means over the rounds.
mean() {
  CPU=$(awk -v s="${SUM_CPU[$1]}" -v n="$ROUNDS" 'BEGIN { printf "%.1f", s / n }')
  RPS=$(awk -v s="${SUM_RPS[$1]}" -v n="$ROUNDS" 'BEGIN { printf "%.0f", s / n }')
  P50=$(awk -v s="${SUM_P50[$1]}" -v n="$ROUNDS" 'BEGIN { printf "%.3f", s / n }')
  P99=$(awk -v s="${SUM_P99[$1]}" -v n="$ROUNDS" 'BEGIN { printf "%.3f", s / n }')
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# verdict VALUE OP LIMIT: "ok" or "MISSED".
verdict() {
  if awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { exit !((op == ">=") ? v >= l : v <= l) }'; then
    echo "ok"
  else
    echo "MISSED"
  fi
}

START_UTC=$(date -u '+%Y-%m-%d %H:%M UTC') LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then COMMIT="$COMMIT+changes"; fi
# The allocator, as far as the stripped binary tells: mimalloc leaves its option names in it.
if LC_ALL=C grep -qa 'mimalloc' "$HANDLER"; then ALLOCATOR=mimalloc; else ALLOCATOR="the target's own"; fi
echo "aml-events load benchmark — $START_UTC, commit $COMMIT, $(nproc) cores, load average before: $LOAD_BEFORE"
echo "build: $target_name; handler allocator: $ALLOCATOR"
echo "wrk: $ROUNDS rounds of ${DURATION}s per server (each after ${WARMUP}s warm-up), $THREADS threads, $CONNECTIONS connections, POST /$FUNCTION ($(stat -c %s "$BODY") bytes, ModelDeployed)"
echo

# --- 1. throughput and latency ---------------------------------------------------------------------
for _ in $(seq "$ROUNDS"); do
  load baseline "$BASELINE"
  load handler "$HANDLER"
  # A second reference: the baseline that also parses each body into a serde_json::Value.
  SERVER_ENV=BASELINE_PARSE=1 load baseline+parse "$BASELINE"
done
mean baseline; B_RPS=$RPS B_P50=$P50 B_P99=$P99 B_CPU=$CPU
mean handler; H_RPS=$RPS H_P50=$P50 H_P99=$P99 H_CPU=$CPU
mean baseline+parse; V_RPS=$RPS V_P50=$P50 V_P99=$P99 V_CPU=$CPU
tput_ratio=$(ratio "$H_RPS" "$B_RPS")
printf '%-15s %12s %10s %10s %12s %12s\n' "" "requests/s" "p50 ms" "p99 ms" "/ baseline" "CPU us/req"
printf '%-15s %12s %10s %10s %12s %12s\n' baseline "$B_RPS" "$B_P50" "$B_P99" 1.00 "$B_CPU"
printf '%-15s %12s %10s %10s %12s %12s\n' baseline+parse "$V_RPS" "$V_P50" "$V_P99" "$(ratio "$V_RPS" "$B_RPS")" "$V_CPU"
printf '%-15s %12s %10s %10s %12s %12s\n' handler "$H_RPS" "$H_P50" "$H_P99" "$tput_ratio" "$H_CPU"
printf '%-15s %12s %10s %10s %12s %12s\n' "handler/base" "$tput_ratio" "$(ratio "$H_P50" "$B_P50")" "$(ratio "$H_P99" "$B_P99")" "" "$(ratio "$H_CPU" "$B_CPU")"
echo

# --- 2. cold start and 3. peak RSS (python3: perf_counter, http.client, asyncio) ---------------------
python3 - "$HANDLER" "$BASELINE" "$BODY" "$FUNCTION" "$COLD_STARTS" "$RSS_INVOCATIONS" "$CONNECTIONS" \
  "$ROOT" "$WORK/measure.out" <<'PY'
import asyncio, http.client, importlib.util, json, os, statistics, sys, time

handler, baseline, body_path, function, starts, invocations, connections, root, out = sys.argv[1:]
starts, invocations, connections = int(starts), int(invocations), int(connections)
body = open(body_path, "rb").read()
servers = {"baseline": baseline, "handler": handler}


# The cold start, and how a server is started and stopped, are scripts/start-faults.py's, so that
# its fault counts and this script's times come from the same starts.
sys.dont_write_bytecode = True  # no scripts/__pycache__ in the work tree (the report names a dirty tree)
spec = importlib.util.spec_from_file_location("start_faults", os.path.join(root, "scripts", "start-faults.py"))
start_faults = importlib.util.module_from_spec(spec)
spec.loader.exec_module(start_faults)
free_port, stop = start_faults.free_port, start_faults.stop
BENCH_ENV = {"FUNCTIONS_CUSTOMHANDLER_WORKER_ID": "bench"}


def spawn(binary, port):
    return start_faults.spawn(binary, port, BENCH_ENV)


def cold_start(binary):
    return start_faults.cold_start(binary, BENCH_ENV, body)[0]


def vm(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])  # kB
    raise KeyError(key)


async def load(port, total, connections):
    request = (f"POST /{function} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Content-Type: application/json; charset=utf-8\r\n"
               f"X-Azure-Functions-InvocationId: rss\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    remaining = [total]
    failures = []

    async def worker():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while remaining[0] > 0:
                remaining[0] -= 1
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = next(int(l.split(b":", 1)[1]) for l in head.split(b"\r\n")
                              if l.lower().startswith(b"content-length:"))
                await reader.readexactly(length)
                if status != 200:
                    failures.append(status)
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    if failures:
        raise SystemExit(f"{len(failures)} invocations failed: {failures[:5]}")


def peak_rss(binary):
    port = free_port()
    proc = spawn(binary, port)
    try:
        deadline = time.monotonic() + 30
        while True:  # GET / every 25 ms, as the host does
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                conn.request("GET", "/")
                conn.getresponse().read()
                conn.close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit(f"{binary} did not become ready")
                time.sleep(0.025)
        idle = vm(proc.pid, "VmHWM")
        started = time.perf_counter()
        asyncio.run(load(port, invocations, connections))
        elapsed = time.perf_counter() - started
        return idle, vm(proc.pid, "VmHWM"), vm(proc.pid, "RssAnon"), vm(proc.pid, "RssFile"), elapsed
    finally:
        stop(proc)


times = {name: [] for name in servers}
for _ in range(starts):  # interleaved, so drift on a shared machine hits both alike
    for name, binary in servers.items():
        times[name].append(cold_start(binary))
result = {}
for name, binary in servers.items():
    samples = sorted(times[name])
    idle, hwm, anon, file, elapsed = peak_rss(binary)
    result[name] = {
        "cold_median_ms": statistics.median(samples) * 1000,
        "cold_min_ms": samples[0] * 1000,
        "cold_max_ms": samples[-1] * 1000,
        "idle_hwm_kb": idle,
        "hwm_kb": hwm,
        "anon_kb": anon,
        "file_kb": file,
        "load_secs": elapsed,
    }
json.dump(result, open(out, "w"))
PY

read_measure() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]])' "$WORK/measure.out" "$1" "$2"; }
fmt() { awk -v v="$1" 'BEGIN { printf "%.1f", v }'; }
B_COLD=$(read_measure baseline cold_median_ms); H_COLD=$(read_measure handler cold_median_ms)
B_HWM=$(read_measure baseline hwm_kb); H_HWM=$(read_measure handler hwm_kb)
cold_ratio=$(ratio "$H_COLD" "$B_COLD")
rss_ratio=$(ratio "$H_HWM" "$B_HWM")
echo "cold start (spawn -> first 200 to an invocation), median of $COLD_STARTS [min..max] ms:"
for name in baseline handler; do
  printf '  %-9s %7s  [%s..%s]\n' "$name" "$(fmt "$(read_measure $name cold_median_ms)")" \
    "$(fmt "$(read_measure $name cold_min_ms)")" "$(fmt "$(read_measure $name cold_max_ms)")"
done
echo "peak RSS (VmHWM) after $RSS_INVOCATIONS invocations over $CONNECTIONS connections, KiB:"
for name in baseline handler; do
  printf '  %-9s %7s  (idle %s; after the load: anonymous %s + file-backed %s)\n' "$name" \
    "$(read_measure $name hwm_kb)" "$(read_measure $name idle_hwm_kb)" \
    "$(read_measure $name anon_kb)" "$(read_measure $name file_kb)"
done

size=$(stat -c %s "$HANDLER")
size_mib=$(awk -v s="$size" 'BEGIN { printf "%.2f", s / 1048576 }')
echo "release binary: $HANDLER, $size bytes ($size_mib MiB); baseline $(stat -c %s "$BASELINE") bytes"
echo "build step: ${build_secs}s; load average after: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every figure)"
echo
echo "targets (issue 11):"
printf '  throughput  handler/baseline = %s (>= 0.55)  %s\n' "$tput_ratio" "$(verdict "$tput_ratio" ">=" 0.55)"
printf '  cold start  handler/baseline = %s (<= 1.50)  %s\n' "$cold_ratio" "$(verdict "$cold_ratio" "<=" 1.5)"
printf '  peak RSS    handler/baseline = %s (<= 3.00)  %s\n' "$rss_ratio" "$(verdict "$rss_ratio" "<=" 3)"
size_ok=$(awk -v s="$size" 'BEGIN { exit !(s < 8 * 1048576) }' && echo ok || echo MISSED)
printf '  binary size %s MiB (< 8 MiB)                %s\n' "$size_mib" "$size_ok"

# --- the same figures as Markdown rows, for BENCHMARKS.md ------------------------------------------
# thousands N: 12345 -> 12,345.
thousands() {
  awk -v n="$1" 'BEGIN { n = sprintf("%.0f", n); s = ""
    while (length(n) > 3) { s = "," substr(n, length(n) - 2) s; n = substr(n, 1, length(n) - 3) }
    print n s }'
}
ms() { awk -v v="$1" 'BEGIN { printf "%.2f", v }'; }
# bold_if VALUE VERDICT: the value in bold, then "met" or "missed".
bold_if() { if [ "$2" = ok ]; then echo "**$1** met"; else echo "**$1** missed"; fi; }
rss_cell() {
  printf '%s KiB (%s; %s + %s)' "$(thousands "$(read_measure "$1" hwm_kb)")" \
    "$(thousands "$(read_measure "$1" idle_hwm_kb)")" "$(thousands "$(read_measure "$1" anon_kb)")" \
    "$(thousands "$(read_measure "$1" file_kb)")"
}
cold_cell() {
  printf '%s ms [%s..%s]' "$(fmt "$(read_measure "$1" cold_median_ms)")" \
    "$(fmt "$(read_measure "$1" cold_min_ms)")" "$(fmt "$(read_measure "$1" cold_max_ms)")"
}
echo
echo "Markdown (BENCHMARKS.md), one column of a table whose header row is | | <this run> |:"
echo
cat <<MD
| | ${START_UTC#* }, $COMMIT, load $LOAD_BEFORE |
| --- | --- |
| build; handler allocator | ${TARGET:-host}; $ALLOCATOR |
| baseline requests/s, p50, p99; CPU per request | $(thousands "$B_RPS")/s, $(ms "$B_P50") ms, $(ms "$B_P99") ms; $B_CPU µs |
| baseline+parse requests/s (ratio); CPU per request | $(thousands "$V_RPS")/s ($(ratio "$V_RPS" "$B_RPS")); $V_CPU µs |
| handler requests/s, p50, p99; CPU per request | $(thousands "$H_RPS")/s, $(ms "$H_P50") ms, $(ms "$H_P99") ms; $H_CPU µs |
| **throughput handler/baseline** (≥ 0.55) | $(bold_if "$tput_ratio" "$(verdict "$tput_ratio" ">=" 0.55)") |
| cold start median [min..max], baseline / handler | $(cold_cell baseline) / $(cold_cell handler) |
| **cold start handler/baseline** (≤ 1.5) | $(bold_if "$cold_ratio" "$(verdict "$cold_ratio" "<=" 1.5)") |
| peak RSS baseline (idle; anonymous + file-backed after) | $(rss_cell baseline) |
| peak RSS handler (idle; anonymous + file-backed after) | $(rss_cell handler) |
| **peak RSS handler/baseline** (≤ 3) | $(bold_if "$rss_ratio" "$(verdict "$rss_ratio" "<=" 3)") |
| release binary (< 8 MiB) | $(thousands "$size") bytes = $(bold_if "$size_mib MiB" "$size_ok") |
MD
echo
echo "one line: throughput $tput_ratio, cold start $cold_ratio, peak RSS $rss_ratio, binary $size_mib MiB ($START_UTC, ${TARGET:-host}, $ALLOCATOR, commit $COMMIT)"
awk -v t="$tput_ratio" -v c="$cold_ratio" -v r="$rss_ratio" \
  'BEGIN { exit !(t >= 0.55 && c <= 1.5 && r <= 3) }' && [ "$size_ok" = ok ] || exit 2
