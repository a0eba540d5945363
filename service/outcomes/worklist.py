"""The denial worklist: the denied claims the outcomes loop recorded (from outcome files and 835s
alike), each run through the denial playbook (service.denials.play_denial) with the served
champion, ranked by expected recovery. `medspa-coverage outcomes worklist` writes it as CSV,
`GET /v1/worklist` (service.worklist_api) answers a key's own part of it to the page, and
`outcomes report` sums its expected recovery per served model version.

The claim is the canonical claim the audit store kept when it was answered; its current outcome
names the CARC and, when the payer gave one (an 835 always does), the X12 group code, which says
who carries the denial and so the step (a PR denial of an excluded service is billed to the
patient; a CO one is the provider's to write off). An outcome recorded without a group code (an
outcome file without that column, or ingested before the store kept it) takes the one the served
answer's exclusion rule gave for that CARC (PR for a cosmetic exclusion the patient chose), and CO
otherwise: the provider's loss, which never bills the patient on a guess.

Where the step is an appeal with a letter of medical necessity, the row carries the letter's draft
(service.letters, Markdown) when one is offered for the claim, or why not. The file holds claims:
owner-only (0600), its text cells made inert for spreadsheets.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from claims_io.csv_cells import inert_frame
from common.private_files import create_private_file
from features.denial_playbook import APPEAL_WITH_LETTER, load_playbook
from service.claims import claim_from_json
from service.denials import Answer, play_denial
from service.letters import draft_letter, letter_offered
from service.outcomes.served import last_served
from service.outcomes.store import OutcomeStore

DEFAULT_GROUP_CODE = "CO"
ANSWER_BATCH = 200  # claims answered at once (each brings its variants: advice's what-ifs)
LETTER_NOT_OFFERED = "no letter offered: "
WORKLIST_COLUMNS = ("rank", "claim_id", "service_date", "treatment", "procedure_code", "carc", "description",
                    "group_code", "group_code_from", "step", "instruction", "fix", "resubmission_probability",
                    "amount_at_stake", "expected_recovery", "next_deadline", "deadline_rule", "letter",
                    "model_version")
# Where a row's group code came from: the payer's remittance or outcome file, else the rule's default
GROUP_FROM_PAYER, GROUP_FROM_RULE, GROUP_FROM_DEFAULT = "payer", "rule", "default"


class WorklistTooLarge(ValueError):
    """More denied claims in the window than the caller allows to score at once."""


@dataclass(frozen=True)
class Worklist:
    frame: pd.DataFrame
    not_served: int  # denied outcomes with no served claim in the window
    unlisted_carc: int  # denied outcomes whose CARC the playbook does not list

    @property
    def expected_recovery(self) -> float:
        return round(float(self.frame["expected_recovery"].sum()), 2) if len(self.frame) else 0.0

    def format(self, path: Path) -> str:
        steps = self.frame["step"].value_counts().to_dict() if len(self.frame) else {}
        return (f"{len(self.frame):,} denied claims written to {path}, expected recovery "
                f"${self.expected_recovery:,.2f}"
                + "".join(f"\n  {step}: {count}" for step, count in steps.items())
                + f"\nnot in the window or never served: {self.not_served}; CARC not in the playbook: "
                  f"{self.unlisted_carc}")

    def records(self) -> list[dict]:
        """The rows as JSON-ready dicts (a missing number as None, not NaN)."""
        return [{name: (None if isinstance(value, float) and math.isnan(value) else value)
                 for name, value in row.items()} for row in self.frame.to_dict(orient="records")]

    def recovery_by_version(self) -> dict[str | None, tuple[int, float]]:
        """Served model version -> (denied claims, expected recovery) of the rows it answered."""
        found = {}
        for version, part in self.frame.groupby("model_version", dropna=False, sort=True):
            found[None if pd.isna(version) else str(version)] = (len(part), round(float(part["expected_recovery"].sum()), 2))
        return found


def denied_outcomes(audit_store) -> dict:
    """claim_id -> its current outcome, for the claims whose current outcome is a denial with a CARC."""
    return {claim_id: outcome for claim_id, outcome in OutcomeStore(audit_store.engine).current().items()
            if outcome.outcome != "approved" and outcome.denial_reason}


def build_worklist(audit_store, answer: Answer, since: datetime | None = None, until: datetime | None = None,
                   key_id: str | None = None, max_claims: int | None = None) -> Worklist:
    """Every denied or partly denied claim with its playbook answer, by expected recovery (only the
    claims served to `key_id`, when given). WorklistTooLarge past `max_claims` denied claims."""
    denied = denied_outcomes(audit_store)
    served = last_served(audit_store, set(denied), since, until, key_id)
    playbook = load_playbook()
    listed = {claim_id: record for claim_id, record in served.items() if denied[claim_id].denial_reason in playbook}
    if max_claims is not None and len(listed) > max_claims:
        raise WorklistTooLarge(f"{len(listed):,} denied claims in the window, more than the {max_claims:,} "
                               "scored at once")
    claims = {claim_id: claim_from_json(record.claim) for claim_id, record in listed.items()}
    answer = _answered_in_batches(answer, list(claims.values()))
    rows = [_row(claim_id, claims[claim_id], record, denied[claim_id], answer) for claim_id, record in listed.items()]
    frame = pd.DataFrame(rows, columns=[name for name in WORKLIST_COLUMNS if name != "rank"])
    frame = frame.sort_values(["expected_recovery", "amount_at_stake", "claim_id"], ascending=[False, False, True],
                              kind="stable").reset_index(drop=True)
    frame.insert(0, "rank", range(1, len(frame) + 1))
    not_served = len(set(denied) - set(served)) if key_id is None else 0  # others' claims are not this key's count
    return Worklist(frame, not_served, len(served) - len(listed))


def _group_code(outcome, answer: dict) -> tuple[str, str]:
    """The denial's group code and where it came from (see the module docstring)."""
    if outcome.group_code:
        return outcome.group_code, GROUP_FROM_PAYER
    ruled = next((rule["group_code"] for rule in answer.get("excluded_by", [])
                  if rule["carc"] == outcome.denial_reason and rule.get("group_code")), None)
    return (ruled, GROUP_FROM_RULE) if ruled else (DEFAULT_GROUP_CODE, GROUP_FROM_DEFAULT)


