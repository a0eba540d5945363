"""POST /v1/letters: a draft letter of medical necessity for a claim on a covered pathway.

Built from the claim's facts and the domain tables only: the diagnoses with their ICD-10-CM
descriptions (features.diagnosis), the treatment in the catalog's words and the procedure code,
the criteria the policy lists (features/data/documentation.csv), each a line the clinician
confirms or strikes, and the policy citations the catalog holds. The patient's name, date of birth
and member id are placeholders the clinic fills in: nothing identifying is invented, stored or
logged. Markdown and HTML (with a print stylesheet); no PDF: printing the HTML to PDF from any
browser gives one, and no library is needed for it (docs/billing.md, "Why no template engine or PDF library").

A claim any rule of features/data/exclusion_rules.csv fires on (cosmetic, dental, comfort,
investigational, age, place of service, a benefit the plan lacks or has used up, a header code),
whether the payer's history keeps the rule hard or only learned it, or one with no diagnosis the
catalog covers the treatment under, gets no letter: 422 `letter_not_offered`, naming each rule and
why. A fired rule says the claim is off the policy's covered pathway, and a letter attesting that
the policy's criteria are met would then be untrue: a compliance risk, and no help. A header code is
the one a correction lifts: the refusal says to bill the specific code first. The service keeps
nothing of the letter: the audit store records that a letter was drafted for the request id
(service.paperwork), and the request's log line says so.
"""
from __future__ import annotations

import html
from datetime import date

from flask import Blueprint, Flask, current_app, g

from features.catalog import load_catalog
from features.claim_facts import split_codes
from features.diagnosis import describe_code, with_dot
from features.documentation import criteria_for
from features.rules import FIXABLE_CLASSES
from service.auth import require_api_key
from service.claims import read_claim_envelope
from service.errors import APIError, field_error
from service.paperwork import LETTER, record_paperwork
from service.request_body import read_json_body

bp = Blueprint("letters", __name__)
bp.before_request(require_api_key)

LETTER_FIELDS = ("claim", "provider_name", "practice_name")
NAME_MAX_LENGTH = 200
PATIENT_PLACEHOLDERS = ("[PATIENT NAME]", "[DATE OF BIRTH]", "[MEMBER ID]")
PROVIDER_PLACEHOLDER, PRACTICE_PLACEHOLDER = "[PROVIDER NAME]", "[PRACTICE NAME]"
PRINT_STYLE = ("body{font-family:Georgia,serif;max-width:42em;margin:2em auto;line-height:1.45;color:#000}"
               "h1{font-size:1.3em}ul.criteria{list-style:none;padding-left:0}ul.criteria li:before{content:'\\2610  '}"
               ".placeholder{background:#fff3b0}"
               "@media print{@page{margin:2cm}body{margin:0;max-width:none;font-size:11pt}"
               ".placeholder{background:none;border-bottom:1px solid #000}.no-print{display:none}}")


@bp.post("/v1/letters")
def letters():
    claim, names = read_letter_request(read_json_body())
    answer = current_app.extensions["coverage_model"].answer([claim])[0]
    refuse_uncovered(claim, answer)
    letter = draft_letter(claim, **names)
    record_paperwork(LETTER)  # that a letter was drafted for this request id, never its text
    g.log_counts = {"letters_drafted": 1}
    return {**letter, "request_id": g.request_id}


def read_letter_request(body) -> tuple[dict, dict]:
    claim, errors = read_claim_envelope(body, LETTER_FIELDS,
                                        "an object with claim, and optionally provider_name and practice_name")
    names = read_names(body, ("provider_name", "practice_name"), errors)
    if errors:
        raise APIError(422, "invalid_letter_request", "the request is not valid: errors lists every field at fault",
                       errors)
    return claim, names


def read_names(body: dict, fields: tuple[str, ...], errors: list[dict]) -> dict:
    """The optional names of a body (who signs, the practice...), stripped; each that is not 1 to
    NAME_MAX_LENGTH characters of text adds an error naming its field."""
    names = {}
    for name in fields:
        value = body.get(name)
        if value is not None and not (isinstance(value, str) and 0 < len(value.strip()) <= NAME_MAX_LENGTH):
            errors.append(field_error(name, f"must be a name of 1 to {NAME_MAX_LENGTH} characters (optional)"))
        names[name] = value.strip() if isinstance(value, str) else None
    return names


def letter_offered(claim: dict, answer: dict) -> str | None:
    """None when a letter may be drafted for this answered claim; else why not, in words."""
    fired = [*answer.get("excluded_by", []), *answer.get("rules_learned_from_history", [])]
    if fired:
        return "; ".join(_refusal(rule) for rule in fired)
    catalog = load_catalog()
    if claim["treatment"] not in catalog.keys or catalog[claim["treatment"]].never_covered:
        return "the treatment is not one a plan may cover: GET /v1/treatments lists those that are"
    if not catalog[claim["treatment"]].covered_by(split_codes(claim["diagnosis_codes"])):
        return ("the claim names no diagnosis under which the treatment is covered: GET /v1/treatments lists "
                "them (covered_diagnoses)")
    return None


