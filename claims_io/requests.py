"""Prediction requests read from files or frames: the contract's checks for requests (no claim_id
or outcome required), the valid rows as a clean claims frame, and the rejected lines with their
reasons (row number, the row's own claim_id when it has one, field, reason; never another value)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import VISIT_FIELDS
from claims_io.fields import HISTORY_COLUMNS, ClaimsChunk
from claims_io.quarantine import quarantine_frame, quarantined_rows

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
    # every row valid (a clean file): the frames as they are, not a copy of each column through a mask
    return (clean[~bad] if bad.any() else clean), ~bad, rejected


def _rejected_lines(lines: pd.DataFrame) -> pd.DataFrame:
    """The quarantine lines with only the rejected-file columns: claim_id as text, stripped, "" when absent."""
    ids = lines["claim_id"] if "claim_id" in lines.columns else pd.Series(None, index=lines.index, dtype=object)
    text = ids.map(lambda value: "" if value is None or value != value else str(value).strip())
    return lines.assign(claim_id=pd.array(text, dtype="str")).loc[:, list(REJECTED_COLUMNS)]


def clean_request_frame(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A frame of raw request claims -> (clean claims of the valid rows, rejected lines)."""
    clean, _, rejected = check_request_chunk(frame)
    return clean, rejected


def scoring_form(raw: pd.DataFrame, clean: pd.DataFrame) -> pd.DataFrame:
    """Checked claims as the pyfunc model's signature types them (scoring.logged_model.model_signature),
    for scorers that hand typed columns to it (`predict --engine spark` through `spark_udf`): each
    field as its check read it, so the model's own check reads every claim exactly as this one did.

    `raw` and `clean` are the same valid rows (clean from check_request_chunk). The treatment stays
    the raw text: the clean frame holds the catalog's resolution of it (`unlisted`, a shared code's
    composite key), which is not a request value; the model resolves the text again, the same way.
    """
    form = {}
    for name, (kind, _, _, _) in VISIT_FIELDS.items():
        values = clean[name]
        if name == "treatment":
            text = raw[name] if name in raw.columns else pd.Series(None, index=raw.index, dtype=object)
            form[name] = [None if pd.isna(value) else str(value) for value in text]
        elif kind == "date":
            form[name] = [None if pd.isna(value) else value.strftime("%Y-%m-%d") for value in values]
        elif kind == "bool":
            form[name] = values.astype(bool).to_numpy()
        elif kind == "int":
            form[name] = values.astype("int64").to_numpy()
        elif kind == "number":
            form[name] = values.astype("float64").to_numpy()
        else:  # string, code, codes, enum: text, or None when absent
            form[name] = [None if pd.isna(value) else str(value) for value in values]
    # text columns as objects, so an absent value stays None (pandas' text dtype would make it NaN)
    return pd.DataFrame({name: pd.Series(values, index=raw.index, dtype=object)
                         if not isinstance(values, np.ndarray) else values for name, values in form.items()},
                        index=raw.index)
