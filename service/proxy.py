"""nginx in front of gunicorn: the production shape `medspa-coverage serve` runs.

gunicorn's sync workers give a whole process to one connection, so a client that sends nothing,
or a header line every few seconds, holds a worker until the worker timeout kills it: two such
clients stopped this 2-worker service. gunicorn's deployment guide asks for a buffering proxy in
front of sync workers, and nginx is the one it names: it reads each request whole (headers within
10 s, no pause over 10 s in the body, the body within the service's MAX_CONTENT_LENGTH) before a
worker sees it, and buffers the answer for slow readers; a claims file's body only once the app
has admitted its headers (service/upload_admission.py). The config is `service/nginx/nginx.conf`;
this module fills it in, and gunicorn's master (service/gunicorn_conf.py) starts nginx once its
own socket listens and stops it when it exits.
"""
from __future__ import annotations

import ctypes
import grp
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from service.errors import DEFAULTS, body_too_large_message, error_body
from service.security_headers import SECURITY_HEADERS
from service.settings import ENV_PREFIX, default_settings
from service.upload_admission import ADMISSION_HEADER, REFUSAL_STATUSES, UNFINISHED_JOBS_PER_KEY
from common.paths import PROJECT_ROOT

CONFIG_TEMPLATE = Path(__file__).with_name("nginx") / "nginx.conf"
DEFAULT_RUN_DIR = PROJECT_ROOT / "var" / "nginx"
LISTEN_ENV = f"{ENV_PREFIX}_PROXY_LISTEN"  # set by `serve`: where nginx listens (gunicorn then binds loopback)
RUN_DIR_ENV = f"{ENV_PREFIX}_PROXY_DIR"  # nginx's config, pid and temp folders (default var/nginx)
STARTUP_SECONDS = 10
# Claims files nginx takes in at once (each buffered in memory up to FILE_MAX_BYTES: 4 x 16 MiB)
FILE_UPLOADS_AT_ONCE = 4
# Debian installs nginx in /usr/sbin, which is not on every user's PATH.
NGINX_CANDIDATES = ("nginx", "/usr/sbin/nginx", "/usr/local/sbin/nginx")


# nginx's own refusals (status codes, as error_page lists them) -> the internal location answering
# each in the service's JSON. Server-wide; a location with an error_page of its own repeats it all.
ERROR_PAGES = {"400 494": "/.errors/400", "404": "/.errors/404", "405": "/.errors/405", "408": "/.errors/408",
               "411": "/.errors/400", "413": "/.errors/413", "414": "/.errors/414", "501": "/.errors/501",
               "505": "/.errors/505", "502 503 504": "/.errors/503"}
FILE_ERROR_PAGES = {**ERROR_PAGES, "413": "/.errors/413-file"}  # POST /v1/files: the claims file's own limit
# An upload's admission: auth_request answers 500 when the app cannot be asked (service.upload_admission)
ADMIT_ERROR_PAGES = {**FILE_ERROR_PAGES, "500": "=503 /.errors/503"}
# An admitted upload: nginx's own 503 there is its upload slots being taken (an app's 503 passes through)
UPLOAD_ERROR_PAGES = {**{codes: target for codes, target in FILE_ERROR_PAGES.items() if codes != "502 503 504"},
                      "502 504": "/.errors/503", "503": "/.errors/503-upload"}
# nginx answers 405 itself only to methods it will not pass on (TRACE); these are every method a route takes.
ALLOWED_METHODS = "GET, HEAD, POST, DELETE"


class ProxyError(RuntimeError):
    """nginx is missing, its config is refused, or it did not start; the message says which."""


def nginx_binary() -> str:
    for candidate in NGINX_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    raise ProxyError("nginx is not installed (Debian: apt-get install nginx; `make serve` does it); "
                     "or serve gunicorn alone with `medspa-coverage serve --no-proxy`")


def max_body_bytes() -> int:
    """The service's MAX_CONTENT_LENGTH as the app will read it (environment, else the default)."""
    return _setting("MAX_CONTENT_LENGTH")


def max_file_bytes() -> int:
    """The service's FILE_MAX_BYTES, the largest claims file POST /v1/files takes."""
    return _setting("FILE_MAX_BYTES")


def _setting(name: str) -> int:
    raw = os.environ.get(f"{ENV_PREFIX}_{name}")
    return int(json.loads(raw)) if raw else default_settings()[name]


def _json_literal(code: str, message: str) -> str:
    """An error body as a single-quoted nginx string (no variables, quotes escaped)."""
    text = json.dumps(error_body(code, message))
    assert "$" not in text, "an nginx string would read $ as a variable"
    return text.replace("\\", "\\\\").replace("'", "\\'")


