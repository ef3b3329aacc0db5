#!/usr/bin/env bash
# Runs the handler under `cargo lambda watch` (the local Lambda emulator; PyPI `cargo-lambda`) and posts
# to it as Event Grid would post to a function URL: the validation handshake, a notification, and a
# request without the key. Loopback only; stops the emulator on exit. Prints PASS or FAIL per check.
#
# Note: the emulator answers OPTIONS itself (CORS), so the CloudEvents OPTIONS handshake is covered by
# tests/lambda_door.rs instead.
set -uo pipefail
cd "$(dirname "$0")/.."
command -v cargo-lambda >/dev/null 2>&1 || pip install -q cargo-lambda
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
AML_EVENTS_WEBHOOK_KEY=smoke-key RUST_LOG=info \
  cargo lambda watch --features lambda --invoke-address 127.0.0.1 --invoke-port "$port" >"$log" 2>&1 &
watch_pid=$!
trap 'kill $watch_pid 2>/dev/null; wait $watch_pid 2>/dev/null; rm -f "$log"' EXIT

base="http://127.0.0.1:$port/lambda-url/handler/api/eventgrid"
for _ in $(seq 1 600); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break
  sleep 0.5
done

failed=0
check() { # name expected-status expected-text status body
  if [ "$4" = "$2" ] && grep -q -- "$3" <<<"$5"; then echo "PASS $1 ($4)"; else echo "FAIL $1: got $4 $5"; failed=1; fi
}
post() { # query headers... ; body from stdin
  local query=$1; shift
  curl -s -w '\n%{http_code}' --max-time 120 -X POST "$base$query" "$@" --data-binary @-
}
split() { body=$(sed '$d' <<<"$1"); status=$(tail -n1 <<<"$1"); }

split "$(post '?code=smoke-key' -H 'aeg-event-type: SubscriptionValidation' -H 'content-type: application/json' \
  < tests/fixtures/eventgrid-subscription-validation.json)"
check validation 200 '"validationResponse":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6"' "$status" "$body"

split "$(post '?code=smoke-key' -H 'aeg-event-type: Notification' -H 'content-type: application/json' \
  < tests/fixtures/eventgrid-model-deployed.json)"
check notification 200 '"handled":1' "$status" "$body"

split "$(post '' -H 'aeg-event-type: Notification' -H 'content-type: application/json' \
  < tests/fixtures/eventgrid-model-deployed.json)"
check missing-key 401 'missing key' "$status" "$body"

if [ "$failed" != 0 ]; then
  echo "--- emulator log"; tail -n 40 "$log"
fi
exit "$failed"
