"""Load a claims file (CSV, Parquet or JSON lines) into the clean claims frame, quarantining bad rows.

    result = load_claims("claims.csv", quarantine_path="quarantine.csv")
    result.claims        # the clean frame of features/contract.py (history adds the outcome fields)
    result.quarantine    # one line per (row, field) problem, with the row's original values
    print(format_report(result.report))

A file that cannot be loaded at all (unsupported type, unreadable, a required column missing)
raises ClaimsFileError before any row is checked. A bad row never stops the load: it goes to the
quarantine with its data row number (1-based, header excluded), the field and what the field
allows, and every other row loads. Only what the contract calls invalid is quarantined: a code
no catalog row lists, a treatment with a code the catalog does not list for it, and a shared code
its diagnoses do not settle are kept (and trained on) and counted under warnings. Reasons and the
report never quote a value: claims are patient data; the quarantine file is where the original
values are kept.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.api.types import union_categoricals

from features.contract import OUTCOME_FIELDS, TREATMENT_FIELDS, VISIT_FIELDS, close_matches, required_fields
from claims_io.fields import HISTORY_COLUMNS, ClaimsChunk, duplicate_claim_ids
from claims_io.files import ClaimsFileError, open_claims_file
from claims_io.quarantine import (Problem, count_by_reason, quarantine_frame, quarantined_rows,
                                      write_quarantine)

__all__ = ["ClaimsFileError", "LoadReport", "LoadResult", "expected_columns", "format_report",
           "load_claims", "missing_columns", "required_columns"]


@dataclass(frozen=True)
class LoadReport:
    """What a load read, kept and quarantined; counts only, never values."""

    path: str
    history: bool
    rows_read: int
    rows_kept: int
    rows_quarantined: int
    quarantined_by_reason: dict[str, int]  # "plan_type: unknown value" -> problem lines
    extra_columns: tuple[str, ...] = ()
    # kept rows the catalog has a word about: "procedure_code: unlisted code" -> rows
    warnings_by_reason: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready, for logging (e.g. `mlflow.log_dict(report.to_dict(), "load_report.json")`)."""
        return {
            "path": self.path,
            "history": self.history,
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "rows_quarantined": self.rows_quarantined,
            "quarantined_by_reason": dict(self.quarantined_by_reason),
            "extra_columns": list(self.extra_columns),
            "warnings_by_reason": dict(self.warnings_by_reason),
        }


@dataclass(frozen=True)
class LoadResult:
    claims: pd.DataFrame
    quarantine: pd.DataFrame
    report: LoadReport = field(repr=False)


def required_columns(history: bool) -> tuple[str, ...]:
    """Columns a history file (or a requests file) must have; one of treatment/procedure_code too."""
    return required_fields(history) + (OUTCOME_FIELDS if history else ())


def expected_columns(history: bool) -> tuple[str, ...]:
    """Every column the contract defines for this kind of file; any other column is extra."""
    return tuple(VISIT_FIELDS) + (OUTCOME_FIELDS if history else ())


def missing_columns(columns, history: bool) -> list[str]:
    """Each required column a file lacks ("treatment or procedure_code" for the pair), followed by
    the file's own unknown columns that look like it: "plan_type (did you mean plan_type? found:
    plan)". Column names are the file's header, not claim values, so naming them is safe."""
    columns = list(columns)
    unknown = [name for name in columns if name not in expected_columns(history)]
    wanted = [(name, (name,)) for name in required_columns(history) if name not in columns]
    if not any(name in columns for name in TREATMENT_FIELDS):
        wanted.append((" or ".join(TREATMENT_FIELDS), TREATMENT_FIELDS))
    return described_missing(wanted, unknown)


def described_missing(wanted: list[tuple[str, tuple[str, ...]]], unknown: list[str]) -> list[str]:
    """Each (label, names) a file lacks, followed by the file's unknown columns close to one of the
    names: "plan_type (did you mean plan_type? found: plan)"; for claims and outcome files alike."""
    described = []
    for label, names in wanted:
        near = [found for found in unknown if close_matches(found, names)]
        described.append(f"{label} (did you mean {label}? found: {', '.join(near)})" if near else label)
    return described


