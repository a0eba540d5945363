"""POST /v1/estimates: a Good Faith Estimate for a self-pay or not-covered visit (No Surprises Act).

45 CFR 149.610 asks a provider to give an uninsured or self-pay patient (one who will not file a
claim with a plan: every cosmetic visit a plan excludes) a written estimate of the expected charges
of a scheduled service: the patient's name and date of birth, the service in plain words with its
date, each item with its service code, diagnosis codes and expected charge, each provider's name,
NPI, TIN and location, and four disclaimers, one of them the patient's right to dispute a bill at
least $400 above the estimate (the patient-provider dispute resolution of 45 CFR 149.620). The
estimate is built from the claim and the domain tables: the expected charge is the billed amount,
the service is the catalog's, the diagnoses the ICD-10-CM table's. What the claim cannot know
(the patient's name and date of birth, the NPI, the TIN, the location) are placeholders the clinic
fills in: nothing identifying is asked for, invented, stored or logged.

It is offered for a visit a hard rule excludes (`covered: not-covered`), or one the body says is
self-pay (`self_pay: true`); a visit the plan may cover gets 422 `estimate_not_offered`. The
claim is scored as /v1/predict scores it, and its audit row says that an estimate was made
(`good_faith_estimate_made`), for the request id; the estimate itself is not kept. docs/patient-cost.md
has the legal basis and what each field answers.
"""
from __future__ import annotations

import html
from datetime import date

from flask import Blueprint, Flask, current_app, g

from features.catalog import load_catalog
from features.claim_facts import split_codes
from service.api import record_served
from service.auth import require_api_key
from service.claims import read_claim_envelope
from service.errors import APIError, field_error
from service.letters import PRINT_STYLE, described_diagnosis, read_names
from service.request_body import read_json_body

bp = Blueprint("estimates", __name__)
bp.before_request(require_api_key)

ESTIMATE_FIELDS = ("claim", "self_pay", "provider_name", "practice_name")
# 45 CFR 149.620: a bill "substantially in excess" of the estimate, which the patient may dispute, is at
# least this much above it
DISPUTE_THRESHOLD = 400.0
DISPUTE_DAYS = 120  # 45 CFR 149.620: the dispute is started within this many calendar days of the first bill
PATIENT_PLACEHOLDERS = ("[PATIENT NAME]", "[DATE OF BIRTH]")
PROVIDER_PLACEHOLDERS = ("[NPI]", "[TIN]", "[ADDRESS WHERE THE SERVICE IS GIVEN]")
PROVIDER_NAME, PRACTICE_NAME, SERVICE_CODE = "[PROVIDER NAME]", "[PRACTICE NAME]", "[SERVICE CODE]"
SELF_PAY, NOT_COVERED = "self_pay", "not_covered"
LEGAL_BASIS = ("45 CFR 149.610 (good faith estimates for uninsured or self-pay individuals; Public Health Service Act "
               "section 2799B-6)", "45 CFR 149.620 (patient-provider dispute resolution)")
DISPUTE_HELP = "www.cms.gov/nosurprises, or 1-800-985-3059"
# Our words for what 45 CFR 149.610(c)(1)(vii)-(x) asks the estimate to say.
DISCLAIMERS = (
    "The provider may recommend more items or services as part of this course of care. Those must be scheduled or "
    "requested separately and are not in this Good Faith Estimate.",
    "This is only an estimate of the items and services reasonably expected at the time it was issued. The actual "
    "items, services and charges may differ from it.",
    f"If you are billed at least ${DISPUTE_THRESHOLD:,.0f} more than the total expected charges of this estimate for "
    f"a provider or facility, you have the right to dispute the bill through the patient-provider dispute "
    f"resolution process, within {DISPUTE_DAYS} calendar days of the date on the bill. Starting a dispute does not "
    f"affect the quality of the care you receive. To learn how: {DISPUTE_HELP}.",
    "This Good Faith Estimate is not a contract and does not require you to obtain the items or services from any "
    "provider or facility named in it.",
    "Keep a copy of this Good Faith Estimate, and of the bill, in a safe place.",
)


@bp.post("/v1/estimates")
def estimates():
    claim, self_pay, names = read_estimate_request(read_json_body())
    answer = current_app.extensions["coverage_model"].answer([claim])[0]
    kind = SELF_PAY if self_pay else NOT_COVERED if answer["coverage_information"]["covered"] == "not-covered" else None
    if kind is None:
        raise APIError(422, "estimate_not_offered", "no Good Faith Estimate is offered for this claim",
                       [field_error("self_pay", "a Good Faith Estimate is for a self-pay or not-covered visit, and no "
                                                "rule excludes this one: set self_pay to true when the patient will "
                                                "not file a claim with the plan")])
    answer["request_id"] = g.request_id
    g.log_counts = {"claims": 1, "estimates_made": 1}  # the request's log line: that one was made, never its text
    # the audit row: the claim as /v1/predict keeps it, and that an estimate was made for this request id
    record_served([claim], [{**answer, "good_faith_estimate_made": True}])
    return {**good_faith_estimate(claim, kind, **names), "request_id": g.request_id}


def read_estimate_request(body) -> tuple[dict, bool, dict]:
    claim, errors = read_claim_envelope(body, ESTIMATE_FIELDS, "an object with claim, and optionally self_pay, "
                                                               "provider_name and practice_name")
    self_pay = body.get("self_pay", False)
    if not isinstance(self_pay, bool):
        errors.append(field_error("self_pay", "must be true or false (a JSON boolean; default false): true when the "
                                              "patient will not file a claim with the plan"))
    names = read_names(body, ("provider_name", "practice_name"), errors)
    if errors:
        raise APIError(422, "invalid_estimate_request", "the request is not valid: errors lists every field at fault",
                       errors)
    return claim, self_pay, names


