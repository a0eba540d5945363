"""Where the service listens (service.address): `--bind`, else MEDSPA_COVERAGE_BIND, else the
default gunicorn's config also uses; and the URL the messages print for it."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from service.address import BIND_ENV, DEFAULT_BIND, base_url, serving_bind
from tests.service.service_testing import GUNICORN_CONF


def test_the_bind_option_wins_then_the_environment_then_the_default():
    assert serving_bind("127.0.0.1:8001", {BIND_ENV: "127.0.0.1:9000"}) == "127.0.0.1:8001"
    assert serving_bind(None, {BIND_ENV: "127.0.0.1:9000"}) == "127.0.0.1:9000"
    assert serving_bind(None, {}) == DEFAULT_BIND


@pytest.mark.parametrize("bind, url", [
    ("127.0.0.1:8001", "http://127.0.0.1:8001"),
    ("0.0.0.0:8080", "http://127.0.0.1:8080"),  # any address: this machine reaches it on loopback
    ("[::]:8080", "http://[::1]:8080"),
    ("localhost:9", "http://localhost:9"),
    ("unix:/tmp/medspa.sock", "unix:/tmp/medspa.sock"),
])
def test_messages_print_the_url_of_the_real_address(bind, url):
    assert base_url(bind) == url


def test_the_gunicorn_config_has_the_same_default(tmp_path):
    script = f"import json, runpy; print(json.dumps(runpy.run_path({str(GUNICORN_CONF)!r})['bind']))"
    env = {name: value for name, value in os.environ.items() if name != BIND_ENV}
    bind = json.loads(subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, check=True,
                                     capture_output=True, text=True).stdout)
    assert bind == [DEFAULT_BIND]
