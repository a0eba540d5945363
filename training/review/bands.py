"""What changes for clinics and patients when the challenger serves (notebook 1): claims moving
between the decision bands the service answers with (likely_approved / uncertain / likely_denied,
thresholds from the model's params, and a rule's `excluded`), what the wrong answers cost under
stated weights, and how far the expected payment the service quotes is from what the plan paid.

Scores are model_review.review_scores frames of the same claims, in the same order.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import TARGET
from scoring.patient_cost import plan_payment_if_approved
from scoring.decisions import DECISION_BANDS, DENYING_BANDS, LIKELY_APPROVED
from training.review.versions import ReviewInputError

# The columns a band-change example shows: what the test split already shows of a claim, no more.
EXAMPLE_COLUMNS = ("claim_id", "service_date", "treatment", "procedure_code", "plan_type", "benefit_scope",
                   "facility_type", "in_network", "prior_authorization", "billed_amount", "outcome")


def _same_claims(champion: pd.DataFrame, challenger: pd.DataFrame) -> None:
    if not champion["claim_id"].equals(challenger["claim_id"]):
        raise ReviewInputError("the two models must be scored on the same claims, in the same order")


def band_movement(champion_scores: pd.DataFrame, challenger_scores: pd.DataFrame) -> pd.DataFrame:
    """Claims per band under the champion (rows) and the challenger (columns), with totals."""
    _same_claims(champion_scores, challenger_scores)
    champion = pd.Categorical(champion_scores["decision"].astype(str), categories=DECISION_BANDS)
    challenger = pd.Categorical(challenger_scores["decision"].astype(str), categories=DECISION_BANDS)
    table = pd.crosstab(champion, challenger, rownames=["champion"], colnames=["challenger"], margins=True,
                        margins_name="all", dropna=False)
    return table


def band_changes(champion_scores: pd.DataFrame, challenger_scores: pd.DataFrame) -> pd.DataFrame:
    """One row per move between bands (most claims first): claims, share of all claims, and how
    many of them the payer approved (which side of the move was right)."""
    _same_claims(champion_scores, challenger_scores)
    before = champion_scores["decision"].astype(str).to_numpy()
    after = challenger_scores["decision"].astype(str).to_numpy()
    approved = champion_scores[TARGET].to_numpy(dtype=bool)
    moved = before != after
    frame = pd.DataFrame({"from_champion": before[moved], "to_challenger": after[moved], "approved": approved[moved]})
    columns = ["from_champion", "to_challenger", "claims", "share_of_claims", "approved_share"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    grouped = frame.groupby(["from_champion", "to_challenger"])
    table = pd.DataFrame({"claims": grouped.size(), "approved_share": grouped["approved"].mean()}).reset_index()
    table["share_of_claims"] = table["claims"] / len(before)
    return table[columns].sort_values("claims", ascending=False, ignore_index=True)


def band_examples(champion_scores: pd.DataFrame, challenger_scores: pd.DataFrame, claims: pd.DataFrame,
                  per_move: int = 3) -> pd.DataFrame:
    """A few claims of each move between bands: both probabilities and what the test split shows."""
    _same_claims(champion_scores, challenger_scores)
    before = champion_scores["decision"].astype(str).to_numpy()
    after = challenger_scores["decision"].astype(str).to_numpy()
    columns = [name for name in EXAMPLE_COLUMNS if name in claims.columns]
    frame = claims[columns].reset_index(drop=True).assign(
        from_champion=before, to_challenger=after,
        champion_probability=champion_scores["approval_probability"].to_numpy(),
        challenger_probability=challenger_scores["approval_probability"].to_numpy())
    moved = frame[before != after]
    picked = moved.groupby(["from_champion", "to_challenger"], sort=False).head(per_move)
    lead = ["from_champion", "to_challenger", "champion_probability", "challenger_probability"]
    return picked[lead + columns].sort_values(["from_champion", "to_challenger"], ignore_index=True)


def decision_costs(scores_by_label: dict[str, pd.DataFrame], claims: pd.DataFrame,
                   cost_of_wrong_approval: float = 1.0, cost_of_wrong_denial: float = 1.0) -> pd.DataFrame:
    """Per model: claims answered likely_approved that the payer denied (the clinic loses the
    bill), approved claims answered likely_denied or excluded (a patient may skip a treatment
    that would have been paid), the bills at stake, and the weighted cost per 1,000 claims; with
    two models, a `difference` row (first minus second). The weights are the caller's, stated."""
    approved = claims[TARGET].to_numpy(dtype=bool)
    billed = claims["billed_amount"].to_numpy(dtype=float)
    rows = {}
    for name, scores in scores_by_label.items():
        band = scores["decision"].astype(str).to_numpy()
        wrong_approval = (band == LIKELY_APPROVED) & ~approved
        wrong_denial = np.isin(band, DENYING_BANDS) & approved
        cost = cost_of_wrong_approval * wrong_approval.sum() + cost_of_wrong_denial * wrong_denial.sum()
        rows[name] = {"wrong_approvals": int(wrong_approval.sum()), "billed_wrongly_approved": billed[wrong_approval].sum(),
                      "wrong_denials": int(wrong_denial.sum()), "billed_wrongly_denied": billed[wrong_denial].sum(),
                      "weighted_cost": float(cost), "cost_per_1000_claims": 1000 * float(cost) / max(len(band), 1)}
    table = pd.DataFrame.from_dict(rows, orient="index")
    if len(table) == 2:
        table.loc["difference"] = table.iloc[0] - table.iloc[1]
    table.attrs["weights"] = (f"cost of a wrong approval {cost_of_wrong_approval} per claim, "
                              f"of a wrong denial {cost_of_wrong_denial} per claim")
    return table


def expected_payment(scores: pd.DataFrame, claims: pd.DataFrame) -> np.ndarray:
    """What the service quotes as the plan's expected payment: probability x what the plan pays if it
    approves (scoring.patient_cost: the allowed amount after cost sharing, up to the benefit left)."""
    payable = plan_payment_if_approved(claims)
    return scores["approval_probability"].to_numpy(dtype=float) * payable


def payment_error(scores_by_label: dict[str, pd.DataFrame], claims: pd.DataFrame) -> pd.DataFrame:
    """Per model: the expected payment against what the plan paid - mean absolute error, mean
    error (positive: the quote promises more than is paid) and both totals, in USD."""
    paid = claims["paid_amount"].to_numpy(dtype=float)
    rows = {}
    for name, scores in scores_by_label.items():
        error = expected_payment(scores, claims) - paid
        rows[name] = {"mean_absolute_error": float(np.abs(error).mean()), "mean_error": float(error.mean()),
                      "total_expected": float((error + paid).sum()), "total_paid": float(paid.sum())}
    table = pd.DataFrame.from_dict(rows, orient="index")
    if len(table) == 2:
        table.loc["difference"] = table.iloc[0] - table.iloc[1]
    return table