def load_claims(path, *, history: bool = True, quarantine_path=None, chunk: int | None = None) -> LoadResult:
    """Load and check a claims file. history=False reads prediction requests (no outcome fields).

    chunk: rows read and checked at a time (bounds memory on very large files); None reads the
    whole file at once, which is fastest.
    """
    raw_claims = open_claims_file(path, chunk)
    _check_columns(raw_claims.path, raw_claims.columns, history)
    expected = set(expected_columns(history))
    extra = [name for name in raw_claims.columns if name not in expected]
    today = pd.Timestamp.today().normalize()
    clean_parts, quarantine_parts, counts, warning_counts = [], [], Counter(), Counter()
    rows_read = rows_quarantined = 0
    earlier_ids = _EarlierClaimIds()
    for raw in raw_claims.chunks:
        extra += [name for name in raw.columns if name not in expected and name not in extra]
        chunk_claims = ClaimsChunk(raw, history=history, today=today)
        clean, problems = chunk_claims.parse()
        if history:
            repeated = duplicate_claim_ids(clean["claim_id"], earlier_ids.array())
            problems += [repeated] if repeated else []
            earlier_ids.add(clean["claim_id"])
        bad = quarantined_rows(problems, len(raw))
        clean_parts.append(clean[~bad])
        quarantine_parts.append(quarantine_frame(problems, raw, rows_read + 1, HISTORY_COLUMNS))
        counts += count_by_reason(problems)
        warning_counts += _kept_rows_by_reason(chunk_claims.warnings, bad)
        rows_read += len(raw)
        rows_quarantined += int(bad.sum())
    claims = _concat(clean_parts)
    quarantine = pd.concat(quarantine_parts, ignore_index=True) if len(quarantine_parts) > 1 else quarantine_parts[0]
    if quarantine_path is not None:
        write_quarantine(quarantine, quarantine_path)
    report = LoadReport(
        path=str(raw_claims.path),
        history=history,
        rows_read=rows_read,
        rows_kept=len(claims),
        rows_quarantined=rows_quarantined,
        quarantined_by_reason=_by_count(counts),
        extra_columns=tuple(extra),
        warnings_by_reason=_by_count(warning_counts),
    )
    return LoadResult(claims, quarantine, report)


def _kept_rows_by_reason(warnings: list[Problem], quarantined: np.ndarray) -> Counter:
    """Rows per warning key, counting only rows that are kept."""
    return Counter({warning.key: int((~quarantined[warning.rows]).sum()) for warning in warnings})


def _by_count(counts: Counter) -> dict[str, int]:
    """Most frequent first, then by key; keys without a row left out."""
    return dict(sorted(((key, count) for key, count in counts.items() if count), key=lambda item: (-item[1], item[0])))


class _EarlierClaimIds:
    """The claim ids of the chunks already loaded, for catching a repeat in a later chunk.

    Each chunk's ids become an arrow array only when a later chunk arrives, so a file read in
    one chunk pays nothing.
    """

    def __init__(self):
        self._seen: pa.Array | None = None
        self._pending: list[pd.Series] = []

    def add(self, claim_ids: pd.Series) -> None:
        self._pending.append(claim_ids)

    def array(self) -> pa.Array | None:
        if self._pending:
            arrays = [pa.array(ids.dropna().to_numpy(dtype=object), type=pa.string()) for ids in self._pending]
            self._seen = pa.concat_arrays(([self._seen] if self._seen is not None else []) + arrays)
            self._pending = []
        return self._seen


def _check_columns(path: Path, columns: tuple[str, ...], history: bool) -> None:
    needed = required_columns(history)
    missing = missing_columns(columns, history)
    if not missing:
        return
    kind = "claims history file" if history else "requests file"
    raise ClaimsFileError(
        f"{path}: missing required column(s): {', '.join(missing)}. "
        f"A {kind} needs the columns {', '.join(needed)}, and treatment or procedure_code (or both).")


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Join chunk frames; categorical columns whose categories differ are unioned, not turned to object."""
    if len(parts) == 1:
        return parts[0].reset_index(drop=True)
    parts = [part.copy() for part in parts]
    for name, dtype in parts[0].dtypes.items():
        if isinstance(dtype, pd.CategoricalDtype):
            categories = union_categoricals([part[name] for part in parts]).categories
            for part in parts:
                part[name] = part[name].cat.set_categories(categories)
    return pd.concat(parts, ignore_index=True)


def format_report(report: LoadReport) -> str:
    """The report as a small printed table."""
    width = max([len(key) for key in (*report.quarantined_by_reason, *report.warnings_by_reason)]
                + [len("rows quarantined")])
    lines = [
        f"{'rows read':<{width}}  {report.rows_read:>12,}",
        f"{'rows kept':<{width}}  {report.rows_kept:>12,}",
        f"{'rows quarantined':<{width}}  {report.rows_quarantined:>12,}",
    ]
    if report.quarantined_by_reason:
        lines += ["", "quarantined by reason (a row with several problems counts under each):"]
        lines += [f"{key:<{width}}  {count:>12,}" for key, count in report.quarantined_by_reason.items()]
    if report.warnings_by_reason:
        lines += ["", "warnings by reason (rows kept and trained on; a request would be answered with the warning):"]
        lines += [f"{key:<{width}}  {count:>12,}" for key, count in report.warnings_by_reason.items()]
    if report.extra_columns:
        lines += ["", f"extra columns, ignored: {', '.join(report.extra_columns)}"]
    return "\n".join(lines)
