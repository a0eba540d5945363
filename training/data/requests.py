"""Prediction requests read from files or frames: the contract's checks for requests (no claim_id
or outcome required), the valid rows as a clean claims frame, and the rejected lines with their
reasons (row number, the row's own claim_id when it has one, field, reason; never another value)."""
from __future__ import annotations

import pandas as pd

from training.data.claim_fields import HISTORY_COLUMNS, ClaimsChunk
from training.data.quarantine import quarantine_frame, quarantined_rows

# The claim_id is the caller's own reference, so a rejected line can be matched to its claim
# without the row number; no other value of the row is written.
REJECTED_COLUMNS = ("row_number", "claim_id", "field", "reason")


class InvalidClaimsError(ValueError):
    """Claims given to the pyfunc model break the contract; the message names row and field."""


def check_request_chunk(raw: pd.DataFrame, first_row_number: int = 1, today: pd.Timestamp | None = None):
    """(clean claims of the valid rows, mask of valid rows, rejected lines) for one raw chunk."""
    raw = raw.reset_index(drop=True)
    clean, problems = ClaimsChunk(raw, history=False, today=today or pd.Timestamp.today()).parse()
    bad = quarantined_rows(problems, len(raw))
    rejected = _rejected_lines(quarantine_frame(problems, raw, first_row_number, HISTORY_COLUMNS)) \
        if problems else pd.DataFrame({name: pd.Series(dtype="int64" if name == "row_number" else "str")
                                       for name in REJECTED_COLUMNS})
    return clean[~bad], ~bad, rejected


def _rejected_lines(lines: pd.DataFrame) -> pd.DataFrame:
    """The quarantine lines with only the rejected-file columns: claim_id as text, stripped, "" when absent."""
    ids = lines["claim_id"] if "claim_id" in lines.columns else pd.Series(None, index=lines.index, dtype=object)
    text = ids.map(lambda value: "" if value is None or value != value else str(value).strip())
    return lines.assign(claim_id=pd.array(text, dtype="str")).loc[:, list(REJECTED_COLUMNS)]


def clean_request_frame(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A frame of raw request claims -> (clean claims of the valid rows, rejected lines)."""
    clean, _, rejected = check_request_chunk(frame)
    return clean, rejected
