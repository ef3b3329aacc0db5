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

# invocation_body FIXTURE OUT FUNCTION: the body the host POSTs for the fixture's first event: the event
# at Data.event, its data again at Metadata.data, and Metadata.sys (as tests/support/mod.rs builds it).
invocation_body() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
fixture, out, function = sys.argv[1:]
events = json.load(open(fixture))
event = events[0] if isinstance(events, list) else events
body = {
    "Data": {"event": event},
    "Metadata": {
        "data": event.get("data"),
        "sys": {"MethodName": function, "UtcNow": "2026-11-25T10:00:00.1234567Z",
                "RandGuid": "0f8fad5b-d9cb-469f-a165-70867728950e"},
    },
}
open(out, "w").write(json.dumps(body))
PY
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
