"""Issue 27's bars in one table: each benchmark of a `python -m benchmarks` run (`make bench`)
records the bars it measured, and the run ends with all of them side by side, each with its
figure, its target and its peer (what it was measured against, or beside).

A benchmark run alone (`python -m benchmarks.predict`) records its bars too; `python -m benchmarks
predict serve` prints the table of those two.
"""
from __future__ import annotations

from dataclasses import dataclass

from benchmarks.common import format_table, verdict


@dataclass(frozen=True)
class Bar:
    name: str
    target: str
    figure: str
    peer: str
    met: bool


# The bars recorded in this process, in the order measured (one run of `python -m benchmarks`).
_RECORDED: list[Bar] = []


def record_bar(name: str, target: str, figure: str, peer: str, met: bool) -> None:
    _RECORDED.append(Bar(name, target, figure, peer, bool(met)))


def recorded_bars() -> list[Bar]:
    return list(_RECORDED)


def bars_table(bars: list[Bar]) -> str:
    missed = sum(not bar.met for bar in bars)
    return (format_table(("bar (issue 27)", "target", "figure", "peer / beside", "verdict"),
                         [(bar.name, bar.target, bar.figure, bar.peer, verdict(bar.met)) for bar in bars])
            + f"\n\n{len(bars) - missed} of {len(bars)} bars met.")
