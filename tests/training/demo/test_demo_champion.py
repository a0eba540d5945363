"""Behaviour of a champion trained on demo history (Made-With-ML style): it pays the covered
pathways whose paperwork is in order, charges for a missing prior authorization, excludes the
cosmetic versions, and moves the right way when one document or the network changes.

One model per module, fitted by the real fitting code on a small demo history with small budgets:
a single monotone model (no teachers) on one thread, so the module stays under a minute on a busy
two-core machine. Assertions are on decisions and directions, not on exact probabilities.
"""
from __future__ import annotations

import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from claims_io.loading import load_claims
from training.data.split import split_by_date
from training.demo.generator import generate_history
from scoring.params import ModelParams
from training.model_fitting import fit_coverage_model
from tests.training.demo.canonical_claims import COVERED_PATHWAYS, PATHWAYS_BY_NAME
from tests.training.demo.canonical_visits import VISITS

pytestmark = pytest.mark.slow

ROWS, SEED = 100_000, 20260302
FIT = ModelParams(teachers=0, max_iter=120, fit_threads=1)
CLEAR_DROP = 0.3
BEFORE_TIGHTENING = pd.Timestamp("2024-06-03")


@pytest.fixture(scope="module")
def champion(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo-champion") / "history.parquet"
    generate_history(ROWS, SEED, path, progress=False)
    split = split_by_date(load_claims(path).claims)
    with threadpool_limits(limits=1):  # BLAS threads fighting over two busy cores cost minutes
        return fit_coverage_model(split.train, split.validation, FIT, progress=False)


def answers(model, claims: list[dict]) -> list[dict]:
    return model.answer_claims(claims)


def probabilities(model, claims: list[dict]) -> list[float]:
    return [answer["approval_probability"] for answer in answers(model, claims)]


@pytest.mark.parametrize("pathway", COVERED_PATHWAYS, ids=lambda pathway: pathway.name)
def test_covered_pathway_with_paperwork_in_order_is_likely_approved(champion, pathway):
    assert answers(champion, [pathway.claim()])[0]["decision"] == "likely_approved"


@pytest.mark.parametrize("pathway", [p for p in COVERED_PATHWAYS if p.requires_prior_authorization],
                         ids=lambda pathway: pathway.name)
def test_covered_pathway_without_the_required_prior_authorization_is_clearly_less_likely(champion, pathway):
    with_authorization, without = probabilities(champion, [pathway.claim(), pathway.claim(prior_authorization=False)])
    assert without <= with_authorization - CLEAR_DROP


@pytest.mark.parametrize("pathway", [p for p in COVERED_PATHWAYS if p.cosmetic], ids=lambda pathway: pathway.name)
def test_cosmetic_version_of_a_covered_pathway_is_excluded(champion, pathway):
    assert answers(champion, [pathway.cosmetic_claim()])[0]["decision"] == "excluded"


@pytest.mark.parametrize("name, lacking, supplied", [
    # each pair differs in one input; the first lacks what the payer wants
    ("chronic_migraine_toxin", {"prior_authorization": False}, {}),
    ("chronic_migraine_toxin", {"plan_type": "hmo", "in_network": False}, {"plan_type": "hmo"}),
    ("actinic_keratosis_peel", {"conservative_therapy_documented": False, "prior_authorization": False,
                                "service_date": BEFORE_TIGHTENING},
     {"prior_authorization": False, "service_date": BEFORE_TIGHTENING}),
])
def test_supplying_what_the_payer_wants_raises_the_probability(champion, name, lacking, supplied):
    pathway = PATHWAYS_BY_NAME[name]
    before, after = probabilities(champion, [pathway.claim(**lacking), pathway.claim(**supplied)])
    assert after > before + 0.1


@pytest.mark.parametrize("document", ["referral", "medical_necessity_letter", "prior_authorization",
                                      "conservative_therapy_documented", "in_network"])
def test_losing_a_document_or_the_network_never_raises_the_probability(champion, document):
    """Where the history holds few claims without a document (HMO referrals, wig prescriptions are
    nearly always on file) the model need not learn how much it matters, but never the wrong way."""
    claims = [pathway.claim(**changes) for pathway in COVERED_PATHWAYS
              for changes in ({}, {document: False}, {"plan_type": "hmo"}, {"plan_type": "hmo", document: False})]
    found = probabilities(champion, claims)
    for complete, lacking in zip(found[::2], found[1::2]):
        assert lacking <= complete + 1e-9


def test_a_granted_authorization_makes_missing_clinical_documents_matter_little(champion):
    """The payer reviewed the documents when it granted the authorization (the published-rates
    world): without the letter and first-line therapy on the claim it is still likely approved."""
    migraine = PATHWAYS_BY_NAME["chronic_migraine_toxin"]
    bare = migraine.claim(medical_necessity_letter=False, conservative_therapy_documented=False)
    assert answers(champion, [bare])[0]["decision"] == "likely_approved"


def test_the_table_of_canonical_visits_is_large_and_covers_every_direction():
    assert len(VISITS) >= 40 and len({visit.name for visit in VISITS}) == len(VISITS)
    assert {visit.direction for visit in VISITS} == {"paid", "denied", "excluded"}
    assert all(visit.fact for visit in VISITS)


@pytest.mark.parametrize("visit", VISITS, ids=lambda visit: visit.name)
def test_the_champion_answers_every_canonical_visit(champion, visit):
    """Direction and band from coverage-facts.md (canonical_visits.py), whatever the demo payer's numbers."""
    answer = answers(champion, [visit.claim()])[0]
    low, high = visit.band
    assert low <= answer["approval_probability"] <= high, (answer["approval_probability"], answer["model_probability"])
    assert answer["decision"] in visit.decisions
