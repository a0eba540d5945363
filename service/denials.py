"""POST /v1/denials: a denied claim line in, the playbook's answer out.

The step comes from features/data/denial_playbook.csv (one row per CARC), who carries the amount
from the group code, and the deadlines from features/data/appeal_deadlines.csv. A step that sends
the claim back to the payer makes its fix on the claim (a billable code, an authorization, a
letter) and the served model scores the fixed claim: the probability it is paid, and the expected
recovery (that probability x what the payer would still pay). A claim a hard rule excludes
(cosmetic, dental, comfort) is never sent to appeal, whatever the CARC.

`play_denial` is the playbook itself, for the API and for `outcomes worklist` alike; it takes the
model's `answer` function, so the command scores with the model it loaded. The answer is not kept
in the audit store: it scores a changed claim that was never sent; the store keeps only that the
playbook answered this request id (service.paperwork).
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date

import pandas as pd
from flask import Blueprint, Flask, current_app, g

from features.carc import carc_descriptions, describe_carc
from features.catalog import load_catalog
from features.claim_facts import join_codes, split_codes
from features.denial_playbook import (APPEAL_STEPS, BILL_PATIENT, CORRECTED_CLAIM, GROUP_CODE_SOURCE, GROUP_CODES,
                                      PAYER_STEPS, load_appeal_deadlines, load_playbook, step_for_group)
from features.diagnosis import load_table, normalise_code, with_dot
from scoring.decisions import EXCLUDED
from service.auth import require_api_key
from service.claims import read_claim_envelope
from service.errors import APIError, field_error
from service.paperwork import DENIAL_PLAYBOOK, record_paperwork
from service.request_body import read_json_body
from service.schemas import CARC_PATTERN, RARC_PATTERN

bp = Blueprint("denials", __name__)
bp.before_request(require_api_key)

DENIAL_FIELDS = ("claim", "carc", "group_code", "rarc", "paid_amount", "denial_date")
_RARC = re.compile(RARC_PATTERN)
_CARC = re.compile(CARC_PATTERN)
Answer = Callable[[list[dict]], list[dict]]


@bp.post("/v1/denials")
def denials():
    denial = read_denial(read_json_body())
    g.log_counts = {"claims": 1}
    playbook = play_denial(**denial, answer=current_app.extensions["coverage_model"].answer)
    record_paperwork(DENIAL_PLAYBOOK)  # that the playbook answered this request id, not what it said
    return {**playbook, "request_id": g.request_id}


def read_denial(body) -> dict:
    """The request's fields, checked: 422 naming every field at fault and what it allows."""
    claim, errors = read_claim_envelope(body, DENIAL_FIELDS, "an object with claim, carc and group_code")
    carc = body.get("carc")
    carc = carc.strip() if isinstance(carc, str) and _CARC.match(carc) else None
    if carc not in carc_descriptions():
        errors.append(field_error("carc", f"is required: one of {', '.join(carc_descriptions())}"))
    group_code = body.get("group_code")
    if not (isinstance(group_code, str) and group_code in GROUP_CODES):
        errors.append(field_error("group_code", f"is required: one of {', '.join(GROUP_CODES)}"))
    rarc = body.get("rarc")
    if rarc is not None and not (isinstance(rarc, str) and _RARC.match(rarc)):
        errors.append(field_error("rarc", "must be a remittance advice remark code such as 'N130'"))
    paid_amount = _amount(body.get("paid_amount", 0.0))
    if paid_amount is None:
        errors.append(field_error("paid_amount", "must be a finite number >= 0 (USD; default 0)"))
    denial_date = _read_date(body.get("denial_date"))
    if denial_date is False:
        errors.append(field_error("denial_date", "must be a real calendar date written YYYY-MM-DD (default: today)"))
    if errors:
        raise APIError(422, "invalid_denial", "the denial is not valid: errors lists every field at fault", errors)
    return {"claim": claim, "carc": carc, "group_code": group_code, "rarc": (rarc or "").strip().upper() or None,
            "paid_amount": paid_amount, "denial_date": denial_date}


def _amount(value) -> float | None:
    """A JSON number as a finite USD amount >= 0, else None (an integer too large for a float too)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        amount = float(value)
    except OverflowError:
        return None
    return amount if math.isfinite(amount) and amount >= 0 else None


def _read_date(value) -> date | None | bool:
    """A YYYY-MM-DD date, None when absent or blank, False when not a date."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return date.fromisoformat(value.strip()) if isinstance(value, str) and len(value.strip()) == 10 else False
    except ValueError:
        return False


