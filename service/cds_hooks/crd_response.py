"""The answer as CRD profiles it: a coverage-information system action for every order, and cards.

- System action: `update` of the order as it was sent, its earlier ext-coverage-information
  extensions replaced by ours: `coverage` (the Coverage assessed), `covered`, `pa-needed`,
  `doc-needed` (with `doc-purpose`), `info-needed`, `satisfied-pa-id` (the authorization the order
  already carried, when it is what satisfies), `date`, `coverage-assertion-id` (the
  request id: the audit row of this answer). An order that could not be assessed still gets one,
  `covered` and `pa-needed` `conditional` and `info-needed` `OTH`, so the EHR never mistakes
  silence for coverage.
- Card (CDS Hooks 2.0): the summary says the decision and the probability within 140
  characters; the detail (Markdown) opens with the answer's own summary sentence (the one the page
  and a front desk read aloud), then why in points (the answer's `reasons`, largest first, with
  what they move), the likely denial reasons, what would raise the chance and what was not read
  from the record; links are the policies cited (service.cds_hooks.policy_links);
  indicator `warning` when a payment problem is likely (a likely denial, an exclusion, prior
  authorization or documents still needed), else `info`, never `critical` (a coverage answer is
  not a patient-safety alert); a suggestion where the action is concrete (the billable code to
  put on the order in place of a header code).
"""
from __future__ import annotations

import copy
import uuid
from datetime import date

from features.catalog import load_catalog
from scoring.decisions import DENYING_BANDS, EXCLUDED, LIKELY_APPROVED, LIKELY_DENIED, UNCERTAIN
from service.cds_hooks.order_mapping import COVERAGE_INFORMATION_URL, ICD10CM_SYSTEM, MappedOrder
from service.cds_hooks.policy_links import citation_links

SUMMARY_LIMIT = 140  # CDS Hooks: "<140 characters"
SOURCE = {"label": "medspa-coverage",
          "topic": {"system": "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp", "code": "coverage-info",
                    "display": "Coverage Information"}}
# A clinician's card words the decision in a few words of its summary (the page has its own labels).
DECISION_WORDS = {LIKELY_APPROVED: "likely paid", UNCERTAIN: "payment uncertain", LIKELY_DENIED: "likely denied",
                  EXCLUDED: "not covered"}


def coverage_extension(order: MappedOrder, answer: dict | None, request_id: str, today: date) -> dict:
    """The ext-coverage-information extension of one order (answer None: not assessed)."""
    parts = []
    if order.coverage_reference:
        parts.append({"url": "coverage", "valueReference": {"reference": order.coverage_reference}})
    if answer is None:
        parts += [{"url": "covered", "valueCode": "conditional"}, {"url": "pa-needed", "valueCode": "conditional"},
                  {"url": "info-needed", "valueCode": "OTH"}]
    else:
        information = answer["coverage_information"]
        parts.append({"url": "covered", "valueCode": information["covered"]})
        if information["pa_needed"] is not None:  # none on a claim a rule excludes: no authorization can help
            parts.append({"url": "pa-needed", "valueCode": information["pa_needed"]})
        needed = {"both": ["clinical", "admin"]}.get(information["doc_needed"], [information["doc_needed"]])
        parts += [{"url": "doc-needed", "valueCode": code} for code in needed if code]
        if information["doc_needed"]:
            purpose = "withpa" if information["pa_needed"] == "auth-needed" else "withclaim"
            parts.append({"url": "doc-purpose", "valueCode": purpose})
        parts += [{"url": "info-needed", "valueCode": code} for code in information["info_needed"]]
        if information["pa_needed"] == "satisfied" and order.satisfied_pa_id:  # carried over: it is what satisfies
            parts.append({"url": "satisfied-pa-id", "valueString": order.satisfied_pa_id})
    parts += [{"url": "date", "valueDate": today.isoformat()},
              {"url": "coverage-assertion-id", "valueString": request_id}]
    return {"url": COVERAGE_INFORMATION_URL, "extension": parts}


def updated_order(order: MappedOrder, extension: dict) -> dict:
    resource = copy.deepcopy(order.resource_json)
    kept = [item for item in resource.get("extension", []) if item.get("url") != COVERAGE_INFORMATION_URL]
    resource["extension"] = [*kept, extension]
    return resource


def system_action(order: MappedOrder, answer: dict | None, request_id: str, today: date) -> dict:
    return {"type": "update", "description": f"Coverage information added to {order.label}",
            "resource": updated_order(order, coverage_extension(order, answer, request_id, today))}


