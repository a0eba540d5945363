"""Training's commands (training.cli): exactly validate, generate-history, train and predict, each
with working help, `--help` without importing the stages, and stage errors turned into exit codes.
Commands that run a stage are tested beside the stage (test_loading, test_batch, test_train...)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tests.claims_io.claim_rows import request_row, write_csv
from training.cli import commands

COMMANDS = ["generate-history", "predict", "train", "validate"]
HEAVY_MODULES = ("mlflow", "sklearn", "pandas", "training.train", "scoring.batch", "claims_io.loading")


def test_the_training_commands_are_exactly_validate_generate_history_train_and_predict():
    assert sorted(commands.commands) == COMMANDS


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_has_help_listing_every_option(name):
    result = CliRunner().invoke(commands, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: commands {name} [OPTIONS]")
    options = [option for parameter in commands.commands[name].params for option in parameter.opts
               if option.startswith("--")]
    assert options and [option for option in options if option not in result.output] == []


HELP_CHECK = """
import json, sys
from training.cli import commands
for name in sorted(commands.commands):
    try:
        commands([name, "--help"])
    except SystemExit:
        pass
print(json.dumps(sorted(name for name in {heavy} if name in sys.modules)))
"""


def test_help_imports_none_of_the_stages():
    done = subprocess.run([sys.executable, "-c", HELP_CHECK.format(heavy=HEAVY_MODULES)], capture_output=True,
                          text=True, timeout=60, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_generate_history_turns_a_refused_argument_into_a_usage_error(tmp_path):
    result = CliRunner().invoke(commands, ["generate-history", "--rows", "10", "--seed", "1",
                                           "--out", str(tmp_path / "history.json"), "--quiet"])
    assert result.exit_code == 2 and "must end in .csv or .parquet" in result.output
    assert isinstance(result.exception, SystemExit)  # a message, not a traceback
    assert list(tmp_path.iterdir()) == []


def test_predict_exits_1_with_a_message_when_the_model_cannot_be_loaded(tmp_path):
    requests = write_csv(tmp_path / "requests.csv", [request_row()])
    (tmp_path / "not-a-model").mkdir()
    result = CliRunner().invoke(commands, ["predict", "--input", str(requests), "--output", str(tmp_path / "out.csv"),
                                           "--model", str(tmp_path / "not-a-model"), "--quiet"])
    assert result.exit_code == 1, result.output
    assert "Error: cannot load the model:" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out.csv").exists()
