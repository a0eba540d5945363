"""An answer's reasons for a person: a starting chance in words, at most five plain reasons with
their effect in percentage points, and everything else summed, adding up to the answer's chance.

Derived from what the answer already computed (the TreeSHAP factors of scoring.explanation, the
floors, the rules that fired): no model call of its own. Figures are whole tenths of a point, so
that `start_percent + sum(points) + everything_else_points = end_percent` holds exactly as shown:
everything else is what the named reasons leave over, after the rounding too.

What a reason may name:
- inputs a person at the front desk recognises and can act on or check (the paperwork, the
  network, the place, the diagnosis, the treatment, the plan); the patient's age, the billed
  amount, the service date and the place-of-service code only when their effect is large;
- no effect under SMALL_POINTS (they join everything else);
- no prior authorization where the plan does not ask for one: a reason "prior authorization is
  on file" beside "no prior authorization needed" reads as a contradiction, so that share joins
  everything else (the exact factor stays in `factors`); likewise no referral where the plan asks
  for none (scoring.places.referral_asked: traditional Medicare, a PPO, at the patient's own
  primary-care practice), since the advice offers none there;
- the floors (scoring.coverage_model.system_probability) as a reason of their own;
- for a claim a hard rule excludes, the rule: from the typical claim to the rule's paid share.
"""
from __future__ import annotations

import math

from features.diagnosis import with_dot
from scoring.places import referral_asked

MAX_REASONS = 5
SMALL_POINTS = 1.0  # an effect under a point is noise to a reader (advice.MIN_GAIN likewise)
LARGE_POINTS = 10.0  # an input a person cannot act on is named only from this effect on
HIDDEN_UNLESS_LARGE = ("patient_age", "billed_amount", "service_date", "place_of_service")
FLOOR = "floor"
RULE = "rule"
STARTING_POINT = "a typical claim in this history that no rule excludes"
FLOOR_TEXT = ("Raised to the service's floor: never below the same visit at a medical spa, nor below a claim "
              "the rules exclude")
PLAN_WORDS = {"ppo": "PPO", "hmo": "HMO", "epo": "EPO", "pos": "POS", "hdhp": "high-deductible",
              "medicare": "traditional Medicare", "medicare_advantage": "Medicare Advantage", "medicaid": "Medicaid"}


def tenths(probability: float) -> int:
    """A probability as the answer shows it (4 decimals) in whole tenths of a percentage point,
    rounded half up (0.04395 -> 0.044 -> 44: 4.4%). The inner round keeps 1000 x 0.0325, which is
    32.4999... in binary, at 32.5."""
    return math.floor(round(round(probability, 4) * 1000, 6) + 0.5)


def plan_words(plan_type: str) -> str:
    return PLAN_WORDS.get(plan_type, plan_type.replace("_", " "))


def explain_for_a_person(claim: dict, effects: dict | None, start: float, probability: float,
                         model_probability: float, fired_rules, authorization_required) -> dict:
    """effects: input -> effect in probability (None when a hard rule decides); start: the
    classifier's baseline probability; authorization_required: does the plan ask for prior
    authorization here (True, False, None: for some of the treatments the code is billed for)."""
    if effects is None:
        named = [_rule_reason(fired_rules, start, probability)]
        rest = []
    else:
        named, rest = _input_reasons(claim, effects, authorization_required)
        floor = tenths(probability) - tenths(model_probability)
        if floor:  # a reason of its own, within the five
            rest = [item["input"] for item in named[MAX_REASONS - 1:]] + rest
            named = named[:MAX_REASONS - 1] + [{"input": FLOOR, "text": FLOOR_TEXT, "tenths": floor}]
    named = [item for item in named if item["tenths"]]
    else_tenths = tenths(probability) - tenths(start) - sum(item["tenths"] for item in named)
    return {
        "start": STARTING_POINT,
        "start_percent": tenths(start) / 10,
        "items": [{"input": item["input"], "text": item["text"], "points": item["tenths"] / 10} for item in named],
        "everything_else_points": else_tenths / 10,
        "everything_else_inputs": rest,
        "end_percent": tenths(probability) / 10,
    }


def _rule_reason(fired_rules, start: float, probability: float) -> dict:
    first, *others = fired_rules
    also = f" (also: {'; '.join(rule.reason[0].lower() + rule.reason[1:] for rule in others)})" if others else ""
    return {"input": RULE, "text": f"{first.reason}{also}", "tenths": tenths(probability) - tenths(start)}


