#!/usr/bin/env python3
"""Cold starts of built binaries, interleaved: time, page faults and CPU from exec to the first answer.

    scripts/start-faults.py [ROUNDS] NAME=BINARY[,VAR=VALUE...] ...

    scripts/start-faults.py 40 \
        baseline=target/x86_64-unknown-linux-musl/release/baseline \
        handler=target/x86_64-unknown-linux-musl/release/handler

One server must be named `handler`: its `handler invocation` builds the body that every server is
sent. Each binary is started as the Functions host starts the handler (FUNCTIONS_CUSTOMHANDLER_PORT on a
free port, FUNCTIONS_CUSTOMHANDLER_WORKER_ID set, the repository root as working directory, so the
handler reads the shipped hooks.toml; stdout and stderr to /dev/null); `,VAR=VALUE` adds environment
variables for that binary only. scripts/bench-load.sh times its cold starts with this file's
`cold_start`. The ModelDeployed invocation is POSTed every 0.25 ms until it is answered with a 200. At
that moment the process's minor page faults (/proc/PID/stat) and its threads' CPU time
(/proc/PID/task/*/schedstat) are read, so shutdown is not counted. The binaries take turns, so drift
on a shared machine hits all alike.

Prints, per binary, the median [min..max] of the start time, the faults and the CPU time, and each
binary's median start time against the first one's. bench-load.sh gives the ratio the targets are
judged on; this script explains it (BENCHMARKS.md, "the cold start's page faults").
"""

import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FUNCTION = "MlWorkspaceEvents"
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "eventgrid-model-deployed.json")


def invocation_body(handler):
    """The body the host POSTs, as `handler invocation` builds it (the one builder of the host's
    envelope, for the tests, the benches and the scripts alike)."""
    return subprocess.run([handler, "invocation", FIXTURE], cwd=ROOT, check=True,
                          stdout=subprocess.PIPE).stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_stat(pid):
    """(minor faults, CPU seconds of all its threads) of a running process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # After the command: state is field 3, minflt field 10 (proc(5)). utime and stime count in clock
    # ticks (10 ms), too coarse for a start of a few ms: schedstat's first field is the nanoseconds
    # each thread ran.
    cpu_ns = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                cpu_ns += int(f.read().split()[0])
        except FileNotFoundError:  # the thread ended
            pass
    return int(fields[7]), cpu_ns / 1e9


def invoke(port, body):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("POST", "/" + FUNCTION, body, {
            "Content-Type": "application/json; charset=utf-8",
            "X-Azure-Functions-InvocationId": "cold-start",
        })
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def spawn(binary, port, extra_env=None):
    """Starts `binary` as the Functions host starts the handler (and as bench-load does)."""
    env = dict(os.environ, FUNCTIONS_CUSTOMHANDLER_PORT=str(port),
               FUNCTIONS_CUSTOMHANDLER_WORKER_ID="start-faults")
    env.update(extra_env or {})
    return subprocess.Popen([binary], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def cold_start(binary, extra_env, body):
    """(seconds to the first 200, minor faults then, CPU seconds then) of one start of `binary`.
    scripts/bench-load.sh measures its cold start with this function too."""
    port = free_port()
    start = time.perf_counter()
    proc = spawn(binary, port, extra_env)
    try:
        deadline = start + 30
        while True:
            try:
                status = invoke(port, body)
            except (ConnectionRefusedError, ConnectionResetError):
                if proc.poll() is not None:
                    raise SystemExit(f"{binary} exited with {proc.returncode} before answering")
                if time.perf_counter() > deadline:
                    raise SystemExit(f"{binary} did not answer within 30 s")
                time.sleep(0.00025)
                continue
            elapsed = time.perf_counter() - start
            if status != 200:
                raise SystemExit(f"{binary} answered {status} to the first invocation")
            faults, cpu = proc_stat(proc.pid)
            return elapsed, faults, cpu
    finally:
        stop(proc)


def main(argv):
    rounds = 40
    if argv and argv[0].isdigit():
        rounds, argv = int(argv[0]), argv[1:]
    if not argv:
        raise SystemExit(__doc__)
    servers = []
    for spec in argv:
        name, _, rest = spec.partition("=")
        binary, *pairs = rest.split(",")
        if not name or not binary:
            raise SystemExit(f"not NAME=BINARY: {spec!r}")
        extra = dict(pair.split("=", 1) for pair in pairs)
        servers.append((name, os.path.abspath(binary), extra))
    handlers = [binary for name, binary, _ in servers if name == "handler"]
    if not handlers:
        raise SystemExit("name one server `handler`: its `handler invocation` builds the body")
    body = invocation_body(handlers[0])
    samples = {name: [] for name, _, _ in servers}
    for _ in range(rounds):
        for name, binary, extra in servers:
            samples[name].append(cold_start(binary, extra, body))
    first = None
    print(f"{rounds} interleaved starts each; median [min..max]")
    for name, _, _ in servers:
        times, faults, cpu = zip(*samples[name])
        median = statistics.median(times)
        first = first or median

        def cell(values, scale, unit):
            return (f"{statistics.median(values) * scale:.2f}{unit} "
                    f"[{min(values) * scale:.2f}..{max(values) * scale:.2f}]")

        print(f"  {name:<10} start {cell(times, 1000, ' ms')}  faults {statistics.median(faults):.0f} "
              f"[{min(faults)}..{max(faults)}]  cpu {cell(cpu, 1000, ' ms')}  x{median / first:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
