"""What the plan pays and what the patient owes: `patient_cost` and `expected_payment` of an answer.

coverage-facts.md, "Who pays when a claim is denied": a plan pays from its allowed amount (not the
billed amount), after the deductible, less the coinsurance or the copay, up to what is left of a
benefit limit; out of network the provider may bill the patient the rest of the charge (balance
billing). A denial leaves the billed amount to the patient under group code PR and to the provider
under CO. The contract's v1.1 fields (allowed_amount, deductible_remaining, coinsurance_rate,
copay) carry what the front desk knows; what it does not is taken at a stated value, and each
such figure is listed in `assumptions` (a code, the fields, words). docs/patient-cost.md has the
arithmetic with worked examples.

Every figure is computed for a whole request's claims at once (numpy over the batch), so the
answer's cost is a few array operations per request, not per claim.
"""
from __future__ import annotations

import math

import numpy as np

from scoring.decisions import EXCLUDED

PATIENT_PAYS, PROVIDER_PAYS = "PR", "CO"
CENTS = 2

# code -> (the contract fields whose absence makes it, what is taken instead, in words)
ASSUMPTIONS = {
    "allowed_amount_taken_as_billed": (
        ("allowed_amount",),
        "The plan's allowed amount is not known: it is taken as the billed amount, so the plan may pay less and, out "
        "of network, the patient may be billed more (the difference as balance billing)."),
    "no_deductible_known": (
        ("deductible_remaining",),
        "What is left of the patient's deductible is not known: it is taken as met, so the patient may owe up to "
        "that much more if the claim is approved."),
    "no_coinsurance_or_copay_known": (
        ("coinsurance_rate", "copay"),
        "Neither the coinsurance rate nor a copay is known: the patient's share after the deductible is taken as "
        "none, so the patient may owe a share of the allowed amount if the claim is approved."),
    "denial_group_code_unknown": (
        (),
        "The likely denial's group code is not known: it is taken as CO, as a provider may bill the patient for a "
        "denied claim only under a patient-responsibility (PR) adjustment."),
}


def cost_sharing(billed, allowed, deductible, coinsurance, copay, benefit_limit, benefit_used, in_network) -> dict:
    """What an approved claim leaves to each party, per claim (arrays in, arrays of USD out).

    Unknown values are NaN (None in an object array is read as NaN): an unknown allowed amount is
    the billed amount, an unknown deductible is met, an unknown coinsurance or copay is none, an
    unknown benefit limit is no limit. The plan allows at most the billed amount (it pays the lesser
    of the charge and its rate). A copay replaces the coinsurance (the contract: "instead of
    coinsurance"); both come after the deductible.
    """
    return _shares(np, _numbers(billed), _numbers(allowed), _numbers(deductible), _numbers(coinsurance),
                   _numbers(copay), _numbers(benefit_limit), _numbers(benefit_used),
                   ~np.asarray(in_network, dtype=bool))


class _OneClaim:
    """The numpy functions _shares uses, on one claim's Python floats: a single claim's arrays cost
    more to make than their arithmetic. The same doubles come out (IEEE arithmetic either way; NaN
    goes through minimum and maximum as numpy's does)."""

    @staticmethod
    def isnan(value: float) -> bool:
        return value != value

    @staticmethod
    def isinf(value: float) -> bool:
        return value in (math.inf, -math.inf)

    @staticmethod
    def where(condition: bool, when: float, otherwise: float) -> float:
        return when if condition else otherwise

    @staticmethod
    def minimum(a: float, b: float) -> float:
        return a if a != a else b if b != b or b < a else a

    @staticmethod
    def maximum(a: float, b: float) -> float:
        return a if a != a else b if b != b or b > a else a


