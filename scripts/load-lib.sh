# Shared by scripts/bench-load.sh and scripts/load-steady.sh (sourced, not run): the tools they need,
# the invocation body the Functions host would POST, and a free port on 127.0.0.1.

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
