"""Hand-written claims rows and files for the data suites: a good history row as a CSV holds it,
and writers for CSV (optionally gzipped) and JSON lines."""
from __future__ import annotations

import csv
import gzip
import json

from claims_io.loading import load_claims

HISTORY_ONLY_FIELDS = ("claim_id", "outcome", "paid_amount", "denial_reason")


def good_row(claim_id="C1", **changes) -> dict:
    """A history row as a CSV holds it: every value a string."""
    row = {
        "claim_id": claim_id, "service_date": "2024-03-05", "treatment": "botulinum_toxin",
        "procedure_code": "64615", "diagnosis_codes": "G43.709;Z68.35", "plan_type": "ppo",
        "benefit_scope": "comprehensive", "facility_type": "medical_spa", "place_of_service": "11",
        "in_network": "true", "referral": "false", "medical_necessity_letter": "yes",
        "prior_authorization": "1", "conservative_therapy_documented": "no", "visit_number": "2",
        "weeks_since_last_treatment": "13", "patient_age": "44", "billed_amount": "650.00",
        "benefit_limit": "", "benefit_used": "0", "outcome": "approved", "paid_amount": "600",
        "denial_reason": "",
    }
    row.update(changes)
    return row


def request_row(**changes) -> dict:
    """A prediction request as a CSV holds it: a good row without the history-only fields."""
    return {key: value for key, value in good_row(**changes).items() if key not in HISTORY_ONLY_FIELDS}


def write_csv(path, rows, columns=None):
    columns = columns or list(rows[0])
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def load_rows(tmp_path, rows, **kwargs):
    return load_claims(write_csv(tmp_path / "claims.csv", rows), **kwargs)
