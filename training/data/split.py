"""Time-ordered split of a claims history: the oldest claims train, the next ones validate
(calibration and early stopping), the newest ones test, so the test mimics the future.

Claims are ordered by `service_date` (a stable sort: ties keep file order) and cut by row count,
so the fractions are exact; claims of one day may straddle a boundary, which leaks nothing
that matters (the same day is neither past nor future of itself).
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

DEFAULT_VALIDATION_FRACTION = 0.1
DEFAULT_TEST_FRACTION = 0.2


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame

    def summary(self) -> dict:
        """Row counts and date ranges of each part, JSON-ready."""
        summary = {}
        for name in ("train", "validation", "test"):
            part = getattr(self, name)
            dates = part["service_date"]
            summary[name] = {
                "rows": int(len(part)),
                "first_date": dates.min().date().isoformat() if len(part) else None,
                "last_date": dates.max().date().isoformat() if len(part) else None,
            }
        return summary


def split_by_date(claims: pd.DataFrame, validation_fraction: float = DEFAULT_VALIDATION_FRACTION,
                  test_fraction: float = DEFAULT_TEST_FRACTION) -> Split:
    """Oldest (1 - validation - test) share -> train, then validation, newest `test_fraction` -> test."""
    if not (0 < test_fraction < 1 and 0 < validation_fraction < 1 and validation_fraction + test_fraction < 1):
        raise ValueError("validation_fraction and test_fraction must be in (0, 1) and sum to less than 1; "
                         f"got {validation_fraction} and {test_fraction}")
    ordered = claims.sort_values("service_date", kind="stable")
    rows = len(ordered)
    test_start = rows - int(round(rows * test_fraction))
    validation_start = test_start - int(round(rows * validation_fraction))
    if validation_start <= 0 or validation_start == test_start or test_start == rows:
        raise ValueError(f"{rows} claims are too few to split into train, validation and test")
    return Split(train=ordered.iloc[:validation_start], validation=ordered.iloc[validation_start:test_start],
                 test=ordered.iloc[test_start:])
