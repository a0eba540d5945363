"""Every benchmark imports and has a main(); none is run here (they take minutes and time things)."""
from __future__ import annotations

import importlib

import pytest

from benchmarks.__main__ import BENCHMARKS, main


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_module_imports_and_exposes_main(name):
    module = importlib.import_module(f"benchmarks.{name}")
    assert callable(module.main)


def test_unknown_benchmark_name_is_refused_before_anything_runs(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["no-such-benchmark"])
    assert exit_info.value.code == 2
    assert "unknown benchmark" in capsys.readouterr().err


def test_tables_are_markdown():
    from benchmarks.common import format_table

    table = format_table(("what", "figure"), [("p50 ms", "0.41")])
    assert table.splitlines() == ["| what   | figure |", "|--------|-------:|", "| p50 ms |   0.41 |"]