def _input_reasons(claim: dict, effects: dict, authorization_required) -> tuple[list[dict], list[str]]:
    named, rest = [], []
    for name, effect in sorted(effects.items(), key=lambda item: -abs(item[1])):
        points = abs(effect) * 100
        shown = (points >= SMALL_POINTS and (name not in HIDDEN_UNLESS_LARGE or points >= LARGE_POINTS)
                 and not (name == "prior_authorization" and authorization_required is False)
                 and not (name == "referral" and not referral_asked(claim))
                 and len(named) < MAX_REASONS)
        if shown:
            named.append({"input": name, "text": describe_for_a_person(name, claim, effect, authorization_required),
                          "tenths": round(effect * 1000)})
        elif round(effect * 1000):
            rest.append(name)
    return named, rest


def describe_for_a_person(name: str, claim: dict, effect: float, authorization_required=True) -> str:
    """One input of the claim in plain words, worded by the direction of its effect and never as a
    double negative (the sign is the points')."""
    if name == "prior_authorization":
        if claim[name]:
            return "Prior authorization is on file"
        if authorization_required is None:
            return "No prior authorization is on file (the plan asks for one for some treatments billed with this code)"
        return f"This plan requires prior authorization for {_treatment_words(claim)} and none is on file"
    if name in DOCUMENT_TEXTS:
        return DOCUMENT_TEXTS[name][0] if claim[name] else DOCUMENT_TEXTS[name][1]
    text = _REASON_TEXTS.get(name)
    return _sentence(text(claim, "more" if effect > 0 else "less", effect) if text else words(name))


DOCUMENT_TEXTS = {
    "referral": ("A physician referral is on file", "No physician referral is on file"),
    "medical_necessity_letter": ("A letter of medical necessity is attached",
                                 "No letter of medical necessity is attached"),
    "conservative_therapy_documented": ("Failed first-line therapy is documented",
                                        "No failed first-line therapy is documented"),
    "in_network": ("The provider is in the plan's network", "The provider is out of the plan's network"),
}


def words(value) -> str:
    """A key as words (`medical_spa` -> `medical spa`)."""
    return str(value).replace("_", " ")


def _treatment_words(claim: dict) -> str:
    return words(claim["treatment"]).split("|")[0]


def unknown(value) -> bool:
    """An optional figure not given: None or NaN."""
    return value is None or value != value


def _diagnosis_text(claim: dict, effect: float) -> str:
    codes = [with_dot(code) for code in claim["diagnosis_codes"].split(";") if code] if claim["diagnosis_codes"] else []
    if not codes:
        return "no diagnosis is billed"
    return (f"the diagnosis billed ({', '.join(codes[:3])}) "
            + ("supports this treatment" if effect > 0 else "is paid less often for this treatment"))


# input -> its reason's words (claim, "more" or "less", the effect), each worded only when asked
# for: an answer names a few inputs of every claim, and a batch request many claims
_REASON_TEXTS = {
    "treatment": lambda claim, more, effect: f"{_treatment_words(claim)} is paid {more} often than a typical claim",
    # a claim sent without a code is read as one: say so, not "procedure code billed"
    "procedure_code": lambda claim, more, effect: (
        f"procedure code {claim['procedure_code']} is paid {more} often than most"
        if claim.get("procedure_code") else f"claims without a procedure code are paid {more} often"),
    "plan_type": lambda claim, more, effect: f"{plan_words(claim['plan_type'])} plans pay such claims {more} often "
                                             "than most",
    "benefit_scope": lambda claim, more, effect: (f"plans whose benefit is {words(claim['benefit_scope'])} pay such "
                                                  f"claims {more} often"),
    "facility_type": lambda claim, more, effect: f"visits at {article(words(claim['facility_type']))} are paid "
                                                 f"{more} often",
    "place_of_service": lambda claim, more, effect: "the place-of-service code billed",
    "diagnosis_codes": lambda claim, more, effect: _diagnosis_text(claim, effect),
    "visit_number": lambda claim, more, effect: "a first visit" if claim["visit_number"] <= 1
    else "a repeat visit in a course of treatment",
    "weeks_since_last_treatment": lambda claim, more, effect: "the first treatment of its course"
    if unknown(claim.get("weeks_since_last_treatment"))
    else f"{claim['weeks_since_last_treatment']:g} weeks since the last treatment",
    "benefit_remaining": lambda claim, more, effect: "the plan sets no dollar limit for this benefit"
    if unknown(claim.get("benefit_limit")) else "what is left of the plan's dollar limit for this benefit",
    "billed_amount": lambda claim, more, effect: "the billed amount",
    "patient_age": lambda claim, more, effect: "the patient's age",
    "service_date": lambda claim, more, effect: "the service date (payers change their rules over time)",
}


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def article(noun: str) -> str:
    """`a medical spa`, `an ambulatory surgery center`."""
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"
