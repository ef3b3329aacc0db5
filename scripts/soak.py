#!/usr/bin/env python3
"""Soak test: a stream of invocations with duplicate deliveries against a flaky notification target.

Starts a receiver on 127.0.0.1 that fails a share of requests (503) and records what it accepted,
starts the handler as the Functions host does with one webhook hook pointing at it, then sends events
the way Event Grid would: some delivered twice (concurrently or later), every 500 answer redelivered
after a pause. At the end it reconciles: every event must have been accepted by the target exactly
once. Loopback only, bounded in time and count; prints the counts and exits non-zero on a mismatch.
"""
import argparse, collections, copy, http.client, http.server, json, os, random, socket, subprocess, sys
import tempfile, threading, time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Target(http.server.BaseHTTPRequestHandler):
    lock = threading.Lock()
    accepted = collections.Counter()
    refused = 0
    fail_rate = 0.2

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        event_id = json.loads(body).get("id", "?")
        fail = random.random() < Target.fail_rate
        with Target.lock:
            if fail:
                Target.refused += 1
            else:
                Target.accepted[event_id] += 1
        self.send_response(503 if fail else 200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def invoke(port, invocation):
    body = json.dumps(invocation)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/MlWorkspaceEvents", body, {"Content-Type": "application/json"})
    status = conn.getresponse().status
    conn.close()
    return status


def deliver(port, invocation, stats):
    """Event Grid's side: deliver until 200 (redelivering after 500s)."""
    for attempt in range(1, 21):
        status = invoke(port, invocation)
        with stats["lock"]:
            stats["deliveries"] += 1
            stats["status"][status] += 1
        if status == 200:
            return True
        time.sleep(0.05 * attempt)
    return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=180, help="stop sending new events after this")
    parser.add_argument("--duplicates", type=float, default=0.05)
    parser.add_argument("--fail-rate", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--binary", default=os.path.join(ROOT, "target/release/handler"))
    args = parser.parse_args()
    args.binary = os.path.abspath(args.binary)
    random.seed(7)
    Target.fail_rate = args.fail_rate

    target_port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", target_port), Target)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    workdir = tempfile.mkdtemp()
    with open(os.path.join(workdir, "hooks.toml"), "w") as f:
        f.write('[[hooks]]\nname = "notify"\nevents = ["*"]\naction = "webhook"\n'
                'url = "${env:SOAK_TARGET}"\nretries = 1\ntimeout_ms = 2000\n')
    port = free_port()
    env = dict(os.environ, FUNCTIONS_CUSTOMHANDLER_PORT=str(port), RUST_LOG="warn",
               SOAK_TARGET=f"http://127.0.0.1:{target_port}/hook", AML_EVENTS_HOOKS=os.path.join(workdir, "hooks.toml"))
    handler = subprocess.Popen([args.binary], cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(400):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.025)
        # The host's body, as `handler invocation` builds it (the one builder of the envelope).
        template = json.loads(subprocess.run(
            [args.binary, "invocation", os.path.join(ROOT, "tests/fixtures/eventgrid-model-deployed.json")],
            check=True, stdout=subprocess.PIPE).stdout)
        stats = {"lock": threading.Lock(), "deliveries": 0, "status": collections.Counter()}
        sent, duplicated, started = [], 0, time.time()
        with ThreadPoolExecutor(args.concurrency) as pool:
            futures = []
            for i in range(args.events):
                if time.time() - started > args.seconds:
                    break
                invocation = copy.deepcopy(template)
                invocation["Data"]["event"]["id"] = f"soak-{i}"
                sent.append(f"soak-{i}")
                futures.append(pool.submit(deliver, port, invocation, stats))
                if random.random() < args.duplicates:
                    duplicated += 1
                    futures.append(pool.submit(deliver, port, invocation, stats))
            done = [f.result() for f in futures]
        elapsed = time.time() - started
    finally:
        handler.terminate()
        handler.wait(timeout=20)
        server.shutdown()

    accepted = Target.accepted
    missing = [e for e in sent if accepted[e] == 0]
    doubled = {e: n for e, n in accepted.items() if n > 1}
    print(f"events sent: {len(sent)} ({duplicated} delivered twice) in {elapsed:.1f} s")
    print(f"deliveries to the handler: {stats['deliveries']} by status {dict(stats['status'])}")
    print(f"target: {sum(accepted.values())} accepted, {Target.refused} refused (fail rate {args.fail_rate})")
    print(f"reconciliation: {len(sent) - len(missing) - len(doubled)} exactly once, "
          f"{len(missing)} missing, {len(doubled)} more than once, {done.count(False)} gave up")
    print(f"handler exit code: {handler.returncode}")
    ok = not missing and not doubled and all(done) and handler.returncode == 0
    print("RESULT: " + ("every event notified exactly once" if ok else "MISMATCH"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