def _refusal(rule: dict) -> str:
    """Why a fired rule (an answer's rule record) rules a letter out, in words."""
    if rule["rule_class"] in FIXABLE_CLASSES:
        then = "correct the claim first (bill the billable code), then draft the letter for the corrected claim"
    else:
        then = "it is not a covered pathway, and a letter of medical necessity cannot make it one"
    return f"rule {rule['id']} ({rule['rule_class']}) applies: {rule['reason']}: {then}"


def refuse_uncovered(claim: dict, answer: dict) -> None:
    reason = letter_offered(claim, answer)
    if reason:
        raise APIError(422, "letter_not_offered", "no letter of medical necessity is offered for this claim",
                       [field_error("claim", reason)])


def described_diagnosis(code: str) -> dict:
    """A dotless code with its dot and its ICD-10-CM description."""
    return {"code": with_dot(code), "description": describe_code(code)}


def draft_letter(claim: dict, provider_name: str | None = None, practice_name: str | None = None) -> dict:
    """The letter's parts, and the letter as Markdown and as printable HTML."""
    treatment = load_catalog()[claim["treatment"]]
    codes = split_codes(claim["diagnosis_codes"])
    parts = {
        "claim_id": claim["claim_id"],
        "treatment": treatment.key,
        "treatment_description": treatment.description,
        "procedure_code": claim["procedure_code"],
        "service_date": claim["service_date"].date().isoformat(),
        "diagnoses": [described_diagnosis(code) for code in codes],
        "criteria": [{"text": criterion.text, "source": criterion.source}
                     for criterion in criteria_for(treatment.key, codes)],
        "citations": [source.strip() for source in treatment.source.split(";") if source.strip()],
        "placeholders": [*PATIENT_PLACEHOLDERS, *([] if provider_name else [PROVIDER_PLACEHOLDER]),
                         *([] if practice_name else [PRACTICE_PLACEHOLDER]), "[SIGNATURE]"],
    }
    signer = {"provider": provider_name or PROVIDER_PLACEHOLDER, "practice": practice_name or PRACTICE_PLACEHOLDER}
    return {**parts, "markdown": _markdown(parts, signer), "html": _html(parts, signer)}


def _lines(parts: dict, signer: dict) -> list[tuple[str, object]]:
    """The letter as (kind, content) blocks, which the Markdown and HTML writers each render."""
    procedure = parts["treatment_description"] + (f" (procedure code {parts['procedure_code']})"
                                                 if parts["procedure_code"] else "")
    return [
        ("title", "Letter of medical necessity"),
        ("para", f"{signer['practice']}, {date.today().isoformat()}"),
        ("para", "To the utilization review department of the patient's health plan"),
        ("fields", [("Patient", PATIENT_PLACEHOLDERS[0]), ("Date of birth", PATIENT_PLACEHOLDERS[1]),
                    ("Member ID", PATIENT_PLACEHOLDERS[2]), ("Date of service", parts["service_date"]),
                    ("Requested service", procedure)]),
        ("para", "I am writing to request coverage of the service above, which is medically necessary for my "
                 "patient's diagnosed condition:"),
        ("list", [f"{found['code']}: {found['description']}" for found in parts["diagnoses"]]),
        ("para", "The criteria of the plan's policy are met, as the enclosed records show (confirm each line, "
                 "strike any that does not hold before signing):"),
        ("checks", [f"{criterion['text']} ({criterion['source']})" for criterion in parts["criteria"]]),
        ("para", "Policies applied: " + "; ".join(parts["citations"]) + "."),
        ("para", "Please contact my office with any question. Thank you for your review."),
        ("para", f"Sincerely, [SIGNATURE], {signer['provider']}, {signer['practice']}"),
    ]


def _markdown(parts: dict, signer: dict) -> str:
    out = []
    for kind, content in _lines(parts, signer):
        if kind == "title":
            out.append(f"# {content}")
        elif kind == "fields":
            out.append("\n".join(f"**{name}:** {value}  " for name, value in content))
        elif kind in ("list", "checks"):
            out.append("\n".join(("- [ ] " if kind == "checks" else "- ") + item for item in content))
        else:
            out.append(content)
    return "\n\n".join(out) + "\n"


def _html(parts: dict, signer: dict) -> str:
    e = html.escape

    def marked(text: str) -> str:  # placeholders stand out on screen and print as lines to fill in
        text = e(text)
        for placeholder in (*PATIENT_PLACEHOLDERS, PROVIDER_PLACEHOLDER, PRACTICE_PLACEHOLDER, "[SIGNATURE]"):
            text = text.replace(placeholder, f"<span class='placeholder'>{placeholder}</span>")
        return text

    body = []
    for kind, content in _lines(parts, signer):
        if kind == "title":
            body.append(f"<h1>{e(content)}</h1>")
        elif kind == "fields":
            body.append("<p>" + "<br>".join(f"<strong>{e(name)}:</strong> {marked(value)}" for name, value in content)
                        + "</p>")
        elif kind in ("list", "checks"):
            css = " class='criteria'" if kind == "checks" else ""
            body.append(f"<ul{css}>" + "".join(f"<li>{marked(item)}</li>" for item in content) + "</ul>")
        else:
            body.append(f"<p>{marked(content)}</p>")
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Letter of medical necessity</title>"
            f"<style>{PRINT_STYLE}</style></head><body>" + "\n".join(body) + "</body></html>\n")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
