"""`python -m benchmarks slow_clients`: the production shape (nginx in front of 2 gunicorn sync
workers, the bench champion) while many clients without a key hold connections open, half idle
and half sending a header line now and then, for a minute: what the other clients' health checks
and predictions see meanwhile (answered, errors, p50 / p99 / slowest), beside the same loop with
nobody holding a connection.

tests/service/test_proxy.py holds 200 connections for a few seconds in `make test`; this holds
them as long as a slow client would (default 200 connections, 60 s), connecting again each time
nginx closes one after its 10 s header timeout, as a slow client would.
"""
from __future__ import annotations

import argparse
import http.client
import json
import select
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


class Holders:
    """`connections` sockets held open, half idle, half in a request that never ends (a header line
    every TRICKLE_EVERY_SECONDS). nginx closes each after its header timeout (10 s): a slow client
    then simply connects again, so each closed one is reopened at once (counted in `reopened`),
    and the service sees `connections` slow clients for the whole time, not for 10 s."""

    def __init__(self, port: int, connections: int):
        self.port, self.reopened = port, 0
        self.held = [self._open(trickling=number >= connections // 2) for number in range(connections)]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._keep, daemon=True)
        self.thread.start()

    def _open(self, trickling: bool) -> tuple[socket.socket, bool]:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=ANSWER_TIMEOUT)
        if trickling:
            sock.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\n")
        return sock, trickling

    def _keep(self) -> None:
        while not self.stop.wait(TRICKLE_EVERY_SECONDS):
            for slot, (sock, trickling) in enumerate(self.held):
                if trickling:
                    try:
                        sock.sendall(b"X-Slow: 1\r\n")
                        continue
                    except OSError:
                        pass
                elif not _closed(sock):
                    continue
                sock.close()
                try:
                    self.held[slot] = self._open(trickling)
                    self.reopened += 1
                except OSError:
                    pass  # the next round tries again

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        for sock, _ in self.held:
            sock.close()


def _closed(sock: socket.socket) -> bool:
    """Has the server closed this idle connection (or answered it, a 408)? Readable means one of
    them: an idle client sent nothing to be answered."""
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


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
            holders = Holders(port, options.connections)
            try:
                table += rows(f"{options.connections} held", others(port, claim, options.seconds))
            finally:
                holders.close()
    print(machine_line(f"slow clients: nginx + 2 gunicorn sync workers, champion v{bench.version} of the bench "
                       f"store; {options.connections} connections without a key (half idle, half trickling a "
                       f"header every {TRICKLE_EVERY_SECONDS:g} s) held {options.seconds:g} s, each reopened "
                       f"as soon as nginx closed it ({holders.reopened:,} reopenings)"))
    print(format_table(("clients", "request", "answered", "p50 ms", "p99 ms", "slowest ms", "errors"), table))


if __name__ == "__main__":
    main()
