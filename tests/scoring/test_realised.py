"""Realised accuracy of served answers against adjudicated outcomes, and the degradation alarm."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from scoring.realised import (ALARM_MIN_CLAIMS, JOINED_COLUMNS, degradation, realised_figures, service_week,
                               slice_table, weekly_figures)


def joined(rows: list[tuple]) -> pd.DataFrame:
    """(decision, probability, reasons answered, outcome, paid, CARC, plan, service date) per claim."""
    return pd.DataFrame([{"claim_id": f"C{n}", "service_date": date, "plan_type": plan, "treatment": "botulinum_toxin",
                          "model_version": "3", "decision": decision, "approval_probability": probability,
                          "likely_denial_reasons": reasons, "expected_payment": 100 * probability, "outcome": outcome,
                          "paid_amount": paid, "denial_reason": carc}
                         for n, (decision, probability, reasons, outcome, paid, carc, plan, date) in enumerate(rows)],
                        columns=list(JOINED_COLUMNS))


ROWS = [
    ("likely_approved", 0.9, [], "approved", 100.0, "", "ppo", "2026-03-02"),
    ("likely_approved", 0.8, ["50"], "denied", 0.0, "50", "ppo", "2026-03-03"),  # approved but denied; top-1 hit
    ("likely_denied", 0.1, ["197", "50"], "denied", 0.0, "50", "hmo", "2026-03-09"),  # top-3 hit only
    ("likely_denied", 0.2, ["197"], "partial", 40.0, "119", "hmo", "2026-03-10"),  # denied but paid (partial)
    ("excluded", 0.02, ["96"], "denied", 0.0, "96", "hmo", "2026-03-10"),  # top-1 hit
    ("uncertain", 0.5, ["16"], "denied", 0.0, "", "ppo", "2026-03-11"),  # no CARC: not in the reason figures
]


def test_the_figures_are_the_metrics_of_the_answers_against_the_outcomes():
    frame = joined(ROWS)
    figures = realised_figures(frame)
    y = np.array([1, 0, 0, 1, 0, 0], dtype=bool)
    p = frame["approval_probability"].to_numpy()
    assert figures["claims"] == 6 and figures["approval_rate"] == pytest.approx(2 / 6)
    assert figures["auc"] == pytest.approx(roc_auc_score(y, p))
    assert figures["brier"] == pytest.approx(brier_score_loss(y, p))
    assert figures["log_loss"] == pytest.approx(log_loss(y, p))
    assert (figures["likely_approved_but_denied"], figures["likely_approved_but_denied_share"]) == (1, 0.5)
    assert (figures["likely_denied_but_paid"], figures["likely_denied_but_paid_share"]) == (1, 0.5)
    assert figures["decision__excluded__denied"] == 1 and figures["decision__uncertain__denied"] == 1
    assert figures["denial_rows"] == 3
    assert figures["denial_top1_accuracy"] == pytest.approx(2 / 3)
    assert figures["denial_top3_accuracy"] == pytest.approx(1.0)
    assert figures["expected_paid"] == pytest.approx(100 * p.sum())
    assert figures["actual_paid"] == 140.0 and figures["expected_to_actual_paid"] == pytest.approx(100 * p.sum() / 140)


def test_weeks_are_iso_weeks_of_service_and_slices_are_per_plan_and_treatment():
    frame = joined(ROWS)
    assert list(service_week(["2026-03-01", "2026-03-02", "2027-01-01"])) == ["2026-W09", "2026-W10", "2026-W53"]
    weeks = weekly_figures(frame)
    assert list(weeks) == ["2026-W10", "2026-W11"] and weeks["2026-W10"]["claims"] == 2
    table = slice_table(frame).set_index(["column", "value"])
    assert table.loc[("plan_type", "hmo"), "claims"] == 3 and table.loc[("treatment", "botulinum_toxin"), "claims"] == 6


@pytest.mark.parametrize("realised, state", [
    ({"claims": ALARM_MIN_CLAIMS, "brier": 0.20, "ece": 0.03}, "ok"),
    ({"claims": ALARM_MIN_CLAIMS, "brier": 0.24, "ece": 0.03}, "alarm"),  # Brier rose 0.04
    ({"claims": ALARM_MIN_CLAIMS, "brier": 0.18, "ece": 0.09}, "alarm"),  # ECE rose 0.07
    ({"claims": ALARM_MIN_CLAIMS - 1, "brier": 0.40, "ece": 0.30}, "not called"),  # too few claims to tell
])
def test_the_alarm_compares_realised_brier_and_ece_with_the_promoted_figures(realised, state):
    verdict = degradation(realised, {"brier": 0.20, "ece": 0.02})
    assert verdict.tag == state
    assert verdict.alarm == (state == "alarm")


def test_without_promoted_figures_the_alarm_is_not_called():
    verdict = degradation({"claims": 10_000, "brier": 0.5, "ece": 0.5}, {})
    assert verdict.tag == "not called" and "no promoted test figures" in verdict.reason
