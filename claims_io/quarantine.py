"""The quarantine: rows that failed a check, kept with their original values so nothing is lost.

One line per (row, field) problem: `row_number` (1-based data row, header excluded), `field`,
`reason` (what the field allows, never the value itself: claims are patient data), then the
row's raw values under their original column names. Written owner-only, with cells a spreadsheet
would run made inert (`write_quarantine`).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from claims_io.csv_cells import inert_frame
from common.private_files import open_private

QUARANTINE_COLUMNS = ("row_number", "field", "reason")


@dataclass(frozen=True)
class Problem:
    """Rows of one chunk that fail one check of one field."""

    field: str
    kind: str  # short and value-free, e.g. "unknown value"; counted in the report
    reason: str  # the full message: what the field allows
    rows: np.ndarray  # 0-based positions in the chunk

    @property
    def key(self) -> str:
        return f"{self.field}: {self.kind}"


def count_by_reason(problems: list[Problem]) -> Counter:
    """Problem lines per reason key (a row with two problems counts under both)."""
    counts = Counter()
    for problem in problems:
        counts[problem.key] += len(problem.rows)
    return counts


def quarantined_rows(problems: list[Problem], row_count: int) -> np.ndarray:
    """Boolean mask of the chunk's rows with at least one problem."""
    bad = np.zeros(row_count, dtype=bool)
    for problem in problems:
        bad[problem.rows] = True
    return bad


def quarantine_frame(problems: list[Problem], raw: pd.DataFrame, first_row_number: int,
                     field_order: tuple[str, ...]) -> pd.DataFrame:
    """The quarantine lines of one chunk, ordered by row, then by the contract's field order."""
    columns = _raw_column_names(raw.columns)
    rank = {name: position for position, name in enumerate(field_order)}
    rows = np.concatenate([problem.rows for problem in problems] + [np.empty(0, dtype=np.int64)])
    sizes = [len(problem.rows) for problem in problems]
    fields = np.repeat(np.array([problem.field for problem in problems], dtype=object), sizes)
    reasons = np.repeat(np.array([problem.reason for problem in problems], dtype=object), sizes)
    field_rank = np.repeat(np.array([rank.get(problem.field, len(rank)) for problem in problems], dtype=np.int64), sizes)
    order = np.lexsort((field_rank, rows))
    rows = rows[order]
    meta = pd.DataFrame({
        "row_number": (rows + first_row_number).astype("int64"),
        "field": pd.array(fields[order], dtype="str"),
        "reason": pd.array(reasons[order], dtype="str"),
    })
    values = raw.iloc[rows].reset_index(drop=True).set_axis(columns, axis=1)
    return pd.concat([meta, values], axis=1)


def _raw_column_names(columns) -> list[str]:
    """A file column that happens to be called row_number, field or reason keeps a `raw_` prefix."""
    return [f"raw_{name}" if name in QUARANTINE_COLUMNS else str(name) for name in columns]


def write_quarantine(frame: pd.DataFrame, path) -> Path:
    """The quarantine as CSV: owner-only (it holds the rows' values), cells a spreadsheet would run made inert."""
    with open_private(path, "w", encoding="utf-8", newline="") as handle:
        inert_frame(frame).to_csv(handle, index=False)
    return Path(path)