def _shares(xp, billed, allowed, deductible, coinsurance, copay, limit, used, out_of_network) -> dict:
    """cost_sharing's arithmetic, over numpy arrays (xp: numpy) or one claim's floats (xp: _OneClaim)."""
    allowed = xp.minimum(xp.where(xp.isnan(allowed), billed, allowed), billed)
    deductible = xp.minimum(_zero_if_unknown(xp, deductible), allowed)
    after_deductible = allowed - deductible
    no_copay = xp.isnan(copay)
    copay_part = xp.where(no_copay, 0.0, xp.minimum(_zero_if_unknown(xp, copay), after_deductible))
    coinsurance_part = xp.where(no_copay, _zero_if_unknown(xp, coinsurance) * after_deductible, 0.0)
    plan_before_limit = after_deductible - copay_part - coinsurance_part
    remaining = xp.where(xp.isnan(limit), np.inf, xp.maximum(limit - _zero_if_unknown(xp, used), 0.0))
    plan_pays = xp.minimum(plan_before_limit, remaining)
    rest_of_charge = billed - allowed
    balance_billing = xp.where(out_of_network, rest_of_charge, 0.0)
    return {
        "plan_pays": plan_pays,
        "deductible": deductible,
        "coinsurance": coinsurance_part,
        "copay": copay_part,
        "above_benefit_limit": plan_before_limit - plan_pays,
        "balance_billing": balance_billing,
        "patient_pays": deductible + copay_part + coinsurance_part + (plan_before_limit - plan_pays) + balance_billing,
        # in network the contract keeps the provider from billing the patient above the allowed amount
        "provider_writes_off": xp.where(out_of_network, 0.0, rest_of_charge),
        "allowed": allowed,
        "benefit_remaining": xp.where(xp.isinf(remaining), np.nan, remaining),
    }


def plan_payment_if_approved(claims) -> np.ndarray:
    """What the plan pays on an approved claim (a frame or {column: array} of the clean claims'
    columns; the v1.1 columns may be absent: unknown)."""
    return _of_claims(claims)["plan_pays"]


def with_patient_cost(claims: list[dict], answers: list[dict]) -> list[dict]:
    """The answers (scoring.advice) with `expected_payment` and `patient_cost`, worked out from each
    answer's approval probability and the group code of its likely denial (`liability`, else the
    likeliest denial reason's)."""
    if not claims:
        return answers
    group_codes = [_denial_group_code(answer) for answer in answers]
    if len(claims) == 1:  # the service's single claim: its floats, without arrays (_OneClaim)
        claim, answer = claims[0], answers[0]
        figures = [float(np.nan if (value := claim.get(name)) is None else value) for name in _FIGURES]
        shares = {**_shares(_OneClaim, *figures, not claim.get("in_network")), "billed": figures[0]}
        probability = float(answer["approval_probability"])
        patient_pays_if_denied = shares["billed"] if group_codes[0] == PATIENT_PAYS else 0.0
    else:
        # the figures of every claim as one float matrix: one array built per request, not three per figure
        figures = np.array([[np.nan if (value := claim.get(name)) is None else value for name in _FIGURES]
                            for claim in claims], dtype=float)
        shares = _of_claims({**dict(zip(_FIGURES, figures.T)),
                             "in_network": [claim.get("in_network") for claim in claims]})
        probability = np.array([answer["approval_probability"] for answer in answers], dtype=float)
        patient_pays_if_denied = np.where([code == PATIENT_PAYS for code in group_codes], shares["billed"], 0.0)
    expected_patient = probability * shares["patient_pays"] + (1 - probability) * patient_pays_if_denied
    expected_write_off = (probability * shares["provider_writes_off"]
                          + (1 - probability) * (shares["billed"] - patient_pays_if_denied))
    # Python floats, read per claim below: indexing arrays one element at a time costs more than the
    # arithmetic (the products are the same doubles either way)
    shares = {name: _listed(values) for name, values in shares.items()}
    probability, patient_pays_if_denied = _listed(probability), _listed(patient_pays_if_denied)
    expected_patient, expected_write_off = _listed(expected_patient), _listed(expected_write_off)
    out = []
    for index, (claim, answer) in enumerate(zip(claims, answers)):
        figure = {name: _cents(values[index]) for name, values in shares.items()}
        assumed = _assumptions(claim, group_codes[index] is None)
        out.append({**answer, "expected_payment": {
            "amount": _cents(probability[index] * shares["plan_pays"][index]),
            "payable_if_approved": figure["plan_pays"], "billed_amount": figure["billed"],
            "benefit_remaining": figure["benefit_remaining"], "currency": "USD"},
            "patient_cost": {
                "billed_amount": figure["billed"],
                "allowed_amount": figure["allowed"],
                "if_approved": {name: figure[name] for name in _APPROVED_PARTS},
                "if_denied": {"group_code": group_codes[index] or PROVIDER_PAYS,
                              "patient_pays": _cents(patient_pays_if_denied[index]),
                              "provider_writes_off": _cents(shares["billed"][index] - patient_pays_if_denied[index])},
                "expected": {"plan_pays": _cents(probability[index] * shares["plan_pays"][index]),
                             "patient_pays": _cents(expected_patient[index]),
                             "provider_writes_off": _cents(expected_write_off[index])},
                "assumptions": [{"code": code, "fields": list(ASSUMPTIONS[code][0]),
                                 "description": ASSUMPTIONS[code][1]} for code in assumed],
                "description": _in_words(figure, group_codes[index] or PROVIDER_PAYS,
                                         _cents(patient_pays_if_denied[index]), answer["decision"] == EXCLUDED),
                "currency": "USD"}})
    return out


