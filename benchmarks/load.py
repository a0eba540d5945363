"""A load generator for POST requests on loopback: wrk when it is installed (Debian's `wrk`), else
threads with http.client keep-alive connections.

`run_load(url, bodies, headers, concurrency, seconds)` sends the bodies round-robin from
`concurrency` connections for `seconds` (whole seconds for wrk) and returns a LoadResult: requests/s, p50 and p99 in
milliseconds, and errors (non-2xx answers, socket errors and timeouts). The generator runs on the
same machine as the server and takes CPU from it; wrk takes far less than the Python client.
"""
from __future__ import annotations

import http.client
import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from benchmarks.common import percentile

REQUEST_TIMEOUT_SECONDS = 10


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    generator: str

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def generator_name() -> str:
    return "wrk" if shutil.which("wrk") else "python (http.client threads)"


def run_load(url: str, bodies: list[bytes], headers: dict[str, str], concurrency: int, seconds: float) -> LoadResult:
    headers = {"Content-Type": "application/json", **headers}
    if shutil.which("wrk"):
        return _wrk(url, bodies, headers, concurrency, seconds)
    return _python_client(url, bodies, headers, concurrency, seconds)


# -- wrk ------------------------------------------------------------------------------------
def _lua_string(text: str) -> str:
    level = "=" * 4
    while f"]{level}]" in text:
        level += "="
    return f"[{level}[{text}]{level}]"


# Bodies round-robin per thread; `done` prints exact percentiles and the error counts as JSON.
_WRK_SCRIPT = """
local bodies = {%(bodies)s}
local headers = {%(headers)s}
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("POST", nil, headers, bodies[(counter %% #bodies) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_JSON {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, ' ..
    '"connect": %%d, "read": %%d, "write": %%d, "status": %%d, "timeout": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def _wrk(url: str, bodies: list[bytes], headers: dict[str, str], concurrency: int, seconds: float) -> LoadResult:
    script = _WRK_SCRIPT % {
        "bodies": ", ".join(_lua_string(body.decode()) for body in bodies),
        "headers": ", ".join(f"[ {_lua_string(name)} ] = {_lua_string(value)}" for name, value in headers.items()),
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-wrk-") as handle:
        handle.write(script)
        handle.flush()
        threads = min(concurrency, 2)  # two cores: more wrk threads only fight the server
        completed = subprocess.run(
            ["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{max(1, round(seconds))}s",
             "--timeout", f"{REQUEST_TIMEOUT_SECONDS}s", "-s", handle.name, url],
            capture_output=True, text=True, timeout=seconds + 60)
    found = re.search(r"^WRK_JSON (.*)$", completed.stdout, re.MULTILINE)
    if completed.returncode != 0 or not found:
        raise RuntimeError(f"wrk failed (exit {completed.returncode}): {completed.stderr or completed.stdout}")
    figures = json.loads(found.group(1))
    # wrk counts a non-2xx/3xx answer in `status`, and requests cut by errors are not in `requests`
    errors = sum(figures[name] for name in ("connect", "read", "write", "status", "timeout"))
    return LoadResult(requests=figures["requests"], errors=errors, seconds=figures["duration_us"] / 1e6,
                      p50_ms=figures["p50_us"] / 1000, p99_ms=figures["p99_us"] / 1000, generator="wrk")


# -- Python fallback -------------------------------------------------------------------------
def _python_client(url: str, bodies: list[bytes], headers: dict[str, str], concurrency: int,
                   seconds: float) -> LoadResult:
    parts = urlsplit(url)
    path = parts.path or "/"
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    start = threading.Barrier(concurrency + 1)
    deadline = [0.0]

    def worker(number: int) -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=REQUEST_TIMEOUT_SECONDS)
        mine, index = latencies[number], number
        start.wait()
        while True:
            began = time.perf_counter()
            if began >= deadline[0]:
                break
            body = bodies[index % len(bodies)]
            index += concurrency
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                ok = 200 <= response.status < 400
            except (OSError, http.client.HTTPException):
                connection.close()  # the next request opens a fresh connection
                ok = False
            if ok:
                mine.append((time.perf_counter() - began) * 1000)
            else:
                errors[number] += 1
        connection.close()

    threads = [threading.Thread(target=worker, args=(number,), daemon=True) for number in range(concurrency)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start.wait()
    for thread in threads:
        thread.join(seconds + REQUEST_TIMEOUT_SECONDS + 5)
    elapsed = time.perf_counter() - began
    timings = sorted(value for mine in latencies for value in mine)
    return LoadResult(requests=len(timings), errors=sum(errors), seconds=elapsed, p50_ms=percentile(timings, 0.50),
                      p99_ms=percentile(timings, 0.99), generator="python")


def json_bodies(payloads: list) -> list[bytes]:
    return [json.dumps(payload, separators=(",", ":")).encode() for payload in payloads]


def post_json(url: str, payload, headers: dict[str, str], timeout: float = 30) -> tuple[int, bytes]:
    """One POST (warm-ups and checks); (status, body)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request("POST", parts.path, body=json.dumps(payload).encode(),
                           headers={"Content-Type": "application/json", **headers})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


__all__ = ["LoadResult", "generator_name", "json_bodies", "post_json", "run_load"]
