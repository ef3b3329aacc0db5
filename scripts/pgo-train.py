#!/usr/bin/env python3
"""The training run of the profile-guided release build (scripts/release-build.sh).

    scripts/pgo-train.py INSTRUMENTED_HANDLER [STARTS] [INVOCATIONS_PER_START]

Starts the instrumented handler STARTS times (default 50) as the Functions host starts it
(FUNCTIONS_CUSTOMHANDLER_PORT on a free port, FUNCTIONS_CUSTOMHANDLER_WORKER_ID set), with the
embedded default hooks (one log line per event: what the shipped Function App does, and what
bench-load measures), and each time sends what a Function App receives: INVOCATIONS_PER_START
invocations (default 200) of every event fixture under tests/fixtures/ in turn (both schemas, all five
event types, system events), a body that is not an invocation, an Event Grid webhook batch and a
subscription-validation handshake; then SIGTERM, so that it drains and exits and the profile runtime
writes its counts (to the directory given at build time by -Cprofile-generate).

Notification hooks (Teams, Slack, webhooks delivering to a local receiver) were trained too, once:
their code then lay beside start-up's, and the default configuration's first answer touched 39 of
the code's 64 KiB windows instead of 33 (8 more page faults; BENCHMARKS.md). A delivery waits on the
network for far longer than its code takes, so it is left as code that the training does not run.

Why many starts: start-up runs once per process. With one start among thousands of invocations its
code would count as cold, and LLVM would place it in .text.unlikely among the code that never runs,
which is what the cold start pays for in page faults (BENCHMARKS.md). Fifty starts keep it warm.

The handler runs in a scratch directory whose hooks.toml is TRAINING_HOOKS (the shipped default's
two log hooks, written here: the repository's own hooks.toml, which the binary also embeds as its
default, may name real Teams channels), with an environment of PATH and HOME only: neither the
repository's hooks nor the caller's settings may receive the training's thousands of events. Every answer must be what the
handler answers to that input (200; 400 or 200 for the body that is not an invocation); anything else
fails the training, and with it the build, rather than train on errors. Traffic goes to 127.0.0.1
only; every loop is bounded.
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
# What the shipped hooks.toml does: a log line per ML event, model monitor breaches apart.
TRAINING_HOOKS = """
[[hooks]]
name = "log-ml-events"
events = ["*"]
action = "log"
[hooks.when]
monitor_breach = false

[[hooks]]
name = "log-monitor-breaches"
events = ["RunStatusChanged", "RunCompleted"]
action = "log"
[hooks.when]
monitor_breach = true
"""

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra):
    """PATH and HOME, and `extra`: nothing of the caller's settings reaches the handler."""
    env = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
    env.update(extra)
    return env


def invocation_bodies(handler):
    """One invocation body per event of every fixture, built by the handler itself
    (`handler invocation`, the one builder of the host's envelope). These runs' counts are thrown
    away: the command line is not what the profile is for."""
    bodies = []
    with tempfile.TemporaryDirectory() as discard:
        env = clean_env(LLVM_PROFILE_FILE=os.path.join(discard, "cli-%p.profraw"))
        for path in sorted(glob.glob(os.path.join(ROOT, "tests", "fixtures", "*.json"))):
            out = subprocess.run([handler, "invocation", path], cwd=discard, check=True, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
            lines = [line for line in out.splitlines() if line.strip()]
            with open(path) as f:
                loaded = json.load(f)
            if len(lines) != (len(loaded) if isinstance(loaded, list) else 1):
                raise SystemExit(f"`handler invocation {path}` did not give one line per event")
            for line in lines:
                json.loads(line)  # each line a whole body
            bodies.extend(lines)
    if not bodies:
        raise SystemExit("no fixtures under tests/fixtures")
    return bodies


def webhook_bodies():
    events = []
    for name in ("eventgrid-model-registered.json", "eventgrid-run-completed.json",
                 "eventgrid-dataset-drift-detected.json"):
        with open(os.path.join(ROOT, "tests", "fixtures", name)) as f:
            loaded = json.load(f)
        events.extend(loaded if isinstance(loaded, list) else [loaded])
    with open(os.path.join(ROOT, "tests", "fixtures", "eventgrid-subscription-validation.json")) as f:
        validation = f.read().encode()
    return json.dumps(events).encode(), validation


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
    return answer


def one_start(handler, workdir, env, bodies, invocations, batch, validation):
    port = free_port()
    env = dict(env, FUNCTIONS_CUSTOMHANDLER_PORT=str(port),
               FUNCTIONS_CUSTOMHANDLER_WORKER_ID="pgo-train")
    proc = subprocess.Popen([handler], cwd=workdir, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(proc, port)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/")
        conn.getresponse().read()
        logged = 0
        for i in range(invocations):
            answer = post(conn, "/" + FUNCTION, bodies[i % len(bodies)],
                          {"Content-Type": "application/json; charset=utf-8",
                           "X-Azure-Functions-InvocationId": f"pgo-{i}"}, (200,))
            logged += b'"Logs":[]' not in answer
        if invocations >= len(bodies) and logged == 0:
            raise SystemExit("no invocation was logged: the training hooks did not run")
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
    batch, validation = webhook_bodies()
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as workdir:
        with open(os.path.join(workdir, "hooks.toml"), "w") as f:
            f.write(TRAINING_HOOKS)
        for _ in range(starts):
            one_start(handler, workdir, clean_env(), bodies, invocations, batch, validation)
    print(f"trained: {starts} starts, {starts * invocations} invocations of {len(bodies)} events, "
          f"{time.monotonic() - began:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