_FIGURES = ("billed_amount", "allowed_amount", "deductible_remaining", "coinsurance_rate", "copay", "benefit_limit",
            "benefit_used")
_COLUMNS = (*_FIGURES, "in_network")
_APPROVED_PARTS = ("plan_pays", "patient_pays", "deductible", "coinsurance", "copay", "above_benefit_limit",
                   "balance_billing", "provider_writes_off")


def _listed(values) -> list:
    """Per-claim figures as a list of Python floats: an array's, or one claim's float."""
    return values.tolist() if isinstance(values, np.ndarray) else [values]


def _of_claims(claims) -> dict:
    def column(name):
        return claims[name] if name in claims else np.full(len(claims["billed_amount"]), np.nan)
    shares = cost_sharing(*(column(name) for name in _COLUMNS))
    return {**shares, "billed": _numbers(claims["billed_amount"])}


def _zero_if_unknown(xp, values):
    """NaN (unknown) as 0; np.nan_to_num's result for the contract's finite figures, at a fifth of its
    cost on a single claim's arrays (it also clips infinities, which no valid claim holds)."""
    return xp.where(xp.isnan(values), 0.0, values)


def _numbers(values) -> np.ndarray:
    """Floats with NaN for None (a list of canonical claims' values, a frame column, an array)."""
    values = np.asarray(values, dtype=object if isinstance(values, list) else None)
    if values.dtype == object:
        values = np.array([np.nan if value is None else value for value in values.ravel()], dtype=float)
    return values.astype(float)


def _denial_group_code(answer: dict) -> str | None:
    group_code = answer["liability"]["group_code"]
    if group_code is None and answer["likely_denial_reasons"]:
        group_code = answer["likely_denial_reasons"][0]["group_code"]
    return group_code


def _known(claim: dict, name: str) -> bool:
    value = claim.get(name)
    return value is not None and value == value


def _assumptions(claim: dict, group_code_unknown: bool) -> list[str]:
    codes = [code for code, (fields, _) in ASSUMPTIONS.items()
             if fields and not any(_known(claim, name) for name in fields)]
    return codes + (["denial_group_code_unknown"] if group_code_unknown else [])


def _cents(value) -> float | None:
    value = float(value)
    return None if value != value else round(value + 0.0, CENTS)  # + 0.0: no -0.0 in an answer


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _in_words(figure: dict, group_code: str, patient_if_denied: float, excluded: bool) -> str:
    """The figures in two sentences, the likely case first: a visit a hard rule excludes is denied,
    so what the patient pays then leads, and the plan's share is what it would pay if it paid anyway."""
    parts = [f"{word} {_money(figure[name])}" for name, word in (
        ("deductible", "deductible"), ("coinsurance", "coinsurance"), ("copay", "copay"),
        ("above_benefit_limit", "above what is left of the benefit limit"),
        ("balance_billing", "balance billing out of network")) if figure[name]]
    approved = (f"If approved, the plan pays {_money(figure['plan_pays'])} and the patient "
                f"{_money(figure['patient_pays'])}" + (f" ({'; '.join(parts)})" if parts else "") + ".")
    denied = (f" If denied, the patient pays {_money(patient_if_denied)} (group code PR)." if group_code == PATIENT_PAYS
              else " If denied, the provider writes it off (group code CO) and the patient pays nothing.")
    if excluded:
        shares = approved[len("If approved, the plan pays "):]
        return f"{denied.strip()} If the plan paid anyway, it would pay {shares}"
    return approved + denied
