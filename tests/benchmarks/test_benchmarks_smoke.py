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


def test_training_bars_compare_the_busy_run_with_its_quiet_twin():
    """The closing table's training rows: the quiet times against their bars, the 1,000,000-claim
    run's memory, and the busy run as a ratio to the quiet run of the same size (issue 27)."""
    from benchmarks import bars
    from benchmarks.train import TrainingRun, record_speed_bars

    def run(label, rows, seconds, rss=900.0):
        return TrainingRun(label, rows, seconds, seconds * 1.5, rss, {}, {}, 0, None)

    before = len(bars.recorded_bars())
    record_speed_bars([run("200,000", 200_000, 50.0), run("1,000,000", 1_000_000, 130.0, rss=2_100.0),
                       run("200,000 (alt world)", 200_000, 10.0)],
                      [run("200,000, beside one CPU-bound process", 200_000, 110.0)], all_busy=False)
    recorded = bars.recorded_bars()[before:]
    assert [(bar.figure, bar.met) for bar in recorded] == [
        ("50.0 s", True), ("130.0 s", False), ("2,100 MiB", False), ("110.0 s (2.20x)", False)]
    table = bars.bars_table(recorded)
    assert "1 of 4 bars met." in table and table.count("MISSED") == 3
