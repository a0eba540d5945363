"""Several claims histories as one training set: `train --data history.csv --data served.csv`.

Each file is loaded and checked on its own (claims_io.loading: its own quarantine, its own
repeated claim ids); then a claim id present in more than one file is kept once, with the newer
outcome: a row with an `adjudication_date` (an extra column, written by `medspa-coverage outcomes
export-history`) beats one without, a later date beats an earlier one, and otherwise the file
named later wins (name the files oldest first). Each input's sha256 and row counts are kept
(`HistoryInput`) for the training run.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from claims_io.fields import ADJUDICATION_DATE
from claims_io.loading import LoadReport, LoadResult, load_claims
from scoring.artifacts import file_sha256



@dataclass(frozen=True)
class HistoryInput:
    file: str
    sha256: str
    rows_read: int
    rows_loaded: int  # valid claims in the file
    rows_quarantined: int
    rows_superseded: int  # valid claims another file's newer outcome replaced

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Histories:
    loaded: LoadResult  # the combined claims, quarantine (with a `file` column when several) and report
    inputs: tuple[HistoryInput, ...]

    @property
    def files(self) -> str:
        return "+".join(item.file for item in self.inputs)

    @property
    def sha256(self) -> str:
        """One file's sha256; for several, the sha256 of their names and digests in order."""
        if len(self.inputs) == 1:
            return self.inputs[0].sha256
        text = "\n".join(f"{item.file} {item.sha256}" for item in self.inputs)
        return hashlib.sha256(text.encode()).hexdigest()

    def run_tags(self) -> dict[str, str]:
        """`data_input_<n>_file`, `_sha256`, `_rows_read`, `_rows_loaded`, ... for each input, from 1."""
        return {f"data_input_{number}_{key}": str(value) for number, item in enumerate(self.inputs, start=1)
                for key, value in item.to_dict().items()}


def load_histories(paths) -> Histories:
    """Load each history and combine them (see the module docstring). ClaimsFileError for a file
    that cannot load at all."""
    paths = [Path(path) for path in ([paths] if isinstance(paths, (str, Path)) else paths)]
    results = [load_claims(path, history=True) for path in paths]
    if len(results) == 1:
        result = results[0]
        report = result.report
        return Histories(result, (HistoryInput(paths[0].name, file_sha256(paths[0]), report.rows_read,
                                               report.rows_kept, report.rows_quarantined, 0),))
    ranked = []
    for number, (path, result) in enumerate(zip(paths, results)):
        claims = result.claims.copy()
        dates = _adjudication_dates(path, result.report)
        claims["_adjudicated"] = pd.to_datetime(claims["claim_id"].map(dates), errors="coerce") \
            if dates is not None else pd.NaT
        claims["_file"] = number
        ranked.append(claims)
    everything = pd.concat(ranked, ignore_index=True)
    # NaT sorts first: a dated outcome beats an undated one; then the later file
    order = everything.sort_values(["_adjudicated", "_file"], kind="stable", na_position="first")
    kept = order.drop_duplicates("claim_id", keep="last").sort_index()
    superseded = everything.loc[~everything.index.isin(kept.index), "_file"].value_counts()
    inputs = tuple(HistoryInput(path.name, file_sha256(path), result.report.rows_read, result.report.rows_kept,
                                result.report.rows_quarantined, int(superseded.get(number, 0)))
                   for number, (path, result) in enumerate(zip(paths, results)))
    claims = kept.drop(columns=["_adjudicated", "_file"]).reset_index(drop=True)
    quarantine = pd.concat([result.quarantine.assign(file=path.name) for path, result in zip(paths, results)],
                           ignore_index=True)
    report = _combined_report(paths, [result.report for result in results], len(claims))
    return Histories(LoadResult(claims, quarantine, report), inputs)


def _adjudication_dates(path: Path, report: LoadReport) -> pd.Series | None:
    """claim_id -> adjudication date text, when the file carries that column."""
    if ADJUDICATION_DATE not in report.extra_columns:
        return None
    columns = ["claim_id", ADJUDICATION_DATE]
    if path.suffix.lower() == ".parquet":
        frame = pd.read_parquet(path, columns=columns).astype("string")
    else:
        frame = pd.read_csv(path, usecols=columns, dtype=str, keep_default_na=False)
    frame = frame.drop_duplicates("claim_id", keep="first")  # a repeated id is quarantined after its first row
    return pd.Series(frame[ADJUDICATION_DATE].to_numpy(), index=frame["claim_id"].to_numpy())


def _combined_report(paths: list[Path], reports: list[LoadReport], rows_kept: int) -> LoadReport:
    by_reason: dict[str, int] = {}
    warnings: dict[str, int] = {}
    for report in reports:
        for reason, count in report.quarantined_by_reason.items():
            by_reason[reason] = by_reason.get(reason, 0) + count
        for reason, count in report.warnings_by_reason.items():
            warnings[reason] = warnings.get(reason, 0) + count
    extra = tuple(dict.fromkeys(name for report in reports for name in report.extra_columns))
    return LoadReport(path=" + ".join(str(path) for path in paths), history=True,
                      rows_read=sum(report.rows_read for report in reports), rows_kept=rows_kept,
                      rows_quarantined=sum(report.rows_quarantined for report in reports),
                      quarantined_by_reason=dict(sorted(by_reason.items(), key=lambda item: -item[1])),
                      extra_columns=extra, warnings_by_reason=dict(sorted(warnings.items(), key=lambda item: -item[1])))
