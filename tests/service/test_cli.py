"""`medspa-coverage` (service.cli): one command group with the service's commands and training's;
`python -m service` runs it; `serve` hands the process to gunicorn with the repo's config."""
from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from service import cli
from service.address import DEFAULT_BIND
from tests.service.service_testing import ROOT
from training.cli import commands as training_commands

SERVICE_COMMANDS = {"serve", "bootstrap", "monitor"}
TRAINING_COMMANDS = {"validate", "generate-history", "train", "predict"}


def test_the_group_has_the_service_and_the_training_commands_and_no_other():
    assert set(cli.main.commands) == SERVICE_COMMANDS | TRAINING_COMMANDS
    for name in TRAINING_COMMANDS:  # training's own commands, not copies
        assert cli.main.commands[name] is training_commands.commands[name]


def test_python_m_service_help_lists_every_command():
    finished = subprocess.run([sys.executable, "-m", "service", "--help"], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
    assert finished.returncode == 0, finished.stderr
    listed = finished.stdout.partition("Commands:")[2].split()
    assert SERVICE_COMMANDS | TRAINING_COMMANDS <= set(listed), finished.stdout


def test_dash_h_is_help_too():
    result = CliRunner().invoke(cli.main, ["-h"])
    assert result.exit_code == 0 and "Commands:" in result.output


def test_serve_command_execs_gunicorn_with_the_repo_config(monkeypatch):
    calls = []
    monkeypatch.setattr(cli.os, "execv", lambda path, argv: calls.append((path, argv)))
    result = CliRunner().invoke(cli.main, ["serve", "--bind", "127.0.0.1:9999", "--workers", "3"])
    assert result.exit_code == 0, result.output
    path, argv = calls[0]
    assert path == sys.executable
    assert argv[1:5] == ["-m", "gunicorn", "-c", str(ROOT / "service" / "gunicorn_conf.py")]
    assert argv[5:] == ["--bind", "127.0.0.1:9999", "--workers", "3", "service.wsgi:app"]


def test_serve_without_options_binds_the_default_address_and_leaves_workers_to_the_config(monkeypatch):
    calls = []
    monkeypatch.delenv("MEDSPA_COVERAGE_BIND", raising=False)
    monkeypatch.setattr(cli.os, "execv", lambda path, argv: calls.append(argv))
    assert CliRunner().invoke(cli.main, ["serve"]).exit_code == 0
    # the address is resolved here (option, variable, default) so that every message can print it
    assert calls[0][5:] == ["--bind", DEFAULT_BIND, "service.wsgi:app"]


@pytest.mark.parametrize("option", ["--since", "--until"])
def test_monitor_refuses_a_time_it_cannot_read(tmp_path, option):
    result = CliRunner().invoke(cli.main, ["monitor", option, "next tuesday", "--audit-url",
                                           f"sqlite:///{tmp_path / 'audit.db'}"])
    assert result.exit_code == 2 and "--since/--until" in result.output and "ISO 8601" in result.output
    assert not (tmp_path / "audit.db").exists()  # refused before anything was opened
