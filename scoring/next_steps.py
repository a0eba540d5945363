"""Next steps that name things: the billable codes under a header code, with their ICD-10-CM
descriptions; the covered conditions of a treatment, described, as conditions the patient must
have documented (never as codes to bill); the documents the policy asks the chart to show
(features/data/documentation.csv); the earliest date a repeat session is covered.

Everything here is looked up or counted (tables and date arithmetic), never scored: the advice's
probabilities come from scoring.advice's one scoring of a claim and its variants. A step never
names what the claim already has: a code on file is not advised, a document on file is not asked
for (scoring.advice offers a document only when its input is false).
"""
from __future__ import annotations

import bisect
import math
from functools import lru_cache

import pandas as pd

from features.catalog import readable_pattern
from features.diagnosis import COSMETIC_ENCOUNTER_CODE, describe_code, load_table, with_dot
from features.documentation import criteria_for

CHILDREN_NAMED = 6  # billable codes named under one header code: enough to find the chart's, short enough to read
DOCUMENT_ACTIONS = ("attach_medical_necessity_letter", "document_conservative_therapy")
COVERED_CONDITIONS_ACTION = "document_covered_diagnosis"
REPEAT_ACTION = "wait_for_repeat_interval"


@lru_cache(maxsize=1)
def _sorted_billable_codes() -> list[str]:
    return sorted(code for code, (billable, _) in load_table().codes.items() if billable)


def billable_children(header: str) -> list[str]:
    """The billable dotless codes under a header code, in code order."""
    billable = _sorted_billable_codes()
    children = []
    for candidate in billable[bisect.bisect_left(billable, header):]:
        if not candidate.startswith(header):
            break
        children.append(candidate)
    return children


def described(code: str) -> dict:
    """A dotless code or pattern (`G51.3*`) as `{code, description}` (the pattern's stem described)."""
    readable, description = _described(code)
    return {"code": readable, "description": description}


@lru_cache(maxsize=4096)
def _described(code: str) -> tuple[str, str]:
    """described's words, once per code: a cosmetic exclusion's answer describes every covered
    condition of its treatment (a dozen look-ups in the ICD-10-CM release, the same each time)."""
    return readable_pattern(code), describe_code(code.rstrip("*"))


def claim_codes(claim: dict) -> list[str]:
    return claim["diagnosis_codes"].split(";") if claim["diagnosis_codes"] else []


def header_choices(claim: dict, treatment) -> list[dict]:
    """Per header code on the claim: its billable codes (those the treatment is covered under
    first), described, at most CHILDREN_NAMED."""
    table = load_table()
    choices = []
    for code in claim_codes(claim):
        if table.codes.get(code, (True,))[0]:
            continue
        children = billable_children(code)
        children = sorted(children, key=lambda child: not treatment.covers(child))[:CHILDREN_NAMED]
        choices.append({"header": with_dot(code), "header_description": describe_code(code),
                        "billable_codes": [described(child) for child in children]})
    return choices


def name_the_steps(recommendations: list[dict], claim: dict, treatment) -> list[dict]:
    """The recommendations with what they ask for named: the billable codes under a header code,
    the documents the policy asks for. Descriptions of "Do all of these" keep the short forms."""
    named = []
    for item in recommendations:
        if item["action"] == "bill_specific_diagnosis_code":
            choices = header_choices(claim, treatment)
            item = {**item, "billable_codes": [code for choice in choices for code in choice["billable_codes"]],
                    "description": "; ".join(_header_text(choice) for choice in choices) or item["description"]}
        elif item["action"] in DOCUMENT_ACTIONS:
            documents = documents_for(claim)
            if documents:
                item = {**item, "documents": documents,
                        "description": f"{item['description']}, showing what the policy asks for: "
                                       + "; ".join(_short(document["text"]) for document in documents)}
        named.append(item)
    return named


def _header_text(choice: dict) -> str:
    codes = ", ".join(f"{code['code']} ({code['description']})" for code in choice["billable_codes"])
    return (f"{choice['header']} ({choice['header_description']}) is a header code, not billable: bill the specific "
            f"code the chart documents, such as {codes}")


def documents_for(claim: dict) -> list[dict]:
    """What the policy asks the chart to show for this treatment and these diagnoses, with sources."""
    return [{"text": criterion.text, "source": criterion.source}
            for criterion in criteria_for(claim["treatment"], claim_codes(claim))]


