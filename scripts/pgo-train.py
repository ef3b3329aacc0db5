#!/usr/bin/env python3
"""The training run of the profile-guided release build (scripts/release-build.sh).

    scripts/pgo-train.py INSTRUMENTED_HANDLER [STARTS] [INVOCATIONS_PER_START]

Starts the instrumented handler STARTS times (default 50) as the Functions host starts it (as
scripts/start-faults.py does: FUNCTIONS_CUSTOMHANDLER_PORT on a free port, the repository root as
working directory, so it reads the shipped hooks.toml), and each time sends what a Function App
receives: the invocation of every event fixture under tests/fixtures/ in turn, both schemas and all
five event types (INVOCATIONS_PER_START in all, default 200, over one keep-alive connection, as the
host's connection pool sends them), one Event Grid webhook batch and one subscription-validation
handshake to the webhook door; then SIGTERM, so that it drains and exits and the profile runtime
writes its counts (to the directory given at build time by -Cprofile-generate).

Why many starts: start-up runs once per process. With one start among thousands of invocations its
code would count as cold, and LLVM would place it in .text.unlikely among the code that never runs,
which is what the cold start pays for in page faults (BENCHMARKS.md). Fifty starts keep it warm.

Every answer must be what the shipped handler answers (200, or 400 for the one deliberately bad
body); anything else fails the training, and with it the build, rather than train on errors.
Traffic goes to 127.0.0.1 only; every loop is bounded.
"""

import glob
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUNCTION = "MlWorkspaceEvents"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def invocation_bodies(handler):
    """One invocation body per event of every fixture, built by the handler itself
    (`handler invocation`, the one builder of the host's envelope). These runs' counts are thrown
    away: the command line is not what the profile is for."""
    bodies = []
    with tempfile.TemporaryDirectory() as discard:
        env = dict(os.environ, LLVM_PROFILE_FILE=os.path.join(discard, "cli-%p.profraw"))
        for path in sorted(glob.glob(os.path.join(ROOT, "tests", "fixtures", "*.json"))):
            out = subprocess.run([handler, "invocation", path], cwd=ROOT, check=True, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
            bodies.extend(line for line in out.splitlines() if line.strip())
    if not bodies:
        raise SystemExit("no fixtures under tests/fixtures")
    return bodies


def webhook_batch():
    events = []
    for name in ("eventgrid-model-registered.json", "eventgrid-run-completed.json",
                 "eventgrid-dataset-drift-detected.json"):
        with open(os.path.join(ROOT, "tests", "fixtures", name)) as f:
            loaded = json.load(f)
        events.extend(loaded if isinstance(loaded, list) else [loaded])
    with open(os.path.join(ROOT, "tests", "fixtures", "eventgrid-subscription-validation.json")) as f:
        validation = f.read().encode()
    return json.dumps(events).encode(), validation


def clean_env():
    """The environment less the profile runtime's own variable: where counts go is set at build time."""
    env = dict(os.environ)
    env.pop("LLVM_PROFILE_FILE", None)
    return env


def wait_ready(proc, port):
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"the instrumented handler exited with {proc.returncode} at start")
            if time.monotonic() > deadline:
                raise SystemExit("the instrumented handler did not listen within 30 s")
            time.sleep(0.005)


def post(conn, path, body, headers, expected):
    conn.request("POST", path, body, headers)
    response = conn.getresponse()
    answer = response.read()
    if response.status not in expected:
        raise SystemExit(f"POST {path} answered {response.status}: {answer[:300]!r}")


def one_start(handler, bodies, invocations, batch, validation):
    port = free_port()
    env = dict(clean_env(), FUNCTIONS_CUSTOMHANDLER_PORT=str(port),
               FUNCTIONS_CUSTOMHANDLER_WORKER_ID="pgo-train")
    proc = subprocess.Popen([handler], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(proc, port)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/")
        conn.getresponse().read()
        for i in range(invocations):
            # Fixtures under tests/fixtures/bad are not here; every top-level fixture is answered 200.
            post(conn, "/" + FUNCTION, bodies[i % len(bodies)],
                 {"Content-Type": "application/json; charset=utf-8",
                  "X-Azure-Functions-InvocationId": f"pgo-{i}"}, (200,))
        post(conn, "/" + FUNCTION, b"{\"Data\": 1}", {"Content-Type": "application/json"}, (200, 400))
        webhook = {"Content-Type": "application/json", "aeg-event-type": "Notification"}
        post(conn, "/api/eventgrid", batch, webhook, (200,))
        post(conn, "/api/eventgrid", validation,
             dict(webhook, **{"aeg-event-type": "SubscriptionValidation"}), (200,))
        conn.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise SystemExit("the instrumented handler did not exit within 15 s of SIGTERM")
    if code != 0:
        raise SystemExit(f"the instrumented handler exited with {code} after SIGTERM")


def main(argv):
    if not argv:
        raise SystemExit(__doc__)
    handler = os.path.abspath(argv[0])
    starts = int(argv[1]) if len(argv) > 1 else 50
    invocations = int(argv[2]) if len(argv) > 2 else 200
    bodies = invocation_bodies(handler)
    batch, validation = webhook_batch()
    began = time.monotonic()
    for _ in range(starts):
        one_start(handler, bodies, invocations, batch, validation)
    print(f"trained: {starts} starts, {starts * invocations} invocations of {len(bodies)} events, "
          f"{time.monotonic() - began:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
