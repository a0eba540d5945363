"""The demo claims-history generator: contract-faithful, deterministic, and honest about its truth."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from features.catalog import load_catalog
from features.claim_facts import diagnosis_facts
from features.contract import (
    BENEFIT_SCOPES,
    FACILITY_TYPES,
    OUTCOME_FIELDS,
    OUTCOMES,
    PLAN_TYPES,
    VISIT_FIELDS,
)
from features.diagnosis import load_table, normalise_code, split_joined_codes
from features.rules import load_rules
from service.cli import main
from training.demo.payer import LEAK, true_approval_probability
from training.demo.population import PATHWAYS, vocabulary
from training.demo.generator import BAD_VALUES, TRUTH_COLUMN, default_truth_path, generate_history
from training.data.loading import load_claims

ROWS = 20_000
# The CARCs of coverage-facts.md ("Denial reasons (X12 CARC) that matter here").
FACTS_CARCS = {"11", "16", "35", "149", "50", "58", "5", "96", "119", "146", "151", "167", "170", "171", "197",
               "202", "204", "242", "243", "252", "270"}
BOOLEAN_FIELDS = ("in_network", "referral", "medical_necessity_letter", "prior_authorization",
                  "conservative_therapy_documented")


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """One 20k-row CSV history: the raw text, its truth file and the loader's clean frame."""
    out = tmp_path_factory.mktemp("history") / "history.csv"
    summary = generate_history(ROWS, 11, out, progress=False)
    raw = pd.read_csv(out, dtype=str, keep_default_na=False)
    truth = pd.read_csv(summary.truth_path, dtype={"claim_id": str})
    clean = load_claims(out).claims
    return summary, raw, truth, clean


@pytest.fixture(scope="module")
def rule_hits(history):
    _, _, _, clean = history
    facts = diagnosis_facts(clean["treatment"].astype(str).to_numpy(), clean["diagnosis_codes"].astype(str).to_numpy())
    fired = load_rules().fire(clean["treatment"].astype(str).to_numpy(), facts,
                              clean["benefit_limit"].to_numpy(), clean["benefit_used"].to_numpy())
    first_carc = np.array([rule.carc for rule in load_rules().rules])[fired.argmax(axis=1)]
    return fired.any(axis=1), first_carc, facts


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_same_seed_writes_identical_bytes_and_another_seed_differs(tmp_path, suffix):
    paths = [tmp_path / f"{name}{suffix}" for name in ("a", "b", "c")]
    for path, seed in zip(paths, (5, 5, 6)):
        generate_history(3_000, seed, path, progress=False)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert default_truth_path(paths[0]).read_bytes() == default_truth_path(paths[1]).read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_columns_are_the_contract_fields_in_order(history):
    _, raw, _, _ = history
    assert tuple(raw.columns) == tuple(VISIT_FIELDS) + OUTCOME_FIELDS


@pytest.mark.parametrize("field, allowed", [
    ("plan_type", set(PLAN_TYPES)),
    ("benefit_scope", set(BENEFIT_SCOPES)),
    ("facility_type", set(FACILITY_TYPES)),
    ("outcome", set(OUTCOMES)),
    ("treatment", set(load_catalog().keys) | {""}),
    ("procedure_code", set(load_catalog().treatments_by_code) | {""}),
    ("place_of_service", {"", "11", "49", "19", "22", "24"}),
    *[(name, {"true", "false"}) for name in BOOLEAN_FIELDS],
])
def test_values_are_within_the_contract_vocabularies(history, field, allowed):
    _, raw, _, _ = history
    assert set(raw[field]) <= allowed


def test_numbers_ids_and_dates_follow_the_contract(history):
    _, raw, _, clean = history
    assert raw["claim_id"].is_unique and (raw["claim_id"] != "").all()
    numbers = raw[["visit_number", "patient_age", "billed_amount", "benefit_used", "paid_amount"]].astype(float)
    assert (numbers["visit_number"] >= 1).all() and numbers["patient_age"].between(0, 120).all()
    assert (numbers[["billed_amount", "benefit_used", "paid_amount"]] >= 0).all().all()
    dates = pd.to_datetime(raw["service_date"], format="%Y-%m-%d")
    assert dates.is_monotonic_increasing
    assert (dates.max() - dates.min()).days > 3 * 365 - 10
    assert ((raw["treatment"] != "") | (raw["procedure_code"] != "")).all()
    assert len(clean) == ROWS  # the project's loader quarantines nothing


