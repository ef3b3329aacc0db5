#!/usr/bin/env python3
"""Instructions per request of a server, counted by callgrind: whatever the load on the machine, the
same binary gives the same count, so it compares builds where wall-clock load tests cannot (a shared
2-core machine). Runs BINARY under valgrind as the Functions host starts it (port in
FUNCTIONS_CUSTOMHANDLER_PORT, the repository as working directory, so the shipped hooks.toml is read),
sends N keep-alive POSTs of BODYFILE to /MlWorkspaceEvents from one connection, stops it with SIGTERM;
then the same with no request; prints (difference) / N. User-space instructions only: the kernel's
share of a request (reads, writes, epoll) is not in it. See BENCHMARKS.md.

    cargo build --release -p aml-events --bin handler -p aml-events-baseline --bin baseline
    target/release/handler invocation tests/fixtures/eventgrid-model-deployed.json > /tmp/inv.json
    scripts/instructions-per-request.py target/release/handler /tmp/inv.json 2000 handler
    scripts/instructions-per-request.py target/release/baseline /tmp/inv.json 2000 baseline
"""
import http.client, json, os, signal, socket, subprocess, sys, time, re

binary, body_path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
name = sys.argv[4] if len(sys.argv) > 4 else "x"
body = open(body_path, "rb").read()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.environ.get("OUT_DIR", "/tmp")

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def run(count, tag):
    port = free_port()
    out = os.path.join(OUT_DIR, f"callgrind.{name}.{tag}.out")
    env = dict(os.environ, FUNCTIONS_CUSTOMHANDLER_PORT=str(port), FUNCTIONS_CUSTOMHANDLER_WORKER_ID="bench")
    p = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary],
                         cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(2000):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30); c.request("GET", "/"); c.getresponse().read(); c.close(); break
        except OSError:
            time.sleep(0.05)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for i in range(count):
        c.request("POST", "/MlWorkspaceEvents", body=body, headers={
            "Content-Type": "application/json; charset=utf-8",
            "X-Azure-Functions-InvocationId": f"inv-{i}"})
        r = c.getresponse(); r.read()
        assert r.status == 200, r.status
    c.close()
    p.send_signal(signal.SIGTERM)
    err = p.communicate(timeout=120)[1].decode()
    m = re.search(r"Collected : (\d+)", err) or re.search(r"refs:\s*([\d,]+)", err)
    return int(m.group(1).replace(",", ""))

base = run(0, "dry")
full = run(n, "run")
print(f"{name}: {(full - base) / n:.0f} instructions per request ({n} requests)")