def service_words(claim: dict) -> str:
    """The service in plain words: the catalog's description, or the code's when no row names it."""
    candidates = load_catalog().candidates(claim["treatment"])
    if candidates:
        return " or ".join(candidate.description for candidate in candidates)
    return f"The service billed with procedure code {claim['procedure_code']}"


def good_faith_estimate(claim: dict, kind: str, provider_name: str | None = None,
                        practice_name: str | None = None) -> dict:
    """The estimate's fields, and the estimate as a printable HTML page."""
    charge = round(float(claim["billed_amount"]), 2)
    diagnoses = [described_diagnosis(code) for code in split_codes(claim["diagnosis_codes"])]
    provider = provider_name or PROVIDER_NAME
    practice = practice_name or PRACTICE_NAME
    parts = {
        "claim_id": claim["claim_id"],
        "kind": kind,
        "issued_on": date.today().isoformat(),
        "service_date": claim["service_date"].date().isoformat(),
        "service": {"treatment": claim["treatment"], "description": service_words(claim),
                    "procedure_code": claim["procedure_code"]},
        "diagnoses": diagnoses,
        "items": [{"provider": f"{provider}, {practice}", "description": service_words(claim),
                   "procedure_code": claim["procedure_code"] or SERVICE_CODE,
                   "diagnosis_codes": [found["code"] for found in diagnoses], "quantity": 1,
                   "expected_charge": charge}],
        "total_expected_charge": charge,
        "dispute_threshold": round(charge + DISPUTE_THRESHOLD, 2),
        "disclaimers": list(DISCLAIMERS),
        "placeholders": [*PATIENT_PLACEHOLDERS, *([] if provider_name else [PROVIDER_NAME]),
                         *([] if practice_name else [PRACTICE_NAME]), *PROVIDER_PLACEHOLDERS,
                         *([] if claim["procedure_code"] else [SERVICE_CODE])],
        "legal_basis": list(LEGAL_BASIS),
        "currency": "USD",
    }
    return {**parts, "html": _html(parts, provider, practice)}


ESTIMATE_STYLE = PRINT_STYLE + ("table{border-collapse:collapse;width:100%;margin:1em 0}"
                                "th,td{border:1px solid #000;padding:.3em .5em;text-align:left;vertical-align:top}"
                                "td.money{text-align:right;white-space:nowrap}")


def _html(parts: dict, provider: str, practice: str) -> str:
    e = html.escape

    def marked(text: str) -> str:  # placeholders stand out on screen and print as lines to fill in
        text = e(text)
        for placeholder in (*PATIENT_PLACEHOLDERS, *PROVIDER_PLACEHOLDERS, PROVIDER_NAME, PRACTICE_NAME, SERVICE_CODE):
            text = text.replace(e(placeholder), f"<span class='placeholder'>{e(placeholder)}</span>")
        return text

    kind = ("a self-pay visit: the patient will not file a claim with a health plan" if parts["kind"] == SELF_PAY else
            "a service the patient's health plan does not cover, which the patient pays")
    fields = [("Patient", PATIENT_PLACEHOLDERS[0]), ("Date of birth", PATIENT_PLACEHOLDERS[1]),
              ("Issued on", parts["issued_on"]), ("Scheduled date of service", parts["service_date"]),
              ("Service", parts["service"]["description"]),
              ("Provider", provider), ("Practice or facility", practice), ("NPI", PROVIDER_PLACEHOLDERS[0]),
              ("TIN", PROVIDER_PLACEHOLDERS[1]), ("Location", PROVIDER_PLACEHOLDERS[2])]
    rows = "".join(
        f"<tr><td>{marked(item['provider'])}</td><td>{e(item['description'])}</td><td>{marked(item['procedure_code'])}"
        f"</td><td>{e(', '.join(item['diagnosis_codes']) or 'none given')}</td><td>{item['quantity']}</td>"
        f"<td class='money'>{_money(item['expected_charge'])}</td></tr>" for item in parts["items"])
    diagnoses = "".join(f"<li>{e(found['code'])}: {e(found['description'])}</li>" for found in parts["diagnoses"])
    body = [
        "<h1>Good Faith Estimate</h1>",
        f"<p>For {e(kind)}.</p>",
        "<p>" + "<br>".join(f"<strong>{e(name)}:</strong> {marked(value)}" for name, value in fields) + "</p>",
        "<table><caption>Items and services expected</caption><thead><tr><th>Provider or facility</th><th>Item or "
        "service</th><th>Service code</th><th>Diagnosis codes</th><th>Quantity</th><th>Expected charge</th></tr>"
        f"</thead><tbody>{rows}</tbody><tfoot><tr><th colspan='5'>Total expected charges</th>"
        f"<td class='money'><strong>{_money(parts['total_expected_charge'])}</strong></td></tr></tfoot></table>",
        f"<h2>Diagnoses</h2><ul>{diagnoses or '<li>none given</li>'}</ul>",
        "<h2>Please read</h2><ul>" + "".join(f"<li>{e(text)}</li>" for text in parts["disclaimers"]) + "</ul>",
        f"<p>A bill of {_money(parts['dispute_threshold'])} or more from this provider for these services may be "
        "disputed.</p>",
        "<p class='small'>Legal basis: " + e("; ".join(parts["legal_basis"])) + ".</p>",
    ]
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Good Faith Estimate</title>"
            f"<style>{ESTIMATE_STYLE}</style></head><body>" + "\n".join(body) + "</body></html>\n")


def _money(amount: float) -> str:
    return f"${amount:,.2f}"


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