def card(order: MappedOrder, answer: dict | None, request_id: str) -> dict:
    """One card per order: the answer in a clinician's words, or why there is none."""
    if answer is None:
        return {"uuid": str(uuid.uuid4()), "summary": _fit(f"Coverage not assessed for {_what(order)}: the record "
                                                            "lacks what the answer needs"),
                "indicator": "warning", "source": SOURCE,
                "detail": _markdown([("Not assessed, because", order.missing), ("Also", order.notes)], request_id)}
    decision, probability = answer["decision"], answer["approval_probability"]
    information = answer["coverage_information"]
    summary = _fit(f"{_what(order)}: {DECISION_WORDS.get(decision, decision)}, "
                   f"{probability:.0%} chance the plan pays")
    warning = decision in DENYING_BANDS or information["covered"] == "not-covered" \
        or information["pa_needed"] == "auth-needed" or bool(information["doc_needed"])
    sections = [
        ("Why", _reasons(answer.get("reasons"))),
        ("Coverage", [f"covered: {information['covered']}; prior authorization: {information['pa_needed']}; "
                      f"documentation: {information['doc_needed'] or 'none needed'}"
                      + (f"; also needed: {', '.join(information['info_needed'])}" if information["info_needed"] else "")]),
        ("Excluded by", [f"{rule['reason']} (CARC {rule['carc']}; {rule['source']})" for rule in answer["excluded_by"]]),
        ("Likely denial reasons", [f"CARC {reason['carc']}: {reason['description']} ({reason['probability']:.0%})"
                                   for reason in answer["likely_denial_reasons"]]),
        ("What would raise the chance", [_advice(item) for item in answer["recommendations"]]),
        ("Not read from the record", order.notes),
    ]
    result = {"uuid": str(uuid.uuid4()), "summary": summary, "indicator": "warning" if warning else "info",
              "source": SOURCE, "detail": _markdown(sections, request_id, answer.get("summary"))}
    links = citation_links("; ".join([*_catalog_sources(answer, order), *(rule["source"] for rule in answer["excluded_by"])]))
    if links:
        result["links"] = links
    suggestions = _code_suggestions(order, answer)
    if suggestions:
        result["suggestions"], result["selectionBehavior"] = suggestions, "at-most-one"
    return result


def _what(order: MappedOrder) -> str:
    if order.claim is None:
        return order.resource_type
    treatment = load_catalog().treatments.get(order.treatment or "")
    code = order.claim["procedure_code"]
    return f"{treatment.key.replace('_', ' ')} ({code})" if treatment else f"procedure {code}"


def _fit(text: str) -> str:
    return text if len(text) < SUMMARY_LIMIT else text[:SUMMARY_LIMIT - 2] + "…"


def _advice(item: dict) -> str:
    after = item.get("probability_after")
    return item["description"] + (f" (then {after:.0%})" if after is not None else "")


def _reasons(reasons: dict | None) -> list[str]:
    """The answer's reasons in points as the page words them: what each moved, in percentage points."""
    if not reasons:  # an answer asked for without its explanation
        return []
    lines = [f"{item['text']} ({item['points']:+.0f} points)" for item in reasons["items"]]
    if round(reasons.get("everything_else_points", 0)):
        lines.append(f"Everything else together ({reasons['everything_else_points']:+.0f} points)")
    return lines


def _markdown(sections, request_id: str, summary: str | None = None) -> str:
    lines = [_escape(summary), ""] if summary else []
    for title, items in sections:
        if items:
            lines += [f"**{title}**", "", *(f"- {_escape(item)}" for item in items), ""]
    lines.append(f"Request id `{request_id}` (the coverage-assertion-id of this answer).")
    return "\n".join(lines)


def _escape(text: str) -> str:
    """Our own words, but catalog text may hold Markdown's characters: shown as written."""
    return "".join("\\" + char if char in "*_`[]<>#" else char for char in text)


def _catalog_sources(answer: dict, order: MappedOrder) -> list[str]:
    treatment = load_catalog().treatments.get(order.treatment or "")
    sources = [treatment.source] if treatment else []
    return sources + [item["source"] for item in answer["recommendations"] if item.get("source")]


def _code_suggestions(order: MappedOrder, answer: dict) -> list[dict]:
    """The billable code to put on the order in place of a header code, when the model recommends it."""
    specific = next((item for item in answer["recommendations"] if item["action"] == "bill_specific_diagnosis_code"
                     and item.get("diagnosis_codes")), None)
    if specific is None:
        return []
    resource = copy.deepcopy(order.resource_json)
    resource["reasonCode"] = [{"coding": [{"system": ICD10CM_SYSTEM, "code": code}]}
                              for code in specific["diagnosis_codes"]]
    return [{"label": "Code the order's reasons with billable ICD-10-CM codes", "uuid": str(uuid.uuid4()),
             "actions": [{"type": "update", "description": specific["description"], "resource": resource}]}]
