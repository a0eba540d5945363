"""Band moves, what wrong answers cost and the expected-payment error (training.review.bands), on
small hand-built claims whose right answers can be counted by hand."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.contract import TARGET
from scoring.decisions import DECISION_BANDS
from training.review import bands
from training.review.versions import ReviewInputError

# Six claims: the champion's band and probability, the challenger's, and what the payer did.
CHAMPION = ["likely_approved", "likely_approved", "uncertain", "uncertain", "likely_denied", "excluded"]
CHALLENGER = ["likely_approved", "uncertain", "likely_denied", "likely_denied", "likely_denied", "excluded"]
CHAMPION_P = [0.90, 0.80, 0.50, 0.40, 0.10, 0.0]
CHALLENGER_P = [0.95, 0.60, 0.20, 0.25, 0.05, 0.0]
APPROVED = [True, False, True, False, True, False]


@pytest.fixture
def claims():
    return pd.DataFrame({
        "claim_id": [f"C{i}" for i in range(6)],
        "service_date": pd.to_datetime(["2025-01-0%d" % (i + 1) for i in range(6)]),
        "treatment": ["botulinum_toxin"] * 6,
        "billed_amount": [1000.0, 500.0, 800.0, 200.0, 300.0, 400.0],
        "benefit_limit": [np.nan, np.nan, 600.0, np.nan, 1000.0, np.nan],
        "benefit_used": [0.0, 0.0, 100.0, 0.0, 950.0, 0.0],
        "paid_amount": [1000.0, 0.0, 500.0, 0.0, 50.0, 0.0],
        "outcome": ["approved", "denied", "approved", "denied", "approved", "denied"],
        TARGET: APPROVED,
    })


def scores(decisions, probabilities):
    return pd.DataFrame({"claim_id": [f"C{i}" for i in range(6)], TARGET: APPROVED, "decision": decisions,
                         "approval_probability": probabilities})


@pytest.fixture
def champion():
    return scores(CHAMPION, CHAMPION_P)


@pytest.fixture
def challenger():
    return scores(CHALLENGER, CHALLENGER_P)


def test_band_movement_counts_every_claim_once_in_its_two_bands(champion, challenger):
    table = bands.band_movement(champion, challenger)
    assert list(table.index[:-1]) == list(DECISION_BANDS) and list(table.columns[:-1]) == list(DECISION_BANDS)
    assert table.loc["uncertain", "likely_denied"] == 2
    assert table.loc["likely_approved", "likely_approved"] == 1 and table.loc["excluded", "excluded"] == 1
    assert table.loc["all", "all"] == 6 and table.loc["likely_approved", "all"] == 2


def test_band_changes_list_only_the_moves_with_who_was_right(champion, challenger):
    table = bands.band_changes(champion, challenger)
    assert table["claims"].sum() == 3  # claims 1, 2 and 3 move
    moves = table.set_index(["from_champion", "to_challenger"])
    assert moves.loc[("uncertain", "likely_denied"), "claims"] == 2
    assert moves.loc[("uncertain", "likely_denied"), "approved_share"] == 0.5  # claim 2 approved, 3 denied
    assert moves.loc[("likely_approved", "uncertain"), "share_of_claims"] == pytest.approx(1 / 6)
    assert table["claims"].is_monotonic_decreasing


def test_no_band_changes_is_an_empty_table_with_its_columns(champion):
    table = bands.band_changes(champion, champion)
    assert table.empty and list(table.columns) == ["from_champion", "to_challenger", "claims", "share_of_claims",
                                                   "approved_share"]


def test_band_examples_show_both_probabilities_of_the_claims_that_moved(champion, challenger, claims):
    examples = bands.band_examples(champion, challenger, claims, per_move=1)
    assert len(examples) == 2  # one per move
    assert set(examples["claim_id"]) <= {"C1", "C2", "C3"}
    row = examples.set_index("claim_id").loc["C1"]
    assert (row["champion_probability"], row["challenger_probability"]) == (0.80, 0.60)


def test_models_scored_on_other_claims_are_refused(champion, challenger, claims):
    reordered = challenger.iloc[::-1].reset_index(drop=True)
    for call in (bands.band_movement, bands.band_changes):
        with pytest.raises(ReviewInputError, match="same claims"):
            call(champion, reordered)
    with pytest.raises(ReviewInputError, match="same claims"):
        bands.band_examples(champion, reordered, claims)


def test_costs_count_wrong_approvals_and_denials_with_the_stated_weights(champion, challenger, claims):
    table = bands.decision_costs({"challenger": challenger, "champion": champion}, claims,
                                 cost_of_wrong_approval=5.0, cost_of_wrong_denial=2.0)
    # champion: claim 1 likely_approved but denied; no approved claim answered denied except claim 4
    assert table.loc["champion", "wrong_approvals"] == 1 and table.loc["champion", "billed_wrongly_approved"] == 500
    assert table.loc["champion", "wrong_denials"] == 1 and table.loc["champion", "billed_wrongly_denied"] == 300
    # challenger: no wrong approval; claims 2 and 4 approved but answered likely_denied
    assert table.loc["challenger", "wrong_approvals"] == 0
    assert table.loc["challenger", "wrong_denials"] == 2 and table.loc["challenger", "billed_wrongly_denied"] == 1100
    assert table.loc["champion", "weighted_cost"] == 5.0 * 1 + 2.0 * 1
    assert table.loc["challenger", "weighted_cost"] == 2.0 * 2
    assert table.loc["challenger", "cost_per_1000_claims"] == pytest.approx(1000 * 4.0 / 6)
    assert table.loc["difference", "weighted_cost"] == 4.0 - 7.0  # first minus second
    assert "wrong approval 5.0" in table.attrs["weights"] and "wrong denial 2.0" in table.attrs["weights"]


def test_an_excluded_claim_the_payer_approved_is_a_wrong_denial(champion, claims):
    approved_exclusion = champion.assign(**{TARGET: [True] * 6})
    paid = claims.assign(**{TARGET: [True] * 6})
    table = bands.decision_costs({"one": approved_exclusion}, paid)
    assert table.loc["one", "wrong_denials"] == 2  # likely_denied (claim 4) and excluded (claim 5)
    assert "difference" not in table.index  # one model: nothing to subtract


def test_expected_payment_is_probability_times_what_the_plan_can_still_pay(challenger, claims):
    quoted = bands.expected_payment(challenger, claims)
    # claim 2: limit 600, 100 used -> 500 payable of 800 billed; claim 4: 1000 - 950 = 50 payable of 300
    np.testing.assert_allclose(quoted, [0.95 * 1000, 0.60 * 500, 0.20 * 500, 0.25 * 200, 0.05 * 50, 0.0])


def test_payment_error_is_the_quote_against_what_was_paid(champion, challenger, claims):
    table = bands.payment_error({"challenger": challenger, "champion": champion}, claims)
    paid = claims["paid_amount"].to_numpy()
    error = bands.expected_payment(challenger, claims) - paid
    assert table.loc["challenger", "mean_absolute_error"] == pytest.approx(np.abs(error).mean())
    assert table.loc["challenger", "mean_error"] == pytest.approx(error.mean())
    assert table.loc["challenger", "total_paid"] == pytest.approx(1550.0)
    assert table.loc["challenger", "total_expected"] == pytest.approx(bands.expected_payment(challenger, claims).sum())
    assert table.loc["difference", "mean_error"] == pytest.approx(
        table.loc["challenger", "mean_error"] - table.loc["champion", "mean_error"])
