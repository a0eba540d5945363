"""Who pays when a claim is denied, and what a traditional Medicare claim should say about it.

coverage-facts.md, "Who pays when a claim is denied": a denial carries the group code PR (the
patient pays: a cosmetic or statutorily excluded service the patient chose, a benefit the plan
does not have) or CO (the provider writes it off: it should have known). Traditional Medicare
adds claim modifiers: GY for a service Medicare excludes (the patient is liable, no notice
needed), GA when an Advance Beneficiary Notice (form CMS-R-131) is on file for a service expected
to be denied as not reasonable and necessary (the patient is liable), GZ when it is not (the
provider is). An ABN is Original Medicare's: Medicare Advantage answers never speak of one (its
pre-service organization determination plays that part).
"""
from __future__ import annotations

from features.carc import carc_group_code

TRADITIONAL_MEDICARE = "medicare"
MEDICARE_ADVANTAGE = "medicare_advantage"
ABN_FORM = "CMS-R-131"
PATIENT_PAYS = "PR"


def liability(plan_type: str, hard_rules, top_reason: str | None, likely_paid: bool) -> dict:
    """The answer's `liability`: the denial's group code, and for traditional Medicare the modifier
    and whether an ABN should be signed before the visit.

    hard_rules: the rules that exclude the claim (features.rules.Rule), in table order;
    top_reason: the likeliest denial CARC of a claim no rule excludes; likely_paid: the decision
    is likely_approved.
    """
    deciding = [rule for rule in hard_rules if not rule.fixable]  # a coding fix is no one's liability
    group_code = deciding[0].group_code if deciding else (None if likely_paid else carc_group_code(top_reason or ""))
    answer = {"group_code": group_code, "modifier": None, "modifier_without_notice": None, "abn": None,
              "description": _group_words(group_code)}
    if plan_type == MEDICARE_ADVANTAGE:
        answer["description"] += (" Medicare Advantage decides before the visit: ask the plan for an organization "
                                  "determination when coverage is in doubt.")
    if plan_type != TRADITIONAL_MEDICARE:
        return answer
    if deciding and group_code == PATIENT_PAYS:
        return {**answer, "modifier": "GY", "abn": "not_needed",
                "description": "Medicare does not cover this service (statutory exclusion or not a Medicare benefit): "
                               "bill it with modifier GY; the patient is liable and no Advance Beneficiary Notice is "
                               "needed (one may be given voluntarily, modifier GX)."}
    if deciding or not likely_paid:
        return {**answer, "group_code": "CO", "modifier": "GA", "modifier_without_notice": "GZ", "abn": "advised",
                "description": f"Medicare is likely to deny this as not reasonable and necessary: have the patient sign "
                               f"an Advance Beneficiary Notice ({ABN_FORM}) before the visit and bill with modifier "
                               "GA, so the patient is liable (PR) if it is denied; without a signed notice bill "
                               "modifier GZ, and the provider is liable (CO)."}
    return {**answer, "abn": "not_needed",
            "description": "Medicare is likely to pay: no Advance Beneficiary Notice is needed."}


def _group_words(group_code: str | None) -> str:
    if group_code == PATIENT_PAYS:
        return "If denied, the patient pays (group code PR)."
    if group_code == "CO":
        return "If denied, the provider writes it off (group code CO) and may not bill the patient."
    return "A denial is unlikely."