def play_denial(claim: dict, carc: str, group_code: str, answer: Answer, rarc: str | None = None,
                paid_amount: float = 0.0, denial_date: date | None = None) -> dict:
    """The playbook for one denied canonical claim (service.claims): step, fix, rescoring, deadlines."""
    row = load_playbook()[carc]
    party, meaning = GROUP_CODES[group_code]
    step, instruction = step_for_group(row.step, group_code), row.instruction
    goes_back = step in PAYER_STEPS
    billed = answer([claim])[0]
    fixed, fix = fixed_claim(claim, row.fix, billed) if goes_back else (claim, None)
    rescored = answer([fixed])[0] if fixed is not claim else billed
    # An exclusion is not appealed (a letter cannot make a cosmetic service covered), nor worked around by
    # adding a covered diagnosis to a claim billed without one; only a header code's billable child may lift it.
    excluded = rescored["decision"] == EXCLUDED or (billed["decision"] == EXCLUDED and
                                                    row.fix != "bill_specific_diagnosis_code")
    if goes_back and excluded:
        step = step_for_group(BILL_PATIENT, group_code)
        instruction = ("A hard rule excludes this claim (" + "; ".join(rule["reason"] for rule in billed["excluded_by"] or rescored["excluded_by"])
                       + "): no correction or appeal changes an exclusion. " + instruction)
        goes_back, fix = False, None
    at_stake = max(rescored["expected_payment"]["payable_if_approved"] - paid_amount, 0.0)
    probability = rescored["approval_probability"] if goes_back else None
    return {
        "claim_id": claim["claim_id"],
        "carc": carc,
        "description": describe_carc(carc),
        "rarc": rarc,
        "liability": {"group_code": group_code, "party": party, "meaning": meaning, "source": GROUP_CODE_SOURCE},
        "step": step,
        "instruction": instruction,
        "appeal": step in APPEAL_STEPS,
        "fix": fix,
        "resubmission": {"approval_probability": probability, "decision": rescored["decision"]} if goes_back else None,
        "amount_at_stake": round(at_stake, 2),
        "expected_recovery": round(probability * at_stake, 2) if goes_back else 0.0,
        "deadlines": deadlines(step, claim, denial_date or date.today()),
        "source": row.source,
    }


def fixed_claim(claim: dict, fix: str, billed: dict) -> tuple[dict, dict | None]:
    """The claim with the playbook's fix made, and the fix in words (None when nothing changes)."""
    if fix in ("prior_authorization", "referral", "medical_necessity_letter"):
        said = {"prior_authorization": "a retroactive prior authorization granted",
                "referral": "a referral from the primary care provider on file",
                "medical_necessity_letter": "a letter of medical necessity attached"}[fix]
        return {**claim, fix: True}, {"action": fix, "description": f"the claim sent again with {said}"}
    if fix == "weeks_since_last_treatment":
        interval = _treatment_attribute(claim, "min_weeks_between")
        if not interval:
            return claim, None
        weeks = max(interval, 0 if math.isnan(claim["weeks_since_last_treatment"]) else claim["weeks_since_last_treatment"])
        return {**claim, fix: float(weeks)}, {"action": fix, "description": f"the next session, {interval:g} weeks "
                                                                            "or more after the last"}
    codes = split_codes(claim["diagnosis_codes"])
    new_codes = (_specific_codes(billed) if fix == "bill_specific_diagnosis_code" else
                 _with_covered_diagnosis(claim, codes) if fix == "add_covered_diagnosis" else None)
    if not new_codes or new_codes == codes:
        return claim, None
    words = ("the header code replaced by a billable one" if fix == "bill_specific_diagnosis_code" else
             "a diagnosis the policy covers, when the chart documents it")
    return ({**claim, "diagnosis_codes": join_codes(new_codes)},
            {"action": fix, "description": f"a corrected claim (frequency code 7) with {words}",
             "diagnosis_codes": [with_dot(code) for code in new_codes]})


def _specific_codes(billed: dict) -> list[str] | None:
    """The answer's own recommendation of billable codes (scoring.advice), dotless."""
    for recommendation in billed["recommendations"]:
        if recommendation["action"] == "bill_specific_diagnosis_code":
            return [normalise_code(code) for code in recommendation["diagnosis_codes"]]
    return None


def _with_covered_diagnosis(claim: dict, codes: list[str]) -> list[str] | None:
    """The codes with the first billable code the catalog covers the treatment under (and the one it
    also requires), when the claim has none: the code the chart must document for the fix to hold."""
    catalog = load_catalog()
    if claim["treatment"] not in catalog.keys:
        return None
    treatment = catalog[claim["treatment"]]
    if treatment.never_covered or treatment.covered_by(codes):
        return None
    covered = [] if any(treatment.covers(code) for code in codes) else [_first_billable(treatment.covered_diagnoses)]
    also = [] if treatment.requirement_met(codes) else [_first_billable(treatment.covered_requires_also)]
    added = [code for code in covered + also if code]
    return [*added, *codes] if covered else [*codes, *added]


def _first_billable(patterns) -> str | None:
    table = load_table()
    for pattern in patterns:
        prefix = pattern.rstrip("*")
        found = sorted(code for code in table.codes if code.startswith(prefix) and table.is_billable(code))
        if found:
            return found[0]
    return None


def _treatment_attribute(claim: dict, name: str):
    catalog = load_catalog()
    return getattr(catalog[claim["treatment"]], name) if claim["treatment"] in catalog.keys else None


def deadlines(step: str, claim: dict, denial_date: date) -> list[dict]:
    """The general limits for a step that goes back to the payer, from the plan type's row."""
    if step not in PAYER_STEPS:
        return []
    limits = load_appeal_deadlines()[claim["plan_type"]]
    general = " (a general rule: check it against the payer's contract)"
    found = [{"kind": "appeal", "due_date": (pd.Timestamp(denial_date) + pd.Timedelta(days=limits.appeal_days))
              .date().isoformat(), "rule": f"{limits.appeal_days} {limits.appeal_rule}{general}",
              "source": limits.source}]
    if step == CORRECTED_CLAIM or limits.corrected_claim_months:
        months = limits.corrected_claim_months
        due = (pd.Timestamp(claim["service_date"]) + pd.DateOffset(months=months)).date().isoformat() if months else None
        found.insert(0 if step == CORRECTED_CLAIM else 1, {
            "kind": "corrected_claim", "due_date": due,
            "rule": (f"{months} " if months else "") + limits.corrected_claim_rule + general, "source": limits.source})
    return found


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
