"""The single-claim path (a claim, its what-if variants and their spa twins scored in one pass,
small columns factorised by a dict) gives the batch path's numbers exactly, and `explain=False`
changes nothing but the factors."""
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.contract import CLEAN_COLUMNS
from features.pipeline import claims_to_columns
from features.rules import load_rules
from tests.claim_strategies import claims

# a few hundred generated claims, in groups of up to 8 (a batch of one is the service's claim)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
BATCH_COLUMNS = ("approval_probability", "model_probability", "decision", "excluded")


def _batch_scores(model, claims_list: list[dict]) -> pd.DataFrame:
    return model.score_frame(pd.DataFrame.from_records(claims_list, columns=list(CLEAN_COLUMNS)))


@SETTINGS
@given(group=st.lists(claims(), min_size=1, max_size=8))
def test_the_single_claim_path_gives_the_batch_paths_numbers(champion_model, group):
    scored = _batch_scores(champion_model, group)
    rows = champion_model.score_rows(claims_to_columns(group))
    # the same floats, not close ones: both paths must be one computation
    np.testing.assert_array_equal(rows.system_probability, scored["approval_probability"].to_numpy())
    kept = ~scored["excluded"].to_numpy()
    np.testing.assert_array_equal(rows.model_probability[kept], scored["model_probability"].to_numpy()[kept])
    np.testing.assert_array_equal(rows.judged.excluded, scored["excluded"].to_numpy())
    for claim, expected in zip(group, scored.to_dict("records")):
        answer = champion_model.answer_claims([claim])[0]
        assert answer["approval_probability"] == round(expected["approval_probability"], 4)
        assert answer["decision"] == expected["decision"]
        if not expected["excluded"]:
            assert answer["model_probability"] == round(expected["model_probability"], 4)


@SETTINGS
@given(claim=claims())
def test_the_spa_twin_scored_in_the_claims_pass_is_the_system_probability(champion_model, claim):
    """score_rows folds the twins into the claims' own pass; system_probability scores them apart."""
    columns = claims_to_columns([claim])
    judged = champion_model.judge(columns)
    apart = champion_model.system_probability(
        judged, champion_model.probability_from_features(champion_model.encode(columns, judged.facts, judged.fired)),
        columns)
    assert champion_model.score_rows(columns).system_probability.tolist() == apart.tolist()


def test_without_explain_the_answer_is_the_same_but_the_factors(champion_model, test_claims, make_claim):
    claims_list = test_claims.head(60).to_dict("records") + [make_claim(), make_claim(diagnosis_codes="G437")]
    explained = champion_model.answer_claims(claims_list)
    plain = champion_model.answer_claims(claims_list, explain=False)
    scored = 0
    for full, short in zip(explained, plain):
        assert "factors" in full and "factors" not in short and "reasons" not in short
        # the same fields in the same order, but the factors and the reasons built from them
        assert list(short) == [key for key in full if key not in ("factors", "reasons")]
        assert short["summary"].split(":")[0] == full["summary"].split(":")[0]  # the same decision, in words
        left_out = ("explanation", "factors", "reasons", "summary")
        assert {key: value for key, value in short.items() if key not in left_out} == \
            {key: value for key, value in full.items() if key not in left_out}
        if full["explanation"]["method"] == "tree_shap":
            scored += 1
            # the score from the trees, not from the factors' sum: equal but for the last float digits
            assert math.isclose(short["explanation"]["log_odds"], full["explanation"]["log_odds"], abs_tol=1e-4)
            assert {**short["explanation"], "log_odds": None} == {**full["explanation"], "log_odds": None}
        else:
            assert short["explanation"] == full["explanation"]
    assert scored  # both kinds were compared


@pytest.mark.parametrize("explain", [True, False])
def test_a_batch_and_its_claims_alone_agree_with_and_without_explain(champion_model, test_claims, explain):
    claims_list = test_claims.head(12).to_dict("records")
    together = champion_model.answer_claims(claims_list, explain=explain)
    assert [champion_model.answer_claims([claim], explain=explain)[0] for claim in claims_list] == together


@SETTINGS
@given(group=st.lists(claims(), min_size=1, max_size=8), leading=st.integers(min_value=1, max_value=8))
def test_claims_judged_beforehand_score_as_claims_judged_in_the_pass(champion_model, group, leading):
    """score_rows with the first claims' judgement given (scoring.advice judges the claims before
    their what-ifs) judges only the rest and makes no twin of an excluded claim: the same numbers."""
    columns = claims_to_columns(group)
    judged_first = champion_model.judge(claims_to_columns(group[:leading]))
    given_rows, in_pass = champion_model.score_rows(columns, judged_first), champion_model.score_rows(columns)
    assert given_rows.system_probability.tolist() == in_pass.system_probability.tolist()
    assert given_rows.model_probability.tolist() == in_pass.model_probability.tolist()
    np.testing.assert_array_equal(given_rows.features, in_pass.features)
    np.testing.assert_array_equal(given_rows.judged.hard, in_pass.judged.hard)
    np.testing.assert_array_equal(given_rows.judged.fired, in_pass.judged.fired)


def test_a_claim_without_what_ifs_is_answered_as_with_them(champion_model, test_claims, monkeypatch):
    """A claim a rule no step fixes excludes gets no what-ifs (scoring.advice._what_ifs_read): its
    answer is the one it gets when every claim's what-ifs are made and scored."""
    from scoring import advice

    claims_list = test_claims.head(120).to_dict("records")
    columns = claims_to_columns(claims_list)
    unfixable, movable = advice._rule_masks(load_rules())
    hard = champion_model.judge(columns).hard
    without = [index for index in range(len(claims_list)) if not advice._what_ifs_read(hard[index], unfixable, movable)]
    assert without and len(without) < len(claims_list)  # both kinds of claim are compared
    fast = {explain: champion_model.answer_claims(claims_list, explain=explain) for explain in (True, False)}
    monkeypatch.setattr(advice, "_what_ifs_read", lambda *_: True)
    for explain, answers in fast.items():
        assert answers == champion_model.answer_claims(claims_list, explain=explain)
