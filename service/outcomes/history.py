"""`medspa-coverage outcomes export-history --out PATH`: the served claims that have an outcome,
as a claims history in the contract, ready for `train --data` beside the historical file.

Each claim is the canonical claim the audit store kept when it was answered (every visit field
of the contract: service.claims.claim_to_json), with its current outcome; the last answer served
for a claim id decides which claim that is. `adjudication_date` rides along as an extra column
(the loader ignores it as a feature; training's de-duplication reads it: the newer outcome wins).
The file holds patient data: it is created owner-only (0600), CSV or Parquet by its suffix.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from features.contract import CLEAN_COLUMNS, OUTCOME_FIELDS
from service.outcomes.served import last_served
from service.outcomes.store import OutcomeStore
from claims_io.fields import ADJUDICATION_DATE
from common.private_files import create_private_file

HISTORY_FILE_COLUMNS = (*CLEAN_COLUMNS, *OUTCOME_FIELDS, ADJUDICATION_DATE)


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    rows: int

    def format(self) -> str:
        return f"{self.rows:,} served claims with outcomes written to {self.path}"


def history_frame(audit_store, since: datetime | None = None, until: datetime | None = None) -> pd.DataFrame:
    """The served claims with a current outcome, one row each, in the contract's file form."""
    outcomes = OutcomeStore(audit_store.engine).current()
    served = last_served(audit_store, set(outcomes), since, until)
    rows = []
    for claim_id, record in sorted(served.items()):
        outcome = outcomes[claim_id]
        row = {name: record.claim.get(name) for name in CLEAN_COLUMNS}
        codes = row["diagnosis_codes"]  # the canonical claim keeps them `;`-joined, as a file does
        row["diagnosis_codes"] = ";".join(codes) if isinstance(codes, list) else (codes or "")
        row.update(outcome=outcome.outcome, paid_amount=outcome.paid_amount, denial_reason=outcome.denial_reason)
        row[ADJUDICATION_DATE] = outcome.adjudication_date.isoformat()
        rows.append(row)
    return pd.DataFrame(rows, columns=list(HISTORY_FILE_COLUMNS))


def export_history(audit_store, out, since: datetime | None = None, until: datetime | None = None) -> ExportSummary:
    out = Path(out)
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise ValueError("--out: the history file must end in .csv or .parquet")
    frame = history_frame(audit_store, since, until)
    create_private_file(out)
    if out.suffix.lower() == ".parquet":
        frame.to_parquet(out, index=False)
    else:
        frame.to_csv(out, index=False)
    return ExportSummary(out, len(frame))
