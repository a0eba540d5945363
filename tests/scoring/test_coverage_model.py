"""The served model: rules before the classifier, batch equals single, shared diagnosis facts change
nothing, persistence. (What an answer says: test_advice.py; the training profile: test_profile.py.)"""
import dataclasses

import numpy as np
import pandas as pd

from scoring.coverage_model import CoverageModel


def test_score_frame_applies_rules_before_the_model(champion_model, test_claims):
    scored = champion_model.score_frame(test_claims)
    excluded = scored["excluded"].to_numpy()
    assert excluded.any() and (~excluded).any()
    excluded_probability = scored.loc[excluded, "approval_probability"]
    # the rules' smoothed paid shares: a rule with a dozen claims in this small history, one of them paid by
    # the payer's error, is smoothed to (1 + 20 x 1%) / (12 + 20), about 0.06
    within = (excluded_probability > 0) & (excluded_probability < 0.1)
    assert within.all(), scored.loc[excluded, ["approval_probability", "rule_ids"]][~within].value_counts()
    assert scored.loc[excluded, "model_probability"].isna().all()
    assert (scored.loc[excluded, "decision"] == "excluded").all()
    assert (scored.loc[excluded, "rule_ids"] != "").all() and (scored.loc[~excluded, "rule_ids"] == "").all()
    kept = scored.loc[~excluded, "approval_probability"]
    assert kept.between(0, 1).all()
    assert scored["top_denial_reason"].ne("").all()


def test_batch_answers_equal_single_answers(champion_model, test_claims):
    claims = test_claims.head(25).to_dict("records")
    together = champion_model.answer_claims(claims)
    for claim, answer in zip(claims, together):
        assert champion_model.answer_claims([claim])[0] == answer


class FactsRecomputingModel(CoverageModel):
    """The served model with the features working the diagnosis facts out again, as they did before
    the rules shared theirs: the reference that sharing must not change."""

    def encode(self, claims, facts=None, fired=None):
        return super().encode(claims)


def test_sharing_the_rules_diagnosis_facts_leaves_answers_and_scores_unchanged(champion_model, test_claims,
                                                                              make_claim):
    reference = FactsRecomputingModel(**{f.name: getattr(champion_model, f.name)
                                         for f in dataclasses.fields(champion_model)})
    # Header, cosmetic and missing codes: their what-if variants change the diagnosis codes.
    claims = test_claims.head(60).to_dict("records") + [
        make_claim(diagnosis_codes="G437"), make_claim(diagnosis_codes="Z411;G43709"),
        make_claim(diagnosis_codes="", procedure_code="64612"), make_claim(treatment="unlisted", procedure_code="17999"),
        make_claim(diagnosis_codes="G437", benefit_limit=1000.0, benefit_used=200.0, prior_authorization=False),
    ]
    assert champion_model.answer_claims(claims) == reference.answer_claims(claims)
    for claim in claims[-8:]:  # the service's single claim with its variants
        assert champion_model.answer_claims([claim]) == reference.answer_claims([claim])
    pd.testing.assert_frame_equal(champion_model.score_frame(test_claims), reference.score_frame(test_claims))


def test_answer_probability_matches_batch_scoring(champion_model, test_claims):
    claims = test_claims.head(40)
    scored = champion_model.score_frame(claims)
    answers = champion_model.answer_claims(claims.to_dict("records"))
    np.testing.assert_allclose([a["approval_probability"] for a in answers], scored["approval_probability"],
                               atol=1e-4)
    assert [a["decision"] for a in answers] == list(scored["decision"])


def test_save_and_load_round_trip(champion_model, test_claims, tmp_path):
    champion_model.save(tmp_path / "model")
    loaded = type(champion_model).load(tmp_path / "model")
    pd.testing.assert_frame_equal(loaded.score_frame(test_claims.head(200)),
                                  champion_model.score_frame(test_claims.head(200)))


def test_the_classifier_fits_alike_on_one_thread_and_on_every_core(better_split):
    """Training takes every core (OMP_NUM_THREADS pins the service, not the data team's job); the
    model must not depend on how many threads built it."""
    from training.model_fitting import ModelParams, fit_coverage_model

    train, validation = better_split.train.iloc[:6000], better_split.validation.iloc[:1500]
    claims = better_split.test.iloc[:500]
    one = fit_coverage_model(train, validation, ModelParams(max_iter=30, fit_threads=1), progress=False)
    every = fit_coverage_model(train, validation, ModelParams(max_iter=30, fit_threads=None), progress=False)
    assert one.classifier.n_iter_ == every.classifier.n_iter_
    np.testing.assert_allclose(one.model_probability(claims), every.model_probability(claims), atol=1e-6)
