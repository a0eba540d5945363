"""The stage lines `medspa-coverage train` prints (`[n/N] stage ...`, then `stage done in 1.2 s`;
benchmarks.train reads the latter) and the timings the run logs."""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable


class StageClock:
    """Prints `[n/N] stage ... 1.2 s` lines and keeps the timings."""

    def __init__(self, total: int, echo: Callable[[str], None]):
        self.total, self.echo, self.number, self.seconds = total, echo, 0, {}

    @contextmanager
    def stage(self, name: str):
        self.number += 1
        self.echo(f"[{self.number}/{self.total}] {name} ...")
        started = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - started, 2)
        self.echo(f"      {name} done in {self.seconds[name]:.1f} s")
