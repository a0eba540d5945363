"""Properties of the served model over generated claims (a real model trained on demo history)."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.contract import MONOTONIC_INPUTS
from tests.claim_strategies import claims

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def model(champion_model):
    return champion_model


@SETTINGS
@given(claim=claims(), field=st.sampled_from(MONOTONIC_INPUTS))
def test_adding_paperwork_or_network_never_lowers_the_probability(model, claim, field):
    without, with_it = {**claim, field: False}, {**claim, field: True}
    low, high = model.answer_claims([without, with_it])
    assert high["approval_probability"] >= low["approval_probability"] - 1e-9
    assert high["model_probability"] >= low["model_probability"] - 1e-9


@SETTINGS
@given(batch=st.lists(claims(), min_size=1, max_size=6))
def test_probabilities_are_probabilities_and_a_batch_answers_as_one_by_one(model, batch):
    together = model.answer_claims(batch)
    for claim, answer in zip(batch, together):
        assert 0.0 <= answer["approval_probability"] <= 1.0
        assert answer == model.answer_claims([claim])[0]
        if answer["excluded_by"]:
            assert answer["decision"] == "excluded"
            assert answer["approval_probability"] == round(excluded_probability(model, claim, answer), 4)
        for advice in answer["recommendations"]:
            if advice["gain"] is not None:
                assert advice["gain"] >= 0.01 and 0.0 <= advice["probability_after"] <= 1.0


def excluded_probability(model, claim: dict, answer: dict) -> float:
    """The smallest smoothed paid share among the hard rules that excluded the claim."""
    category = claim["diagnosis_codes"].split(";")[0][:3] if claim["diagnosis_codes"] else ""
    return min(model.evidence().lookup(rule["id"], claim["treatment"], category)[1] for rule in answer["excluded_by"])
