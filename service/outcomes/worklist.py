"""`medspa-coverage outcomes worklist`: the denied claims the outcomes loop recorded (from outcome
files and 835s alike), each run through the denial playbook (service.denials.play_denial) with
the served champion, ranked by expected recovery.

The claim is the canonical claim the audit store kept when it was answered; its current outcome
names the CARC. The outcomes table keeps the CARC but not the group code, so the group code is the
one the served answer's exclusion rule gave for that CARC (PR for a cosmetic exclusion the
patient chose), and CO otherwise: the provider's loss, which never bills the patient on a guess.
The file holds claims: owner-only (0600), its text cells made inert for spreadsheets.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from claims_io.csv_cells import inert_frame
from common.private_files import create_private_file
from features.denial_playbook import APPEAL_WITH_LETTER, load_playbook
from service.claims import claim_from_json
from service.denials import Answer, play_denial
from service.outcomes.served import last_served
from service.outcomes.store import OutcomeStore

DEFAULT_GROUP_CODE = "CO"
WORKLIST_COLUMNS = ("rank", "claim_id", "service_date", "treatment", "procedure_code", "carc", "description",
                    "group_code", "step", "instruction", "fix", "resubmission_probability", "amount_at_stake",
                    "expected_recovery", "next_deadline", "deadline_rule", "letter")


@dataclass(frozen=True)
class Worklist:
    frame: pd.DataFrame
    not_served: int  # denied outcomes with no served claim in the window
    unlisted_carc: int  # denied outcomes whose CARC the playbook does not list

    def format(self, path: Path) -> str:
        recovery = self.frame["expected_recovery"].sum() if len(self.frame) else 0.0
        steps = self.frame["step"].value_counts().to_dict() if len(self.frame) else {}
        return (f"{len(self.frame):,} denied claims written to {path}, expected recovery ${recovery:,.2f}"
                + "".join(f"\n  {step}: {count}" for step, count in steps.items())
                + f"\nnot in the window or never served: {self.not_served}; CARC not in the playbook: "
                  f"{self.unlisted_carc}")


def build_worklist(audit_store, answer: Answer, since: datetime | None = None,
                   until: datetime | None = None) -> Worklist:
    """Every denied or partly denied claim with its playbook answer, by expected recovery."""
    denied = {claim_id: outcome for claim_id, outcome in OutcomeStore(audit_store.engine).current().items()
              if outcome.outcome != "approved" and outcome.denial_reason}
    served = last_served(audit_store, set(denied), since, until)
    playbook, rows = load_playbook(), []
    unlisted = sum(outcome.denial_reason not in playbook for claim_id, outcome in denied.items() if claim_id in served)
    for claim_id, record in served.items():
        outcome = denied[claim_id]
        if outcome.denial_reason not in playbook:
            continue
        group_code = next((rule["group_code"] for rule in record.answer.get("excluded_by", [])
                           if rule["carc"] == outcome.denial_reason and rule.get("group_code")), DEFAULT_GROUP_CODE)
        claim = claim_from_json(record.claim)
        played = play_denial(claim, outcome.denial_reason, group_code, answer, paid_amount=outcome.paid_amount,
                             denial_date=outcome.adjudication_date)
        deadline = min(played["deadlines"], key=lambda found: found["due_date"] or "9999", default=None)
        rows.append({
            "claim_id": claim_id, "service_date": record.claim["service_date"], "treatment": claim["treatment"],
            "procedure_code": claim["procedure_code"], "carc": played["carc"], "description": played["description"],
            "group_code": group_code, "step": played["step"], "instruction": played["instruction"],
            "fix": played["fix"]["description"] if played["fix"] else "",
            "resubmission_probability": (played["resubmission"] or {}).get("approval_probability"),
            "amount_at_stake": played["amount_at_stake"], "expected_recovery": played["expected_recovery"],
            "next_deadline": deadline["due_date"] if deadline else None,
            "deadline_rule": deadline["rule"] if deadline else "",
            "letter": "draft with POST /v1/letters" if played["step"] == APPEAL_WITH_LETTER else ""})
    frame = pd.DataFrame(rows, columns=[name for name in WORKLIST_COLUMNS if name != "rank"])
    frame = frame.sort_values(["expected_recovery", "amount_at_stake", "claim_id"], ascending=[False, False, True],
                              kind="stable").reset_index(drop=True)
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return Worklist(frame, len(set(denied) - set(served)), unlisted)


def write_worklist(worklist: Worklist, out) -> Path:
    """The worklist as CSV, owner-only, with no cell a spreadsheet would run."""
    out = Path(out)
    if out.suffix.lower() != ".csv":
        raise ValueError("--out: the worklist is a .csv file")
    create_private_file(out)
    inert_frame(worklist.frame).to_csv(out, index=False)
    return out
