"""`medspa-coverage` (service.cli): one command group with the service's commands and training's;
`python -m service` runs it; `serve` hands the process to gunicorn with the repo's config."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from click.testing import CliRunner

from service import cli
from service.address import DEFAULT_BIND
from tests.service.service_testing import ROOT
from training.cli import commands as training_commands
from training.review.cli import review as review_command

SERVICE_COMMANDS = {"serve", "bootstrap", "monitor", "outcomes"}
TRAINING_COMMANDS = {"validate", "generate-history", "train", "predict"}
REVIEW_COMMANDS = {"review"}


def test_the_group_has_the_service_training_and_review_commands_and_no_other():
    assert set(cli.main.commands) == SERVICE_COMMANDS | TRAINING_COMMANDS | REVIEW_COMMANDS
    for name in TRAINING_COMMANDS:  # training's own commands, not copies
        assert cli.main.commands[name] is training_commands.commands[name]
    assert cli.main.commands["review"] is review_command


def test_python_m_service_help_lists_every_command():
    finished = subprocess.run([sys.executable, "-m", "service", "--help"], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
    assert finished.returncode == 0, finished.stderr
    listed = finished.stdout.partition("Commands:")[2].split()
    assert SERVICE_COMMANDS | TRAINING_COMMANDS | REVIEW_COMMANDS <= set(listed), finished.stdout


def test_dash_h_is_help_too():
    result = CliRunner().invoke(cli.main, ["-h"])
    assert result.exit_code == 0 and "Commands:" in result.output


def test_serve_puts_nginx_on_the_bind_address_in_front_of_gunicorn_with_the_repo_config(monkeypatch):
    calls = []
    monkeypatch.setattr(cli.os, "execv", lambda path, argv: calls.append((path, argv)))
    monkeypatch.setattr(cli.os, "environ", dict(os.environ))
    result = CliRunner().invoke(cli.main, ["serve", "--bind", "127.0.0.1:9999", "--workers", "3"])
    assert result.exit_code == 0, result.output
    path, argv = calls[0]
    assert path == sys.executable
    assert argv[1:5] == ["-m", "gunicorn", "-c", str(ROOT / "service" / "gunicorn_conf.py")]
    assert argv[5:] == ["--workers", "3", "service.wsgi:app"]  # gunicorn binds loopback; nginx the address
    assert cli.os.environ["MEDSPA_COVERAGE_PROXY_LISTEN"] == "127.0.0.1:9999"


def test_serve_makes_var_owner_only(monkeypatch, tmp_path):
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    monkeypatch.setattr(cli, "VAR_DIR", var)
    monkeypatch.setattr(cli.os, "execv", lambda path, argv: None)
    monkeypatch.setattr(cli.os, "environ", dict(os.environ))
    assert CliRunner().invoke(cli.main, ["serve"]).exit_code == 0
    assert stat.S_IMODE(var.stat().st_mode) == 0o700


def test_serve_no_proxy_runs_gunicorn_alone_on_the_bind_address(monkeypatch):
    calls = []
    monkeypatch.delenv("MEDSPA_COVERAGE_BIND", raising=False)
    monkeypatch.setattr(cli.os, "execv", lambda path, argv: calls.append(argv))
    monkeypatch.setattr(cli.os, "environ", {**os.environ, "MEDSPA_COVERAGE_PROXY_LISTEN": "127.0.0.1:1"})
    result = CliRunner().invoke(cli.main, ["serve", "--no-proxy", "--bind", "127.0.0.1:9999"])
    assert result.exit_code == 0, result.output
    assert calls[0][5:] == ["--bind", "127.0.0.1:9999", "service.wsgi:app"]
    assert "MEDSPA_COVERAGE_PROXY_LISTEN" not in cli.os.environ


def test_serve_without_options_puts_nginx_on_the_default_address(monkeypatch):
    calls = []
    monkeypatch.setattr(cli.os, "execv", lambda path, argv: calls.append(argv))
    monkeypatch.setattr(cli.os, "environ", {name: value for name, value in os.environ.items()
                                            if not name.startswith("MEDSPA_COVERAGE_")})
    assert CliRunner().invoke(cli.main, ["serve"]).exit_code == 0
    assert calls[0][5:] == ["service.wsgi:app"]  # gunicorn binds loopback; nginx the address
    assert cli.os.environ["MEDSPA_COVERAGE_PROXY_LISTEN"] == DEFAULT_BIND


@pytest.mark.parametrize("option", ["--since", "--until"])
def test_monitor_refuses_a_time_it_cannot_read(tmp_path, option):
    result = CliRunner().invoke(cli.main, ["monitor", option, "next tuesday", "--audit-url",
                                           f"sqlite:///{tmp_path / 'audit.db'}"])
    assert result.exit_code == 2 and "--since/--until" in result.output and "ISO 8601" in result.output
    assert not (tmp_path / "audit.db").exists()  # refused before anything was opened


@pytest.mark.parametrize("command", [["monitor"], ["outcomes", "report"], ["outcomes", "export-history",
                                                                            "--out", "history.csv"]])
@pytest.mark.parametrize("window, words", [
    (["--since", "2026-03-02T08:00", "--until", "2026-03-01T08:00"], "--since must be before --until"),
    (["--since", "2026-03-02T08:00", "--until", "2026-03-02T08:00"], "--since must be before --until"),
    (["--since", "2999-01-01T00:00"], "--since is in the future"),
])
def test_a_window_that_cannot_hold_a_served_claim_is_a_usage_error(tmp_path, command, window, words):
    result = CliRunner().invoke(cli.main, [*command, *window, "--audit-url", f"sqlite:///{tmp_path / 'audit.db'}"])
    assert result.exit_code == 2 and words in result.output
    assert not (tmp_path / "audit.db").exists()  # refused before anything was opened


def test_outcomes_report_of_a_version_the_store_lacks_names_the_versions_it_holds(tmp_path):
    from scoring.mlflow_store import REGISTERED_MODEL
    from tests.stores import registry_of_empty_versions

    uri = registry_of_empty_versions(tmp_path)
    result = CliRunner().invoke(cli.main, ["outcomes", "report", "--model-version", "9", "--tracking-uri", uri,
                                           "--audit-url", f"sqlite:///{tmp_path / 'audit.db'}"])
    assert result.exit_code == 2
    assert f"no version 9 of {REGISTERED_MODEL} in {uri} (versions: 1-3)" in result.output
