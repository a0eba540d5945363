"""Prediction requests read from files or frames: the contract's checks for requests (no claim_id
or outcome required), the valid rows as a clean claims frame, and the rejected lines with their
reasons (row number, field, reason; never a value)."""
from __future__ import annotations

import pandas as pd

from training.data.claim_fields import HISTORY_COLUMNS, ClaimsChunk
from training.data.quarantine import QUARANTINE_COLUMNS, quarantine_frame, quarantined_rows

REJECTED_COLUMNS = QUARANTINE_COLUMNS


class InvalidClaimsError(ValueError):
    """Claims given to the pyfunc model break the contract; the message names row and field."""


def check_request_chunk(raw: pd.DataFrame, first_row_number: int = 1, today: pd.Timestamp | None = None):
    """(clean claims of the valid rows, mask of valid rows, rejected lines) for one raw chunk."""
    raw = raw.reset_index(drop=True)
    clean, problems = ClaimsChunk(raw, history=False, today=today or pd.Timestamp.today()).parse()
    bad = quarantined_rows(problems, len(raw))
    rejected = quarantine_frame(problems, raw, first_row_number, HISTORY_COLUMNS).loc[:, list(REJECTED_COLUMNS)] \
        if problems else pd.DataFrame({name: pd.Series(dtype="int64" if name == "row_number" else "str")
                                       for name in REJECTED_COLUMNS})
    return clean[~bad], ~bad, rejected


def clean_request_frame(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A frame of raw request claims -> (clean claims of the valid rows, rejected lines)."""
    clean, _, rejected = check_request_chunk(frame)
    return clean, rejected