def test_treatment_and_code_are_mostly_both_present_and_sometimes_one(history):
    _, raw, _, _ = history
    both = ((raw["treatment"] != "") & (raw["procedure_code"] != "")).mean()
    only_code = (raw["treatment"] == "").mean()
    assert both > 0.7 and 0.02 < only_code < 0.15
    spa = raw["treatment"].isin(["facial", "manicure"])
    assert (raw.loc[spa, "procedure_code"] == "").all()  # spa services have no code


def test_weeks_since_last_treatment_is_blank_exactly_on_first_visits(history):
    _, raw, _, _ = history
    assert ((raw["weeks_since_last_treatment"] == "") == (raw["visit_number"] == "1")).all()


def test_every_diagnosis_code_is_in_icd10cm_and_most_are_written_with_dots(history):
    _, raw, _, _ = history
    table = load_table()
    codes = [code for joined in raw["diagnosis_codes"] for code in split_joined_codes(joined)]
    assert all(normalise_code(code) in table.codes for code in codes)
    headers = sum(not table.is_billable(normalise_code(code)) for code in codes)
    assert 0 < headers < 0.03 * len(codes)  # a few deliberate header codes (CARC 146)
    dotted = [code for code in codes if len(code) > 3]
    assert 0.8 < np.mean(["." in code for code in dotted]) < 0.97


def test_every_pathway_code_is_a_catalog_code_and_a_valid_diagnosis():
    vocab = vocabulary()  # raises PathwayError otherwise
    table = load_table()
    assert all(code in table.codes for joined in vocab.diagnoses_dotless for code in split_joined_codes(joined))
    assert {pathway.treatment for pathway in PATHWAYS} == set(load_catalog().keys) - {"unlisted"}


def test_denial_reason_is_a_facts_carc_exactly_when_denied_or_partial(history):
    _, raw, _, _ = history
    not_approved = raw["outcome"] != "approved"
    assert ((raw["denial_reason"] != "") == not_approved).all()
    assert set(raw.loc[not_approved, "denial_reason"]) <= FACTS_CARCS


def test_paid_amount_is_consistent_with_the_outcome(history):
    _, raw, _, _ = history
    paid, billed = raw["paid_amount"].astype(float), raw["billed_amount"].astype(float)
    assert (paid[raw["outcome"] == "denied"] == 0).all()
    for outcome in ("approved", "partial"):
        rows = raw["outcome"] == outcome
        assert ((paid[rows] > 0) & (paid[rows] < billed[rows])).all()
    capped = (raw["outcome"] == "partial") & (raw["denial_reason"] == "119")
    remaining = raw.loc[capped, "benefit_limit"].astype(float) - raw.loc[capped, "benefit_used"].astype(float)
    assert capped.any() and (remaining < billed[capped]).all() and (paid[capped] <= remaining + 0.01).all()


def test_overall_approval_rate_is_plausible(history):
    summary, raw, _, _ = history
    approval = raw["outcome"].isin(["approved", "partial"]).mean()
    assert 0.15 < approval < 0.60
    assert summary.approval_rate == pytest.approx(approval)
    assert 0 < (raw["outcome"] == "partial").mean() < 0.05


def test_rule_excluded_claims_have_near_zero_truth_and_are_denied_with_the_rule_carc(history, rule_hits):
    _, raw, truth, _ = history
    excluded, first_carc, _ = rule_hits
    assert excluded.mean() > 0.4
    assert (truth[TRUTH_COLUMN].to_numpy()[excluded] <= LEAK + 1e-9).all()
    denied = raw["outcome"].to_numpy()[excluded] == "denied"
    assert denied.mean() > 0.97
    assert (raw["denial_reason"].to_numpy()[excluded][denied] == first_carc[excluded][denied]).mean() > 0.97
    cosmetic = excluded & np.isin(first_carc, ["96", "202", "270"])
    assert (raw["outcome"].to_numpy()[cosmetic] == "denied").mean() > 0.97


