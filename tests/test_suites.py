"""How `make test` shares its two xdist workers (tests/conftest.py) stays true as suites are added."""
from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import SERVER_SUITES, SuiteScheduling

ROOT = Path(__file__).resolve().parents[1]
# What starts a server process or a browser in a test module.
STARTS_A_SERVER = re.compile(r"start_gunicorn\(|start_production_server\(|webdriver\.Chrome\(|Popen\(")
# Servers whose checks hold no time bound may run beside the others: `mlflow models serve` in the
# model's own environment (a stranger's use of the logged model) only has to answer alike.
# Nor need processes that are no server: the migration tests' lock holder only holds a file lock.
UNBOUND_SERVERS = {"tests/scoring/test_model_environment.py", "tests/service/test_audit_migrations.py"}


def test_every_suite_that_starts_a_server_is_in_the_server_unit():
    starting = {path.relative_to(ROOT).as_posix() for path in (ROOT / "tests").rglob("test_*.py")
                if STARTS_A_SERVER.search(path.read_text())}
    assert starting - UNBOUND_SERVERS == SERVER_SUITES


def test_a_module_is_one_unit_and_the_server_suites_are_one_together():
    split = SuiteScheduling._split_scope
    assert split(None, "tests/features/test_rules.py::test_a[x::y]") == "tests/features/test_rules.py"
    assert split(None, "tests/service/test_proxy.py::test_b") == split(None, "tests/service/test_gunicorn_log.py::c")
    assert split(None, "tests/service/test_proxy.py::test_b") == "servers"