def render_config(listen: str, upstream: str, run_dir: Path, read_timeout: int, max_body: int,
                  max_file: int | None = None) -> str:
    max_file = default_settings()["FILE_MAX_BYTES"] if max_file is None else max_file
    values = {
        "USER": f"{pwd.getpwuid(os.getuid()).pw_name} {grp.getgrgid(os.getgid()).gr_name}",
        "RUN_DIR": str(run_dir),
        "LISTEN": listen,
        "UPSTREAM": upstream,
        "READ_TIMEOUT": str(read_timeout),
        "MAX_BODY": str(max_body),
        # One buffer more than the limit: a body at the limit stays in memory, and nginx answers 413
        # before a body over it would need a temp file.
        "BODY_BUFFER": str(max_body + 1024),
        "FILE_MAX_BODY": str(max_file),
        "FILE_BODY_BUFFER": str(max_file + 1024),
        "FILE_UPLOADS": str(FILE_UPLOADS_AT_ONCE),
        "FILE_UPLOADS_PER_KEY": str(UNFINISHED_JOBS_PER_KEY),
        "ADMISSION_HEADER": ADMISSION_HEADER,
        "UPLOAD_REFUSALS": _upload_refusals(),
        "UPLOADS_BUSY": _json_literal("uploads_busy", f"the service takes {FILE_UPLOADS_AT_ONCE} claims files at once "
                                                      f"({UNFINISHED_JOBS_PER_KEY} of one API key) and as many are "
                                                      "arriving; retry after 5 s"),
        "FILE_DOWNLOAD_BUFFERS": str(-(-2 * max_file // (16 * 1024))),  # 16 kB buffers for twice the upload limit
        "FILE_TOO_LARGE": _json_literal("file_too_large", f"a claims file may hold at most {max_file:,} bytes"),
        "BAD_REQUEST": _json_literal("bad_http_request", "the request is not well-formed HTTP/1.1, its headers are "
                                                         "too large, or its body ended before its Content-Length"),
        "NOT_FOUND": _json_literal(*DEFAULTS[404]),
        "TIMED_OUT": _json_literal("request_timeout", "the request did not arrive in time: headers within 10 s, "
                                                      "no pause over 10 s in the body"),
        "BODY_TOO_LARGE": _json_literal(DEFAULTS[413][0], body_too_large_message(max_body)),
        "REQUEST_LINE_TOO_LONG": _json_literal("request_line_too_long", "the request line is too long"),
        "NOT_IMPLEMENTED": _json_literal("unsupported_transfer_coding", "Transfer-Encoding may only be chunked"),
        "UNAVAILABLE": _json_literal(*DEFAULTS[503]),
        "METHOD_NOT_ALLOWED": _json_literal(*DEFAULTS[405]),
        "ALLOWED_METHODS": ALLOWED_METHODS,
        "VERSION_NOT_SUPPORTED": _json_literal("http_version_not_supported", "the request must be HTTP/1.0 or "
                                                                             "HTTP/1.1"),
        "ERROR_PAGES": _error_pages(ERROR_PAGES),
        "FILE_ERROR_PAGES": _error_pages(FILE_ERROR_PAGES),
        "ADMIT_ERROR_PAGES": _error_pages(ADMIT_ERROR_PAGES),
        "UPLOAD_ERROR_PAGES": _error_pages(UPLOAD_ERROR_PAGES),
        "SECURITY_HEADERS": _directives(f'add_header {name} "{value}" always'
                                        for name, value in SECURITY_HEADERS.items()),
    }
    text = CONFIG_TEMPLATE.read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    return text


def _error_pages(pages: dict[str, str]) -> str:
    return _directives(f"error_page {codes} {target}" for codes, target in pages.items())


def _upload_refusals() -> str:
    """An answer for each status the app's admission can refuse an upload with (service.upload_admission)."""
    return "\n                ".join(f"location = /.errors/refused/{status} {{ return {status} $upload_refusal_body; }}"
                                    for status in REFUSAL_STATUSES)


def _directives(lines) -> str:
    """nginx directives, one a line, each ending with `;` (the template's indent is the first line's)."""
    return "\n            ".join(f"{line};" for line in lines)


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when gunicorn's master dies, even by kill -9 (Linux)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def _listening(address: str) -> bool:
    try:
        with socket.create_connection(_split_address(address), timeout=0.5):
            return True
    except OSError:
        return False


def start_nginx(listen: str, upstream: str, run_dir: Path, read_timeout: int) -> subprocess.Popen:
    """Write the config into `run_dir`, check it with `nginx -t`, start nginx and wait until it listens."""
    binary = nginx_binary()
    run_dir.mkdir(parents=True, exist_ok=True)
    config = run_dir / "nginx.conf"
    config.write_text(render_config(listen, upstream, run_dir, read_timeout, max_body_bytes(),
                                     max_file_bytes()), encoding="utf-8")
    # -e: the log nginx writes before it has read the config (else /var/log/nginx, which needs root).
    command = [binary, "-p", str(run_dir), "-c", str(config), "-e", "stderr"]
    checked = subprocess.run([*command, "-t", "-q"], capture_output=True, text=True)
    if checked.returncode != 0:
        raise ProxyError(f"nginx refused its config {config}: {checked.stderr.strip()}")
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True,
                               preexec_fn=_die_with_parent)
    deadline = time.monotonic() + STARTUP_SECONDS
    while not _listening(listen):
        if process.poll() is not None:
            raise ProxyError(f"nginx exited with code {process.returncode} (its message is above)")
        if time.monotonic() > deadline:
            stop_nginx(process)
            raise ProxyError(f"nginx did not listen on {listen} within {STARTUP_SECONDS} s")
        time.sleep(0.05)
    return process


def stop_nginx(process: subprocess.Popen, timeout: float = 10) -> None:
    """Graceful stop (SIGQUIT: answers in flight finish), then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGQUIT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