def _short(text: str) -> str:
    """A criterion's name: what comes before its details (`A headache diary showing chronic migraine`)."""
    return text.split(":")[0].strip()


def covered_conditions_steps(treatment, claim: dict, fired_rules) -> list[dict]:
    """The one advice that can change a cosmetic exclusion (CARC 96): when the treatment is covered
    (for a composite claim, when each candidate that can be covered is)."""
    if not any(rule.carc == "96" for rule in fired_rules):
        return []
    encounter = COSMETIC_ENCOUNTER_CODE in claim_codes(claim)
    return [covered_conditions_step(candidate, claim, encounter) for candidate in treatment.candidates
            if candidate.covered_diagnoses and not candidate.never_covered]


def covered_conditions_step(candidate, claim: dict, cosmetic_encounter: bool = False) -> dict:
    """The conditions the treatment is covered under, described: those the claim has no code of.
    A diagnosis is documented because the patient has it, never chosen for payment, so the words
    are "covered only when the patient has one of these", not "code one of these"."""
    codes = claim_codes(claim)
    on_file = [code for code in codes if candidate.covers(code)]
    patterns = [pattern for pattern in candidate.covered_diagnoses
                if not any(candidate.covers(code) and _within(code, pattern) for code in on_file)]
    conditions = [described(pattern) for pattern in patterns]
    listed = "; ".join(f"{condition['description']} ({condition['code']})" for condition in conditions)
    if cosmetic_encounter and on_file:
        on_file_text = ", ".join(f"{with_dot(code)} ({describe_code(code)})" for code in on_file)
        text = (f"The claim is coded as an encounter for cosmetic surgery ({with_dot(COSMETIC_ENCOUNTER_CODE)}), and a "
                f"plan pays no cosmetic visit, whatever else is coded. {candidate.description} is covered only when "
                f"the visit treats a documented condition; on the claim already: {on_file_text}. If that is what "
                "this visit treats, the chart and the claim should say so; if the visit is cosmetic, the patient pays.")
    else:
        text = (f"{candidate.description} is covered only when the patient has one of these documented conditions: "
                f"{listed}. {candidate.conditions}.")
    return {
        "action": COVERED_CONDITIONS_ACTION,
        "description": text,
        "covered_diagnoses": [readable_pattern(pattern) for pattern in candidate.covered_diagnoses],
        "covered_conditions": conditions,
        "conditions": candidate.conditions,
        "source": candidate.source,
        "probability_after": None,
        "gain": None,
    }


def _within(code: str, pattern: str) -> bool:
    return code.startswith(pattern[:-1]) if pattern.endswith("*") else code == pattern


def missing_condition_step(treatment, claim: dict, hard_excluded: bool) -> dict | None:
    """For a treatment covered only under listed diagnoses that no rule excludes without one
    (not cosmetic by default: G0447, obesity counselling, needs its BMI code), a claim with none
    of them: the conditions it is covered under, described."""
    if hard_excluded or len(treatment.candidates) != 1:
        return None
    (candidate,) = treatment.candidates
    if candidate.cosmetic_by_default or not candidate.covered_diagnoses or candidate.covered_by(claim_codes(claim)):
        return None
    return covered_conditions_step(candidate, claim)


def repeat_session_step(claim: dict, treatment, hard_excluded: bool) -> dict | None:
    """A repeat session sooner than the catalog's minimum interval: the earliest date it is covered."""
    minimum = treatment.traits.min_weeks_between if treatment.traits else None
    weeks = claim.get("weeks_since_last_treatment")
    if hard_excluded or not minimum or weeks is None or weeks != weeks or weeks >= minimum:
        return None
    earliest = earliest_covered_date(claim["service_date"], weeks, minimum)
    return {
        "action": REPEAT_ACTION,
        "description": (f"Book this session on or after {earliest}: the plan pays a repeat session only "
                        f"{minimum:g} weeks after the last one, and this one is {weeks:g} weeks after it"),
        "date": earliest,
        "probability_after": None,
        "gain": None,
    }


def earliest_covered_date(service_date, weeks_since: float, minimum_weeks: float) -> str:
    """The first day at least `minimum_weeks` after the last session (ISO date); the last session
    was `weeks_since` weeks before the service date."""
    wait = math.ceil(round((minimum_weeks - weeks_since) * 7, 6))  # 6 decimals: 7 x 11.4285714 weeks is 80 days
    return (pd.Timestamp(service_date).normalize() + pd.Timedelta(days=wait)).date().isoformat()
