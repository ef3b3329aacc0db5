# Shared by scripts/bench-load.sh, scripts/load-steady.sh and scripts/fault-windows.sh (sourced, not
# run): the tools they need, the invocation body the Functions host would POST, a free port on
# 127.0.0.1, and waiting for a server to be ready.

log() { printf '%s\n' "$*" >&2; }

# ensure_tools: installs wrk from Debian when missing, then checks for everything the scripts run.
ensure_tools() {
  if ! command -v wrk >/dev/null 2>&1; then
    log "installing wrk (Debian package)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
  fi
  local tool
  for tool in python3 curl wrk cargo; do
    command -v "$tool" >/dev/null 2>&1 || { log "error: $tool is required"; exit 1; }
  done
}

# invocation_body HANDLER FIXTURE OUT: the body the host POSTs for the fixture's event, as `handler
# invocation` builds it (the one builder of the host's envelope: the event at Data.event, its data
# again at Metadata.data, and Metadata.sys; tests, benches and `handler send` use the same).
invocation_body() {
  "$1" invocation "$2" >"$3"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_ready NAME PID PORT STDERR: polls GET / every 25 ms, as the host does, until the server answers;
# exits with NAME's stderr if process PID ends first, or after 30 s.
wait_ready() {
  local name=$1 pid=$2 port=$3 stderr=$4
  local deadline=$((SECONDS + 30))
  until curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "error: $name exited before answering GET /:"; cat "$stderr" >&2; exit 1
    fi
    [ "$SECONDS" -lt "$deadline" ] || { log "error: $name did not answer GET / within 30 s"; exit 1; }
    sleep 0.025
  done
}