def test_covered_claims_with_full_paperwork_are_mostly_approved(history, rule_hits):
    _, raw, _, clean = history
    excluded, _, facts = rule_hits
    ready = (facts["covered_diagnosis"] & ~excluded & clean["prior_authorization"] & clean["in_network"]
             & clean["referral"] & clean["medical_necessity_letter"] & clean["conservative_therapy_documented"]
             & (clean["facility_type"] != "medical_spa")).to_numpy()
    assert ready.sum() > 300
    assert raw["outcome"][ready].isin(["approved", "partial"]).mean() > 0.75


def test_truth_file_is_aligned_with_the_history_and_within_zero_one(history):
    summary, raw, truth, _ = history
    assert summary.truth_path.name == "history.truth.csv"
    assert list(truth.columns) == ["claim_id", TRUTH_COLUMN]
    assert (truth["claim_id"] == raw["claim_id"]).all()
    assert truth[TRUTH_COLUMN].between(0, 1).all()


def test_truth_is_the_payer_probability_of_the_written_columns(history):
    """The truth depends on nothing the file hides, so it is the Bayes-optimal probability."""
    _, _, truth, clean = history
    recomputed = true_approval_probability(clean)
    np.testing.assert_allclose(recomputed, truth[TRUTH_COLUMN], atol=1e-6)


def test_observed_approval_matches_the_truth_in_every_decile(history):
    _, raw, truth, _ = history
    order = np.argsort(truth[TRUTH_COLUMN].to_numpy(), kind="stable")
    approved = raw["outcome"].isin(["approved", "partial"]).to_numpy()
    for decile in np.array_split(order, 10):
        expected = truth[TRUTH_COLUMN].to_numpy()[decile].mean()
        tolerance = 3 * np.sqrt(max(expected * (1 - expected), 0.002) / len(decile)) + 0.005
        assert abs(approved[decile].mean() - expected) < tolerance


def _claim(**changes) -> pd.DataFrame:
    """One clean claim: chronic migraine botox, in network, every document on file."""
    claim = {
        "claim_id": "c1", "service_date": pd.Timestamp("2024-03-01"), "treatment": "botulinum_toxin",
        "procedure_code": "64615", "diagnosis_codes": "G43709", "plan_type": "ppo", "benefit_scope": "comprehensive",
        "facility_type": "physician_office", "place_of_service": "11", "in_network": True, "referral": True,
        "medical_necessity_letter": True, "prior_authorization": True, "conservative_therapy_documented": True,
        "visit_number": 1, "weeks_since_last_treatment": np.nan, "patient_age": 45, "billed_amount": 1400.0,
        "benefit_limit": np.nan, "benefit_used": 0.0,
    }
    claim.update(changes)
    return pd.DataFrame([claim])


