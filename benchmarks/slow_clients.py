"""`python -m benchmarks slow_clients`: the production shape (nginx in front of 2 gunicorn sync
workers, the bench champion) while many clients without a key hold connections open, half idle
and half sending a header line now and then, for a minute: what the other clients' health checks
and predictions see meanwhile (answered, errors, p50 / p99 / slowest), beside the same loop with
nobody holding a connection.

tests/service/test_proxy.py holds 200 connections for a few seconds in `make test`; this holds
them as long as a slow client would (default 200 connections, 60 s).
"""
from __future__ import annotations

import argparse
import http.client
import json
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks.common import (BENCH_API_KEY, BENCH_DIR, GUNICORN_CONFIG, ensure_bench_model, format_table,
                               free_port, gunicorn_environment, machine_line, quiet_this_process, request_claims,
                               running_server, wait_for)
from service.proxy import LISTEN_ENV

DEFAULT_CONNECTIONS = 200
DEFAULT_SECONDS = 60.0
TRICKLE_EVERY_SECONDS = 0.5
ANSWER_TIMEOUT = 30.0  # a bound, not a measurement: a held worker would time out here
HEADERS = {"Authorization": f"Bearer {BENCH_API_KEY}", "Content-Type": "application/json"}


def hold(port: int, connections: int, stop: threading.Event) -> list[socket.socket]:
    """Open `connections` sockets, half idle, half in a request that never ends; a thread trickles
    a header line into the second half until `stop`."""
    held = []
    for number in range(connections):
        sock = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_TIMEOUT)
        if number >= connections // 2:
            sock.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\n")
        held.append(sock)

    def trickle():
        while not stop.wait(TRICKLE_EVERY_SECONDS):
            for sock in held[connections // 2:]:
                try:
                    sock.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    pass

    threading.Thread(target=trickle, daemon=True).start()
    return held


def others(port: int, claim: dict, seconds: float) -> dict[str, list]:
    """Alternate a health check and a prediction for `seconds`: (path -> latencies in ms, errors)."""
    found: dict[str, list] = {"health": [], "predict": [], "errors": []}
    body = json.dumps(claim).encode()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for name, method, path, data in (("health", "GET", "/healthz/live", None),
                                         ("predict", "POST", "/v1/predict", body)):
            started = time.perf_counter()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=ANSWER_TIMEOUT)
            try:
                connection.request(method, path, body=data, headers=HEADERS)
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    found["errors"].append(f"{name} {response.status}")
            except OSError as error:
                found["errors"].append(f"{name} {type(error).__name__}")
            finally:
                connection.close()
            found[name].append((time.perf_counter() - started) * 1000)
    return found


def rows(label: str, found: dict[str, list]) -> list[tuple]:
    table = []
    for name in ("health", "predict"):
        times = np.asarray(found[name])
        table.append((label, name, f"{len(times):,}", f"{np.percentile(times, 50):.1f}",
                      f"{np.percentile(times, 99):.1f}", f"{times.max():.1f}",
                      str(sum(error.startswith(name) for error in found["errors"]))))
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=DEFAULT_CONNECTIONS, help="connections held open")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="how long they are held")
    options = parser.parse_args(argv)
    quiet_this_process()
    bench = ensure_bench_model()
    claim = request_claims(1, bench.history)[0]
    port = free_port()
    table = []
    with tempfile.TemporaryDirectory(prefix="bench-slow-", dir=BENCH_DIR) as scratch:
        scratch = Path(scratch)
        argv = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG), "--workers", "2", "service.wsgi:app"]
        env = gunicorn_environment(bench, scratch / "audit.db", **{LISTEN_ENV: f"127.0.0.1:{port}"})
        with running_server(argv, env, scratch / "server.log") as process:
            wait_for(f"http://127.0.0.1:{port}/healthz/ready", process, timeout=180, log=scratch / "server.log")
            table += rows("nobody holding", others(port, claim, options.seconds))
            stop = threading.Event()
            held = hold(port, options.connections, stop)
            try:
                table += rows(f"{options.connections} held", others(port, claim, options.seconds))
            finally:
                stop.set()
                for sock in held:
                    sock.close()
    print(machine_line(f"slow clients: nginx + 2 gunicorn sync workers, champion v{bench.version} of the bench "
                       f"store; {options.connections} connections without a key (half idle, half trickling a "
                       f"header every {TRICKLE_EVERY_SECONDS:g} s) held {options.seconds:g} s"))
    print(format_table(("clients", "request", "answered", "p50 ms", "p99 ms", "slowest ms", "errors"), table))


if __name__ == "__main__":
    main()
