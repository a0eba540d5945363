"""What to do after a denial: the playbook table (features/data/denial_playbook.csv), one row per
CARC of features/data/carc_codes.csv, the appeal and filing limits per plan type
(features/data/appeal_deadlines.csv), and what the X12 group code says about who is liable.

Both tables are read and checked here, so a billing analyst can change a step or a source in the
data file and a test says when the table no longer covers every CARC.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from features.carc import carc_descriptions
from features.contract import PLAN_TYPES

PLAYBOOK_FILE = "denial_playbook.csv"
DEADLINES_FILE = "appeal_deadlines.csv"

# The steps, from the one most worth the billing office's time to none.
CORRECTED_CLAIM, RETRO_AUTHORIZATION, APPEAL_WITH_LETTER = "corrected_claim", "retro_authorization", "appeal_with_letter"
RESUBMIT_AFTER_INTERVAL, BILL_PATIENT, WRITE_OFF = "resubmit_after_interval", "bill_patient", "write_off"
STEPS = (CORRECTED_CLAIM, RETRO_AUTHORIZATION, APPEAL_WITH_LETTER, RESUBMIT_AFTER_INTERVAL, BILL_PATIENT, WRITE_OFF)
# Steps that ask the payer to pay this claim after all (the others collect nothing from the payer).
PAYER_STEPS = (CORRECTED_CLAIM, RETRO_AUTHORIZATION, APPEAL_WITH_LETTER)
APPEAL_STEPS = (RETRO_AUTHORIZATION, APPEAL_WITH_LETTER)  # a retroactive request falls back on an appeal

# The claim changes a step makes before the claim is scored again (service.denials applies them).
FIXES = ("add_covered_diagnosis", "bill_specific_diagnosis_code", "prior_authorization", "referral",
         "medical_necessity_letter", "weeks_since_last_treatment")

# X12 claim adjustment group codes: who carries the adjusted amount.
GROUP_CODES = {
    "CO": ("provider", "contractual obligation: the provider writes it off and may not bill the patient"),
    "PR": ("patient", "patient responsibility: the patient may be billed"),
    "OA": ("provider", "other adjustment: neither party is named; the provider may not bill the patient for it"),
    "PI": ("provider", "payer-initiated reduction: the provider may not bill the patient for it"),
}
GROUP_CODE_SOURCE = "X12 Claim Adjustment Group Codes (CO, PR, OA, PI)"


class PlaybookError(ValueError):
    """The playbook or deadlines table is malformed; the message names the row and column."""


@dataclass(frozen=True)
class PlaybookRow:
    carc: str
    step: str
    fix: str  # "" when the claim goes back as it was (or does not go back)
    instruction: str
    source: str


@dataclass(frozen=True)
class AppealDeadline:
    plan_type: str
    appeal_days: int
    appeal_rule: str
    corrected_claim_months: int | None  # None: the contract sets it
    corrected_claim_rule: str
    source: str


def step_for_group(step: str, group_code: str) -> str:
    """A step to bill the patient holds only when the group code makes the patient liable."""
    if step == BILL_PATIENT and GROUP_CODES[group_code][0] != "patient":
        return WRITE_OFF
    return step


def _rows(file_name: str) -> list[dict]:
    with resources.files("features.data").joinpath(file_name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@lru_cache(maxsize=1)
def load_playbook() -> dict[str, PlaybookRow]:
    """CARC -> its row; every CARC of carc_codes.csv has exactly one, with a known step and fix."""
    playbook: dict[str, PlaybookRow] = {}
    for line, row in enumerate(_rows(PLAYBOOK_FILE), start=2):
        where = f"{PLAYBOOK_FILE} line {line}"
        if row["step"] not in STEPS:
            raise PlaybookError(f"{where}: step must be one of {', '.join(STEPS)}")
        if row["fix"] and row["fix"] not in FIXES:
            raise PlaybookError(f"{where}: fix must be empty or one of {', '.join(FIXES)}")
        if not row["instruction"].strip() or not row["source"].strip():
            raise PlaybookError(f"{where}: instruction and source are required")
        if row["carc"] in playbook:
            raise PlaybookError(f"{where}: CARC {row['carc']} has a row already")
        playbook[row["carc"]] = PlaybookRow(row["carc"], row["step"], row["fix"], row["instruction"], row["source"])
    missing = sorted(set(carc_descriptions()) - set(playbook), key=int)
    unknown = sorted(set(playbook) - set(carc_descriptions()), key=int)
    if missing or unknown:
        raise PlaybookError(f"{PLAYBOOK_FILE}: rows must match carc_codes.csv; missing {missing}, unknown {unknown}")
    return playbook


@lru_cache(maxsize=1)
def load_appeal_deadlines() -> dict[str, AppealDeadline]:
    """plan_type -> its appeal and corrected-claim limits; every plan type of the contract has one."""
    deadlines = {}
    for line, row in enumerate(_rows(DEADLINES_FILE), start=2):
        months = row["corrected_claim_months"]
        if not row["appeal_days"].isdigit() or (months and not months.isdigit()):
            raise PlaybookError(f"{DEADLINES_FILE} line {line}: appeal_days and corrected_claim_months are whole "
                                "numbers (months may be empty)")
        deadlines[row["plan_type"]] = AppealDeadline(row["plan_type"], int(row["appeal_days"]), row["appeal_rule"],
                                                     int(months) if months else None, row["corrected_claim_rule"],
                                                     row["source"])
    if set(deadlines) != set(PLAN_TYPES):
        raise PlaybookError(f"{DEADLINES_FILE}: needs one row per plan type: {', '.join(PLAN_TYPES)}")
    return deadlines
