"""The README's numbers are the code's: the split `train` prints, the drift and rate minimums, the
default address, the limits of a claims file to score."""
from __future__ import annotations

from pathlib import Path

from service.address import DEFAULT_BIND
from service.file_jobs import UNFINISHED_JOBS_PER_KEY
from service.settings import default_settings
from scoring.batch import RATE_MIN_ROWS
from training.data.split import DEFAULT_TEST_FRACTION, DEFAULT_VALIDATION_FRACTION
from scoring.params import ModelParams
from scoring.profile import PSI_MIN_CLAIMS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_the_split_is_described_as_train_prints_it():
    train = 1 - DEFAULT_VALIDATION_FRACTION - DEFAULT_TEST_FRACTION
    assert (f"train (the oldest {train:.0%}), validation (the next {DEFAULT_VALIDATION_FRACTION:.0%}) and test "
            f"(the newest {DEFAULT_TEST_FRACTION:.0%})") in _flat(README)
    assert f"a random {ModelParams().holdout_fraction:.0%} (`holdout_fraction`" in _flat(README)


def test_the_minimums_and_the_default_address_are_the_codes():
    flat = _flat(README)
    assert f"from {PSI_MIN_CLAIMS} claims per version on (`PSI_MIN_CLAIMS`" in flat
    assert f"a rate only from {RATE_MIN_ROWS:,} claims on" in flat
    assert f"else `{DEFAULT_BIND}`" in flat


def test_the_outcomes_alarm_is_described_with_the_codes_limits():
    from scoring.realised import ALARM_MIN_CLAIMS, MAX_BRIER_RISE, MAX_ECE_RISE

    flat = _flat(README)
    assert f"from {ALARM_MIN_CLAIMS} adjudicated claims per version on (`ALARM_MIN_CLAIMS`" in flat
    assert f"realised Brier rises more than {MAX_BRIER_RISE} or ECE more than {MAX_ECE_RISE}" in flat


def test_the_claims_file_limits_are_the_settings():
    settings, flat = default_settings(), _flat(README)
    assert (f"Limits: {settings['FILE_MAX_BYTES'] // 2**20} MiB and {settings['FILE_MAX_ROWS']:,} rows "
            "(`FILE_MAX_BYTES`, `FILE_MAX_ROWS`") in flat
    assert f"A key may have {UNFINISHED_JOBS_PER_KEY} files queued or running at once" in flat
    assert f"`FILE_KEEP_MINUTES` ({settings['FILE_KEEP_MINUTES']}) after the upload" in flat


def test_every_command_that_reads_a_tracking_store_says_so_in_its_readme_row():
    """`--model` names a version of the store `--tracking-uri` opens: a row without it hides which."""
    import re

    import click

    from service.cli import main

    rows: dict[str, str] = {}  # the command line table's row: a command's first row in the README
    for line in README.splitlines():
        if match := re.match(r"\| `([a-z][a-z-]*(?: [a-z][a-z-]*)?)[ `]", line):
            rows.setdefault(match.group(1), line)

    def commands(group: click.Group, prefix: str = ""):
        for name, command in group.commands.items():
            full = f"{prefix} {name}".strip()
            yield from commands(command, full) if isinstance(command, click.Group) else [(full, command)]

    lacking = [name for name, command in commands(main)
               if any("--tracking-uri" in param.opts for param in command.params)
               and "--tracking-uri" not in rows.get(name, "--tracking-uri")]
    assert not lacking, f"README rows without --tracking-uri: {lacking}"