@pytest.mark.parametrize("changes, low, high", [
    ({}, 0.9, 1.0),
    ({"prior_authorization": False, "plan_type": "hmo"}, 0.0, 0.15),  # CARC 197
    ({"referral": False, "plan_type": "hmo"}, 0.1, 0.3),  # CARC 243
    ({"in_network": False, "plan_type": "epo"}, 0.05, 0.15),  # CARC 242
    ({"in_network": False, "plan_type": "ppo"}, 0.8, 0.9),
    ({"visit_number": 3, "weeks_since_last_treatment": 8.0}, 0.05, 0.15),  # CARC 151
    ({"conservative_therapy_documented": False}, 0.25, 0.35),  # CARC 50
    ({"patient_age": 16}, 0.1, 0.2),  # adults only for migraine
    ({"diagnosis_codes": "G437"}, 0.0, LEAK),  # header code, CARC 146
    ({"diagnosis_codes": "Z411;G43709"}, 0.0, LEAK),  # cosmetic encounter, CARC 96
    ({"diagnosis_codes": ""}, 0.0, LEAK),  # cosmetic without a covered diagnosis, CARC 96
    ({"facility_type": "medical_spa", "benefit_scope": "office_only"}, 0.1, 0.2),  # CARC 170
    ({"treatment": "facial", "procedure_code": None, "diagnosis_codes": ""}, 0.0, LEAK),  # CARC 202
    ({"treatment": "teeth_whitening", "procedure_code": "D9972", "diagnosis_codes": ""}, 0.0, LEAK),  # CARC 270
    ({"benefit_limit": 1000.0, "benefit_used": 1000.0}, 0.0, LEAK),  # CARC 119
    ({"treatment": "weight_management", "procedure_code": "G0447", "diagnosis_codes": "E669"}, 0.0, 0.1),  # 167
    ({"treatment": "weight_management", "procedure_code": "G0447", "diagnosis_codes": "Z6835;E669",
      "facility_type": "primary_care_clinic"}, 0.85, 1.0),
    ({"treatment": "weight_management", "procedure_code": "G0447", "diagnosis_codes": "Z6835;E669",
      "plan_type": "medicare"}, 0.0, 0.1),  # outside primary care, CARC 58
])
def test_the_payer_answers_each_cause_as_the_facts_say(changes, low, high):
    assert low <= true_approval_probability(_claim(**changes))[0] <= high


@pytest.mark.parametrize("plan, low, high", [("ppo", 0.6, 0.9), ("hmo", 0.0, 0.15)])
def test_payers_disagree_on_wigs_for_chemotherapy_hair_loss(plan, low, high):
    claim = _claim(treatment="wig", procedure_code="A9282", diagnosis_codes="L651;T451X5A", plan_type=plan)
    assert low <= true_approval_probability(claim)[0] <= high


def test_prior_authorization_tightens_in_the_final_year():
    before = _claim(prior_authorization=False, service_date=pd.Timestamp("2024-06-01"))
    after = _claim(prior_authorization=False, service_date=pd.Timestamp("2025-06-01"))
    assert true_approval_probability(after)[0] < true_approval_probability(before)[0]


def test_bad_rows_are_opt_in_and_the_loader_quarantines_them(tmp_path):
    clean_path, bad_path = tmp_path / "clean.csv", tmp_path / "bad.parquet"
    generate_history(4_000, 2, clean_path, progress=False)
    summary = generate_history(4_000, 2, bad_path, progress=False, bad_rows_fraction=0.05)
    assert 100 < summary.bad_rows < 300
    loaded = load_claims(bad_path)
    assert loaded.report.rows_kept == 4_000 - summary.bad_rows
    # The same seed keeps the same underlying claims: only the chosen rows are spoiled.
    clean = pd.read_csv(clean_path, dtype=str, keep_default_na=False)
    assert (loaded.claims["claim_id"].isin(clean["claim_id"])).all()
    assert len(BAD_VALUES) >= 10


@pytest.mark.parametrize("kwargs, message", [
    ({"rows": 0}, "rows"),
    ({"seed": -1}, "seed"),
    ({"bad_rows_fraction": 1.5}, "bad_rows_fraction"),
    ({"out": "history.json"}, ".csv or .parquet"),
])
def test_bad_arguments_are_refused_with_a_message(tmp_path, kwargs, message):
    arguments = {"rows": 10, "seed": 1, "out": "history.csv", "progress": False, **kwargs}
    arguments["out"] = tmp_path / arguments["out"]
    with pytest.raises(ValueError, match=message):
        generate_history(**arguments)


def test_cli_generate_history_writes_both_files_and_prints_the_summary(tmp_path):
    out, truth = tmp_path / "demo.parquet", tmp_path / "truth" / "p.csv"
    result = CliRunner().invoke(main, ["generate-history", "--rows", "2000", "--seed", "3", "--out", str(out),
                                       "--truth", str(truth), "--quiet"])
    assert result.exit_code == 0, result.output
    assert out.exists() and truth.exists()
    assert "2,000 claims" in result.output and "top denial reasons" in result.output
    assert len(pd.read_parquet(out)) == 2000 and len(pd.read_csv(truth)) == 2000