def _answered_in_batches(answer: Answer, claims: list[dict]) -> Answer:
    """`answer`, with the claims as billed answered beforehand in batches: the playbook and the
    letter's check each ask for a claim's answer one claim at a time, and a batch answers many for
    little more than one. A changed (fixed) claim is answered when asked."""
    known = {}
    for start in range(0, len(claims), ANSWER_BATCH):
        batch = claims[start:start + ANSWER_BATCH]
        known.update((id(claim), found) for claim, found in zip(batch, answer(batch)))

    def answered(asked: list[dict]) -> list[dict]:
        if len(asked) == 1 and id(asked[0]) in known:
            return [known[id(asked[0])]]
        return answer(asked)

    return answered


def _row(claim_id: str, claim: dict, record, outcome, answer: Answer) -> dict:
    group_code, group_from = _group_code(outcome, record.answer)
    played = play_denial(claim, outcome.denial_reason, group_code, answer, paid_amount=outcome.paid_amount,
                         denial_date=outcome.adjudication_date)
    deadline = min(played["deadlines"], key=lambda found: found["due_date"] or "9999", default=None)
    return {
        "claim_id": claim_id, "service_date": record.claim["service_date"], "treatment": claim["treatment"],
        "procedure_code": claim["procedure_code"], "carc": played["carc"], "description": played["description"],
        "group_code": group_code, "group_code_from": group_from, "step": played["step"],
        "instruction": played["instruction"], "fix": played["fix"]["description"] if played["fix"] else "",
        "resubmission_probability": (played["resubmission"] or {}).get("approval_probability"),
        "amount_at_stake": played["amount_at_stake"], "expected_recovery": played["expected_recovery"],
        "next_deadline": deadline["due_date"] if deadline else None,
        "deadline_rule": deadline["rule"] if deadline else "",
        "letter": _letter(claim, answer) if played["step"] == APPEAL_WITH_LETTER else "",
        "model_version": record.model_version}


def _letter(claim: dict, answer: Answer) -> str:
    """The letter's Markdown draft, or why none is offered (service.letters: the same rules as POST /v1/letters)."""
    refused = letter_offered(claim, answer([claim])[0])
    return LETTER_NOT_OFFERED + refused if refused else draft_letter(claim)["markdown"]


def write_worklist(worklist: Worklist, out) -> Path:
    """The worklist as CSV, owner-only, with no cell a spreadsheet would run."""
    out = Path(out)
    if out.suffix.lower() != ".csv":
        raise ValueError("--out: the worklist is a .csv file")
    create_private_file(out)
    inert_frame(worklist.frame).to_csv(out, index=False)
    return out
