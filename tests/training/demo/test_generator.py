"""The demo claims-history generator (training.demo.generator): contract-faithful files,
deterministic, and honest about its truth. The visit mix is tested in test_population, the payer's
answers in test_payer; all three read the sample history of sample_history.py."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from features.catalog import load_catalog
from features.contract import (
    BENEFIT_SCOPES,
    FACILITY_TYPES,
    OUTCOME_FIELDS,
    OUTCOMES,
    PLAN_TYPES,
    VISIT_FIELDS,
)
from service.cli import main
from tests.training.demo.sample_history import ROWS
from training.demo.payer import true_approval_probability
from training.demo.generator import BAD_VALUES, TRUTH_COLUMN, default_truth_path, generate_history
from claims_io.loading import load_claims

BOOLEAN_FIELDS = ("in_network", "referral", "medical_necessity_letter", "prior_authorization",
                  "conservative_therapy_documented")


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


def test_overall_approval_rate_is_plausible(history):
    summary, raw, _, _ = history
    approval = raw["outcome"].isin(["approved", "partial"]).mean()
    assert 0.15 < approval < 0.60
    assert summary.approval_rate == pytest.approx(approval)
    assert 0 < (raw["outcome"] == "partial").mean() < 0.05


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
