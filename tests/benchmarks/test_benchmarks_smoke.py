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


def test_the_batch_figure_is_the_median_of_its_runs(monkeypatch):
    """`predict`'s whole-process seconds swing run to run on this machine: the bar reads the median
    run (its own clock with it), the largest peak memory, and prints the range beside it."""
    from benchmarks import predict

    runs = iter([(5.0, "200,000", 800.0), (4.0, "250,000", 900.0), (6.0, "170,000", 850.0)])
    monkeypatch.setattr(predict, "run_predict", lambda bench, rows: next(runs))
    assert predict.median_run(None, 1_000_000, 3) == (5.0, "200,000", 900.0, "4.00-6.00")


def test_the_barred_http_cell_is_the_median_of_its_runs():
    """The barred HTTP cell runs three times a server: the median run's throughput, the median p50,
    p99 and CPU, every run's errors, and the most CPU other work took."""
    from benchmarks.load import LoadResult
    from benchmarks.serve import Cell, median_cell

    runs = [Cell(LoadResult(8_000, 0, 8.0, 9.0, 15.0, "wrk"), 2.0, 0.01),
            Cell(LoadResult(6_000, 2, 8.0, 11.0, 30.0, "wrk"), 2.6, 0.00),
            Cell(LoadResult(7_000, 0, 8.0, 10.0, 18.0, "wrk"), 2.2, 0.03)]
    cell = median_cell(runs)
    assert (cell.load.per_second, cell.load.p50_ms, cell.load.p99_ms, cell.load.errors) == (875.0, 10.0, 18.0, 2)
    assert (cell.server_cpu_ms, cell.others_share) == (2.2, 0.03)
