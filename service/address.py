"""Where the service listens, and the URL every message prints for it.

One fact for the CLI (`serve`, `bootstrap`) and `make serve PORT=... / BIND=...`: `--bind`, else
the environment's MEDSPA_COVERAGE_BIND, else DEFAULT_BIND, the same default as
service/gunicorn_conf.py (a test keeps the two equal; the config file cannot import this package).
"""
from __future__ import annotations

import os

BIND_ENV = "MEDSPA_COVERAGE_BIND"
DEFAULT_BIND = "127.0.0.1:8000"
_ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]", "": "127.0.0.1"}


def serving_bind(bind: str | None = None, environ=None) -> str:
    environ = os.environ if environ is None else environ
    return bind or environ.get(BIND_ENV) or DEFAULT_BIND


def base_url(bind: str) -> str:
    """The URL a client on this machine uses for a gunicorn bind (`host:port`; a wildcard host
    means this machine; a unix socket has no URL and is printed as it is)."""
    if bind.startswith("unix:"):
        return bind
    host, _, port = bind.rpartition(":")
    return f"http://{_ANY_ADDRESS.get(host, host)}:{port}"
