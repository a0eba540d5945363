"""The model-review functions notebook 1 shows, on the session's real models and store
(tests/stores.py): version 1 `base` (first champion), 2 `worse` (kept out by the gate), 3 `better`
(promoted)."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from features.contract import CLEAN_COLUMNS, MONOTONIC_FLAGS, TARGET
from features.rules import load_rules
from features.claim_facts import frame_to_columns
from tests.stores import version
from scoring.mlflow_store import REGISTERED_MODEL
from training.plots import feature_effects
from training.review import model_review as review
from training.review.versions import ReviewInputError, load_version

pytestmark = pytest.mark.slow  # the session's trained store


@pytest.fixture(scope="module")
def scores(champion_model, test_claims):
    return review.review_scores(champion_model, test_claims)


# -- claims -----------------------------------------------------------------------
def test_the_runs_own_test_split_is_rebuilt_from_its_data_file(client, trained_store, better_split):
    run = trained_store.runs["better"]
    claims = review.review_claims(client, run.run_id, data_dir=trained_store.files["better"].parent)
    assert len(claims.claims) == run.split["test"]["rows"]
    assert claims.claims["claim_id"].tolist() == better_split.test["claim_id"].tolist()
    assert "the newest 20% of better.csv" in claims.source


def test_without_the_runs_data_file_a_test_file_is_required(client, trained_store, tmp_path):
    run_id = trained_store.runs["better"].run_id
    with pytest.raises(ReviewInputError, match="set data_dir .* or test_file"):
        review.review_claims(client, run_id, data_dir=tmp_path)
    shutil.copy(trained_store.files["worse"], tmp_path / "better.csv")  # right name, other bytes
    with pytest.raises(ReviewInputError, match="sha256"):
        review.review_claims(client, run_id, data_dir=tmp_path)
    given = review.review_claims(client, run_id, test_file=trained_store.files["base"])
    assert given.rows_quarantined > 0 and given.source.startswith("every valid claim of base.csv")
    own = review.review_claims(client, run_id, test_file=trained_store.files["better"])
    assert "the challenger trained on most of them" in own.source and "trained on" not in given.source


# -- metrics -----------------------------------------------------------------------------------
def test_compare_versions_shows_logged_metrics_and_the_gates_verdict(client, trained_store):
    worse, better = version(trained_store, "worse"), version(trained_store, "better")
    table = review.compare_versions(client, REGISTERED_MODEL, worse, better)
    logged = trained_store.runs["worse"].metrics
    assert table.loc["test_auc", f"challenger v{worse}"] == pytest.approx(logged["test_auc"])
    champion_ece = trained_store.runs["better"].metrics["test_ece"]
    assert table.loc["test_ece", f"champion v{better}"] == pytest.approx(champion_ece)
    assert table.attrs["gate"]["decision"] == "kept_champion"
    # the gate judged `worse` against the champion of its day (base), not today's: no gate column
    assert f"champion v{better} on the challenger's test claims" not in table.columns
    base = version(trained_store, "base")
    against_base = review.compare_versions(client, REGISTERED_MODEL, worse, base)
    tags = client.get_model_version(REGISTERED_MODEL, worse).tags
    assert against_base.loc["test_auc", f"champion v{base} on the challenger's test claims"] == \
        pytest.approx(float(tags["gate_champion_test_auc"]))


def test_metrics_on_the_same_claims_match_the_runs_evaluation(scores, trained_store):
    table = review.metrics_on_claims({"a": scores, "b": scores})
    assert table.loc["a", "auc"] == pytest.approx(trained_store.runs["better"].metrics["test_auc"])
    assert (table.loc["difference"] == 0).all()


# -- feature effects ---------------------------------------------------------------------------
def test_monotonic_check_finds_no_decrease_on_the_real_model(champion_model, test_claims):
    table = review.monotonic_check(champion_model, test_claims).set_index("input")
    assert list(table.index) == list(MONOTONIC_FLAGS)
    assert (table["claims_flipped"] > 0).all()
    assert (table["decreases"] == 0).all() and (table["largest_decrease"] == 0).all()
    assert table.loc["prior_authorization", "share_raised"] > 0


def test_partial_dependence_has_a_column_per_model_equal_to_the_plotted_effects(champion_model, test_claims):
    table = review.partial_dependence_table({"one": champion_model, "two": champion_model}, test_claims, 300)
    plotted = feature_effects(champion_model, test_claims, 300)
    np.testing.assert_allclose(table["one"], plotted["mean_probability"])
    np.testing.assert_allclose(table["two"], plotted["mean_probability"])
    assert {"prior_authorization", "referral", "facility_type", "visit_number", "benefit remaining (USD)"} \
        <= set(table["panel"])


def test_shuffling_the_treatment_or_diagnosis_costs_the_most_auc(champion_model, test_claims):
    table = review.permutation_importance_table(champion_model, test_claims, sample_rows=600, repeats=2)
    assert set(table["input"]) == set(review.PERMUTATION_GROUPS)
    assert table["input"].iloc[0] in ("treatment + procedure_code", "diagnosis_codes")
    assert table["auc_drop"].iloc[0] > 0.05


# -- rules, misses, advice ---------------------------------------------------------------------
def test_rule_firing_counts_match_the_fired_rules(champion_model, test_claims):
    table = review.rule_firing_table(champion_model, test_claims).set_index("rule_id")
    fired = champion_model.fired_rules(frame_to_columns(test_claims))
    paid = test_claims[TARGET].to_numpy(dtype=bool)
    for column, rule in enumerate(load_rules().rules):
        assert table.loc[rule.rule_id, "fires"] == fired[:, column].sum()
        assert table.loc[rule.rule_id, "paid"] == (fired[:, column] & paid).sum()
    assert table.loc["any rule", "fires"] == champion_model.excluded(test_claims).sum()
    assert table.loc["any rule", "only_rule"] == table["only_rule"].drop("any rule").sum()


def test_excluded_but_paid_lists_exactly_the_paid_claims_a_rule_excluded(champion_model, test_claims):
    listed = review.excluded_but_paid(champion_model, test_claims)
    expected = test_claims[champion_model.excluded(test_claims) & test_claims[TARGET].to_numpy(dtype=bool)]
    assert listed["claim_id"].tolist() == expected["claim_id"].tolist()
    assert (listed["rule_ids"] != "").all()


def test_confident_misses_are_on_the_wrong_side_most_wrong_first(scores, test_claims):
    misses = review.confident_misses(scores, test_claims, count=15)
    assert 0 < len(misses) <= 15
    assert not [name for name in misses.columns if name.endswith(" probability")]  # nothing beside: no other model
    error = np.abs(misses["outcome"].isin(["approved", "partial"]).astype(float) - misses["approval_probability"])
    assert (error > 0.5).all() and (np.diff(error.to_numpy()) <= 1e-12).all()
    assert (misses["decision"] != "excluded").all()  # rule verdicts are the rule table's to answer for
    assert {"treatment", "diagnosis_codes", "prior_authorization", "denial_reason"} <= set(misses.columns)


def test_advice_summary_counts_every_recommendation_of_the_answers(champion_model, test_claims):
    table = review.advice_summary(champion_model, test_claims, sample_rows=150, seed=3).set_index("action")
    sample = test_claims.sample(150, random_state=3)
    answers = champion_model.answer_claims(sample[list(CLEAN_COLUMNS)].to_dict("records"))
    given = pd.Series([advice["action"] for answer in answers for advice in answer["recommendations"]])
    assert table["claims"].drop("(no advice)").to_dict() == given.value_counts().to_dict()
    assert table.loc["(no advice)", "claims"] == sum(not answer["recommendations"] for answer in answers)
    gains = table["mean_gain"].drop(["(no advice)", "document_covered_diagnosis"], errors="ignore")
    assert (gains >= 0.01).all()  # advice under a point is never given (scoring.advice.MIN_GAIN)


def test_the_rule_evidence_table_shows_every_rule_that_fired_with_its_decision(champion_model):
    table = review.rule_evidence_table(champion_model)
    rule_rows = table[table["treatment"] == "*"]
    assert set(rule_rows["rule_id"]) <= {rule.rule_id for rule in load_rules().rules}
    assert (rule_rows["fired"] > 0).all() and set(table["decision"]) <= {"hard", "learned"}
    assert ((table["ci_low"] <= table["paid_share"]) & (table["paid_share"] <= table["ci_high"])).all()
    pairings = review.learned_pairings(champion_model)
    assert (pairings["decision"] == "learned").all() and (pairings["category"] != "*").all()


def test_confident_misses_show_the_other_models_probability_of_the_same_claims(scores, test_claims):
    other = scores.assign(approval_probability=1.0 - scores["approval_probability"])
    misses = review.confident_misses(scores, test_claims, count=10, beside={"champion v1": other})
    by_claim = other.set_index("claim_id")["approval_probability"]
    assert misses["champion v1 probability"].tolist() == pytest.approx(by_claim[misses["claim_id"]].tolist())
    assert misses["champion v1 probability"].tolist() == pytest.approx((1 - misses["approval_probability"]).tolist())


def test_rule_evidence_side_by_side_puts_each_models_decision_in_one_row(client, trained_store, champion_model):
    base = load_version(client, REGISTERED_MODEL, version(trained_store, "base"))
    table = review.rule_evidence_side_by_side({"challenger": champion_model, "champion": base})
    own = review.rule_evidence_table(champion_model).set_index(["rule_id", "treatment", "category"])
    rows = table.set_index(["rule_id", "treatment", "category"])
    assert set(own.index) <= set(rows.index)
    assert rows.loc[own.index, "challenger decision"].tolist() == own["decision"].tolist()
    assert rows.loc[own.index, "challenger fired"].tolist() == own["fired"].tolist()
    differs = rows["challenger decision"].fillna("-") != rows["champion decision"].fillna("-")
    assert (rows["differs"] == differs).all()
    assert not table["differs"].iloc[differs.sum():].any()  # the rows where they differ come first
    alike = review.rule_evidence_side_by_side({"a": champion_model, "b": champion_model})
    assert not alike["differs"].any()


def test_a_run_trained_on_several_files_asks_for_the_test_file(tmp_path):
    from types import SimpleNamespace

    tags = {"data_file": "history.csv+served.csv", "data_sha256": "0" * 64, "data_input_1_file": "history.csv",
            "data_input_2_file": "served.csv"}
    run = SimpleNamespace(info=SimpleNamespace(run_id="r1"), data=SimpleNamespace(tags=tags, params={}))
    with pytest.raises(ReviewInputError, match="several files .*set test_file"):
        review.run_data_file(run, tmp_path)
