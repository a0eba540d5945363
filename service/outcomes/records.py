"""Adjudicated outcomes as read from a file, before they meet the store: what a good one is, what
a quarantined one records (its position and a reason, never a value from the file: outcome files
name patients' claims), and the CSV / Parquet reader.

An outcome file has the contract's outcome fields (`outcome`, `paid_amount`, `denial_reason`:
a CARC code when denied or partial, empty when approved) with `claim_id` and
`adjudication_date` (YYYY-MM-DD), and optionally `group_code`: the X12 claim adjustment group code
(CO, PR, OA, PI) the payer gave the denial, which says who carries it (the contract has no such
field; an 835 always gives one). X12 835 files are read by service.outcomes.remittance.
"""
from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from claims_io.fields import allowed, unknown_value_reason
from claims_io.loading import described_missing
from features.contract import read_enum
from features.denial_playbook import GROUP_CODES

OUTCOME_FILE_COLUMNS = ("claim_id", "outcome", "paid_amount", "denial_reason", "adjudication_date", "group_code")
REQUIRED_COLUMNS = ("claim_id", "outcome", "paid_amount", "adjudication_date")
# A CARC is a number of up to three digits, or a letter and digits for the older alphanumeric ones (A1, B7)
CARC_PATTERN = re.compile(r"^(?:[1-9][0-9]{0,2}|[A-Z][0-9]{1,2})$")
MAX_CLAIM_ID_LENGTH = 200
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]00:00(?::00)?)?$")


class OutcomeFileError(ValueError):
    """The file cannot be read as outcomes at all (missing column, unknown format); the message says why."""


@dataclass(frozen=True)
class Outcome:
    claim_id: str
    outcome: str  # approved | partial | denied
    paid_amount: float
    denial_reason: str  # CARC, "" when approved
    adjudication_date: date
    group_code: str = ""  # X12 group code of the denial (CO, PR, OA, PI); "" when approved or not given

    @property
    def key(self) -> str:
        """What makes two records the same outcome: ingesting it again adds nothing. The group code is
        left out, as it was before the store kept it: a file ingested again stays one outcome."""
        text = "|".join((self.claim_id, self.outcome, f"{self.paid_amount:.2f}", self.denial_reason,
                         self.adjudication_date.isoformat()))
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Quarantined:
    position: str  # "row 7" or "segment 31 (CLP)": where in the file, never what
    field: str
    reason: str


@dataclass
class ReadOutcomes:
    source: str  # csv | parquet | x12-835
    outcomes: list[Outcome] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    items_read: int = 0  # rows, or CLP claims of an 835


def check_outcome(claim_id: str, outcome: str | None, paid_amount: float | None, denial_reason: str,
                  adjudication_date: date | None, group_code: str = "", outcome_sent=None) -> list[tuple[str, str]]:
    """(field, reason) for each way the values break the contract; empty when they make an Outcome.
    The reasons are a claims file's and the API's words (claims_io.fields.allowed), without the
    field, which has a column of its own; an unknown outcome gets the allowed values close to
    `outcome_sent` (what the file said), never that value itself."""
    problems = []
    if not claim_id:
        problems.append(("claim_id", "a value is required: the claim id the service was sent"))
    elif len(claim_id) > MAX_CLAIM_ID_LENGTH:
        problems.append(("claim_id", f"must be at most {MAX_CLAIM_ID_LENGTH} characters"))
    if outcome is None:
        problems.append(("outcome", unknown_value_reason("outcome", outcome_sent)))
    if paid_amount is None or not math.isfinite(paid_amount) or paid_amount < 0:
        problems.append(("paid_amount", f"must be {allowed('paid_amount')} (USD paid by the plan)"))
    if denial_reason and not CARC_PATTERN.match(denial_reason):
        problems.append(("denial_reason", "must be an X12 CARC code such as 50, 96 or 197"))
    if outcome == "approved" and denial_reason:
        problems.append(("denial_reason", "must be empty when the outcome is approved"))
    if outcome == "denied" and paid_amount is not None and paid_amount > 0:
        problems.append(("paid_amount", "must be 0 when the outcome is denied"))
    if adjudication_date is None:
        problems.append(("adjudication_date", f"must be {allowed('service_date')}"))
    if group_code and group_code not in GROUP_CODES:
        problems.append(("group_code", f"must be empty or an X12 group code: {', '.join(GROUP_CODES)}"))
    elif group_code and not denial_reason:
        problems.append(("group_code", "must be empty when there is no denial_reason"))
    return problems


def read_outcome_table(path: Path) -> ReadOutcomes:
    """A CSV or Parquet outcome file; rows that break the contract are quarantined."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path).astype("string").fillna("")
            source = "parquet"
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            source = "csv"
    except (OSError, ValueError) as error:
        raise OutcomeFileError(f"{path.name}: not a readable CSV or Parquet outcome file "
                               f"({type(error).__name__})") from None
    missing = [(name, (name,)) for name in REQUIRED_COLUMNS if name not in frame.columns]
    if missing:  # with the file's own columns that look like one, as a claims file's are named
        unknown = [str(name) for name in frame.columns if name not in OUTCOME_FILE_COLUMNS]
        raise OutcomeFileError(f"{path.name}: missing column(s) {', '.join(described_missing(missing, unknown))}; "
                               f"an outcome file has {', '.join(OUTCOME_FILE_COLUMNS)}")
    for optional in ("denial_reason", "group_code"):
        if optional not in frame.columns:
            frame[optional] = ""
    result = ReadOutcomes(source, items_read=len(frame))
    for number, row in enumerate(frame.loc[:, list(OUTCOME_FILE_COLUMNS)].itertuples(index=False), start=1):
        claim_id, outcome, paid, reason, adjudicated, group = (str(value).strip() for value in row)
        values = (claim_id, read_enum("outcome", outcome), _number(paid), reason.upper(), _date(adjudicated),
                  group.upper())
        problems = check_outcome(*values, outcome_sent=outcome)
        if problems:
            result.quarantined += [Quarantined(f"row {number}", name, why) for name, why in problems]
        else:
            result.outcomes.append(Outcome(*values))
    return result


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> date | None:
    """YYYY-MM-DD; a Parquet date column's midnight time after it is accepted too."""
    if not _DATE.match(text):
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None
