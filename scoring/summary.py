"""An answer's summary: one plain sentence a front desk can read aloud. The decision, the one or
two things that decide it, and the best next step with the chance after it:

    Likely denied: this plan requires prior authorization for laser hair removal and none is on
    file. With it, the chance would be about 97%.

Built from the answer's own parts (scoring.reasons, the recommendations, the rules that fired),
so it cannot say anything they do not.
"""
from __future__ import annotations

from scoring.decisions import DECISION_LEADS, LIKELY_APPROVED
from scoring.places import setting_words
from scoring.reasons import FLOOR, RULE

# A recommendation's change as the start of "..., the chance would be about N%".
WITH_THE_STEP = {
    "obtain_prior_authorization": "With prior authorization",
    "obtain_referral": "With a physician referral",
    "attach_medical_necessity_letter": "With a letter of medical necessity",
    "document_conservative_therapy": "With the failed first-line therapy documented",
    "use_in_network_provider": "With an in-network provider",
    "see_physician_office": "At a doctor's office",
    "bill_specific_diagnosis_code": "With the specific code billed",
    "all_of_the_above": "With all the recommended steps",
}
COVERED_ONLY_WHEN = "It is covered only when the patient has one of the documented conditions listed."


def about(probability: float) -> str:
    """`about 97%`; the ends said as bounds, since "about 100%" promises what no one can."""
    percent = round(probability * 100)
    return "over 99%" if percent > 99 else "under 1%" if percent < 1 else f"about {percent}%"


# Words a reason may start with that keep their capital mid-sentence ("Not covered: Medicare pays...").
PROPER_NOUNS = ("Medicare", "Medicaid")


def summarise(decision: str, reasons: dict, recommendations: list[dict], fired_rules,
              action_inputs: dict) -> str:
    """action_inputs: recommendation action -> the claim input it changes (scoring.advice)."""
    lead = DECISION_LEADS[decision]
    if fired_rules and reasons["items"] and reasons["items"][0]["input"] == RULE:
        return f"{lead}: {_clause(fired_rules[0].reason)}.{_rule_step(recommendations)}"
    direction = 1 if decision == LIKELY_APPROVED else -1
    deciding = [item for item in reasons["items"] if item["input"] != FLOOR and item["points"] * direction > 0]
    steps = {action_inputs.get(item["action"]): item for item in recommendations if item.get("probability_after")}
    actionable = [item for item in deciding if item["input"] in steps]
    things = actionable[:1] or deciding[:2]
    if not things:
        return f"{lead}: nothing stands out; this claim is close to a typical claim in this history.{_step(recommendations)}"
    sentence = f"{lead}: {' and '.join(_clause(item['text']) for item in things)}."
    if actionable:
        step = steps[actionable[0]["input"]]
        # "With it" reads as the missing document or authorization; a move names where instead
        lead_in = _with_the_step(step) if step.get("facility_type") else "With it"
        sentence += f" {lead_in}, the chance would be {about(step['probability_after'])}"
        best = recommendations[0]
        if best is not step and best.get("probability_after"):
            sentence += f"; {_with_the_step(best).lower()}, " \
                        f"{about(best['probability_after'])}"
        return sentence + "."
    return sentence + _step(recommendations)


def _step(recommendations: list[dict]) -> str:
    if not recommendations:
        return ""
    best = recommendations[0]
    if best.get("date"):  # a repeat session too soon (scoring.next_steps)
        return f" A session on or after {best['date']} would be within the plan's interval."
    if best.get("probability_after") is None:
        return f" {COVERED_ONLY_WHEN}"
    return f" {_with_the_step(best)}, the chance would be {about(best['probability_after'])}."


def _with_the_step(item: dict) -> str:
    """`With prior authorization`; a move names the place (`At a dermatology clinic (...)`)."""
    if item.get("facility_type"):
        return f"At {setting_words(item['facility_type'])}"
    return WITH_THE_STEP.get(item["action"], "With the best step")


def _rule_step(recommendations: list[dict]) -> str:
    if not recommendations:
        return " No authorization or paperwork changes that."
    return _step(recommendations)


def _clause(text: str) -> str:
    """A reason as the middle of a sentence: lower-case start (not an acronym's), no final stop."""
    text = text.rstrip(".")
    first = text.split(" ", 1)[0]
    keeps_capital = (len(first) > 1 and first.isupper()) or first in PROPER_NOUNS
    return text if keeps_capital else text[:1].lower() + text[1:]

