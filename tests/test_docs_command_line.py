"""Every command of `medspa-coverage` has its one line in the README and its row in docs/data-team.md,
and the detailed row shows each option that picks a store: a row without `--tracking-uri` hides
which store `--model` names a version of."""
from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from service.cli import main

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| `([a-z][a-z-]*(?: [a-z][a-z-]*)?)[ `]", flags=re.M)


def commands(group: click.Group, prefix: str = ""):
    """(full name, command) of every command, subcommands of a group included."""
    for name, command in group.commands.items():
        full = f"{prefix} {name}".strip()
        yield from commands(command, full) if isinstance(command, click.Group) else [(full, command)]


def command_rows(page: Path) -> dict[str, str]:
    """A command's first table row on the page, by the command's name."""
    text = page.read_text(encoding="utf-8")
    rows: dict[str, str] = {}
    for match in ROW.finditer(text):
        rows.setdefault(match.group(1), text[match.start():text.index("\n", match.start())])
    return rows


@pytest.mark.parametrize("page", ["README.md", "docs/data-team.md"])
def test_every_command_has_its_row(page):
    rows = command_rows(ROOT / page)
    missing = [name for name, _ in commands(main) if name not in rows]
    assert not missing, f"{page} has no row for {missing}"


def test_every_command_that_reads_a_tracking_store_says_so_in_its_detailed_row():
    rows = command_rows(ROOT / "docs" / "data-team.md")
    lacking = [name for name, command in commands(main)
               if any("--tracking-uri" in param.opts for param in command.params)
               and "--tracking-uri" not in rows[name]]
    assert not lacking, f"docs/data-team.md rows without --tracking-uri: {lacking}"
