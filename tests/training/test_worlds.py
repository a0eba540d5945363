"""The worlds the project did not generate from its own tables (tests/training/worlds): every row
they write is in the contract, their truth files match their histories, the same seed writes the
same bytes, and their payers disagree with our rule table exactly where their statements say."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.catalog import load_catalog
from features.claim_facts import columns_facts, frame_to_columns
from features.contract import BOOL_FIELDS
from features.diagnosis import load_table, normalise_code
from features.rules import load_rules
from tests.training.worlds import WORLDS
from tests.training.worlds.codebook import CODE_GROUPS, HEADER_GROUPS, entries
from tests.training.worlds.world import ERROR_SHARE, shared_or_unpaired
from claims_io.loading import expected_columns, load_claims
from training.evaluation import TRUTH_COLUMN, default_truth_path, read_truth

ROWS = 50_000
# Shared codes alone (17999; 11900/11901 and 96567 where the catalog shares them) and a treatment
# with a code the catalog lists under another treatment are contract-valid (coverage-facts.md,
# "Codes that several treatments share"); the loader of commit a25715d quarantines them.
TODAYS_REFUSALS = {"treatment: ambiguous procedure code", "procedure_code: disagrees with treatment"}
ALL_GROUPS = sorted({name for world in WORLDS.values() for groups in world.diagnoses.values() for name in groups})


def read_raw(path) -> pd.DataFrame:
    """The file as written: strings and nulls, no parsing."""
    if str(path).endswith(".parquet"):
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module", params=list(WORLDS))
def world(request):
    return WORLDS[request.param]


@pytest.fixture(scope="module")
def history(world, tmp_path_factory):
    """(path, the raw file, the load result) of ROWS claims of the world."""
    path = world.write(tmp_path_factory.mktemp(world.name) / world.file_name(ROWS), ROWS, seed=11)
    return path, read_raw(path), load_claims(path)


@pytest.fixture(scope="module")
def measured(history):
    """One row per loaded claim and rule that fires on it, as training sees them: rule_id,
    treatment (as the loader resolved it), category, approved, truth."""
    path, _, loaded = history
    claims = loaded.claims
    columns = frame_to_columns(claims)
    fired = load_rules().fire(columns, columns_facts(columns))
    rows, rule_columns = np.nonzero(fired)
    truth = read_truth(default_truth_path(path)).reindex(claims["claim_id"]).to_numpy()
    return pd.DataFrame({
        "rule_id": np.array([rule.rule_id for rule in load_rules().rules], dtype=object)[rule_columns],
        "treatment": claims["treatment"].astype(str).to_numpy()[rows],
        "category": claims["diagnosis_codes"].astype(str).str.split(";").str[0].str[:3].to_numpy()[rows],
        "approved": claims["approved"].to_numpy()[rows],
        "truth": truth[rows],
    })


def near(share: float, stated: float, count: int) -> bool:
    """Within four binomial standard errors of the stated share (and a point for rounding)."""
    return abs(share - stated) <= 4 * np.sqrt(max(stated * (1 - stated), 0.005) / count) + 0.01


# -- codes and values ----------------------------------------------------------------------------

@pytest.mark.parametrize("group", ALL_GROUPS)
def test_every_code_the_worlds_write_is_in_icd10cm_and_billable_unless_a_header_on_purpose(group):
    table = load_table()
    for codes in entries(group):
        for code in codes:
            assert table.is_known(normalise_code(code)), code
            assert table.is_billable(normalise_code(code)) == (group not in HEADER_GROUPS), code


def test_the_codebook_has_no_unused_group():
    assert set(ALL_GROUPS) == set(CODE_GROUPS)


def test_a_world_writes_every_contract_column_in_the_contract_order(history):
    _, raw, loaded = history
    assert tuple(raw.columns) == expected_columns(history=True)
    assert loaded.report.extra_columns == ()


def test_a_world_writes_the_spellings_real_files_use(world, history):
    _, raw, _ = history
    codes = raw["diagnosis_codes"].dropna().astype(str)
    assert codes.str.contains(".", regex=False).any() and (codes.str.len() > 3).any()
    assert (codes.str.match(r"^[A-Z]\d{2}[0-9A-Z]") & ~codes.str.contains(".", regex=False)).any()
    blank = raw.isna() | (raw == "")
    for optional in ("treatment", "procedure_code", "place_of_service", "visit_number",
                     "conservative_therapy_documented", "weeks_since_last_treatment", "benefit_limit"):
        assert blank[optional].any(), optional
    if world.suffix == ".csv":
        assert set(raw["in_network"]) == {"yes", "no"}


# -- the loader ----------------------------------------------------------------------------------

def test_the_loader_quarantines_at_most_shared_codes_alone_and_unpaired_treatment_codes(history):
    _, raw, loaded = history
    refused = np.flatnonzero(shared_or_unpaired(raw["treatment"], raw["procedure_code"]))
    quarantined = np.unique(loaded.quarantine["row_number"].to_numpy() - 1)
    assert set(loaded.report.quarantined_by_reason) <= TODAYS_REFUSALS
    assert set(quarantined) <= set(refused)
    assert loaded.report.rows_kept == ROWS - len(quarantined)


def test_every_row_a_world_writes_loads(history):
    _, _, loaded = history
    assert loaded.report.rows_quarantined == 0, loaded.report.quarantined_by_reason


# -- truth and determinism -----------------------------------------------------------------------

def test_the_truth_file_matches_the_history_row_for_row(history):
    path, raw, loaded = history
    truth_path = default_truth_path(path)
    truth = read_raw(truth_path)
    assert list(truth.columns) == ["claim_id", TRUTH_COLUMN]
    assert truth["claim_id"].tolist() == raw["claim_id"].tolist()
    probability = read_truth(truth_path).to_numpy()
    assert np.isfinite(probability).all() and (probability >= 0).all() and (probability <= 1).all()
    approved = raw["outcome"].isin(["approved", "partial"]).to_numpy()
    assert abs(approved.mean() - probability.mean()) < 0.01
    assert 0.2 < approved.mean() < 0.6


@pytest.mark.parametrize("name", list(WORLDS))
def test_the_same_seed_writes_the_same_bytes(name, tmp_path):
    world = WORLDS[name]
    first = world.write(tmp_path / f"a{world.suffix}", 3_000, seed=5)
    again = world.write(tmp_path / f"b{world.suffix}", 3_000, seed=5)
    other = world.write(tmp_path / f"c{world.suffix}", 3_000, seed=6)
    assert first.read_bytes() == again.read_bytes()
    assert default_truth_path(first).read_bytes() == default_truth_path(again).read_bytes()
    assert first.read_bytes() != other.read_bytes()


# -- the statement -------------------------------------------------------------------------------

def test_the_statement_names_rules_treatments_and_categories_that_exist(world):
    rule_ids = {rule.rule_id for rule in load_rules().rules}
    catalog = load_catalog()
    for item in world.disagreements:
        assert item.rule_id in rule_ids
        assert item.treatment is None or item.treatment in catalog.treatments
        category = item.diagnosis_category
        assert category is None or (len(category) == 3 and category == normalise_code(category))
        assert 0.1 <= item.paid_share < 1
    for item in world.confirmed:
        assert item.rule_id in rule_ids and (item.treatment is None or item.treatment in catalog.treatments)
    assert sum(item.paid_share > 0.5 for item in world.disagreements) >= 3
    kept = {item.rule_id for item in world.confirmed if item.treatment is None}
    assert {"DENTAL-001", "COMFORT-001", "COSMETIC-002", "BENEFIT-001"} <= kept


def test_the_worlds_disagree_in_different_places():
    places = [{(item.rule_id, item.treatment, item.diagnosis_category) for item in world.disagreements}
              for world in WORLDS.values()]
    for number, first in enumerate(places):
        for second in places[number + 1:]:
            assert not first & second


def test_each_stated_disagreement_is_paid_at_its_share(world, measured):
    for item in world.disagreements:
        cell = measured[measured["rule_id"] == item.rule_id]
        if item.treatment is not None:
            cell = cell[(cell["treatment"] == item.treatment) & (cell["category"] == item.diagnosis_category)]
        assert len(cell) >= 100, item
        assert near(cell["approved"].mean(), item.paid_share, len(cell)), (item, cell["approved"].mean())
        assert abs(cell["truth"].mean() - item.paid_share) < 0.03, (item, cell["truth"].mean())


def test_every_other_rule_cell_is_denied_but_for_errors(world, measured):
    """No cell the statement leaves out is contradicted: the payer pays its error share there."""
    cells = measured.groupby(["rule_id", "treatment", "category"])["approved"].agg(["size", "mean"]).reset_index()
    cells = cells[cells["size"] >= 50]
    for cell in cells.itertuples():
        stated = world.stated_share(cell.rule_id, cell.treatment, cell.category)
        assert near(cell.mean, stated, cell.size), (cell, stated)
    assert len(cells) >= 20


def test_each_confirmed_rule_fires_and_is_denied_but_for_errors(world, measured):
    stated = {(item.rule_id, item.treatment, item.diagnosis_category) for item in world.disagreements}
    outside = ~pd.Series([(rule, treatment, category) in stated or (rule, None, None) in stated
                          for rule, treatment, category in measured[["rule_id", "treatment", "category"]].itertuples(
                              index=False)], dtype=bool).to_numpy()
    for item in world.confirmed:
        cell = measured[outside & (measured["rule_id"] == item.rule_id)]
        if item.treatment is not None:
            cell = cell[cell["treatment"] == item.treatment]
        assert len(cell) >= 30, item
        assert cell["approved"].mean() <= max(world.error_shares.get(item.rule_id, ERROR_SHARE), 0.01) * 2 + 0.01, item


def test_wigs_for_chemotherapy_hair_loss_are_covered_in_the_catalog_and_hardly_paid_in_managed_care(tmp_path):
    world = WORLDS["managed_care"]
    assert [tuple(item)[:2] for item in world.denied_though_covered] == [("wig", "L65")]
    assert load_catalog()["wig"].covers("L651")
    claims = world.draw(20_000, seed=2)
    cell = claims[(claims["treatment"] == "wig") & (claims["_category"] == "L65")]
    assert len(cell) > 300 and cell["outcome"].isin(["approved", "partial"]).mean() < 0.05


@pytest.mark.parametrize("field", BOOL_FIELDS)
def test_each_boolean_spelling_loads_as_both_values(field, history):
    _, _, loaded = history
    values = loaded.claims[field]
    assert 0.05 < values.mean() < 0.95


def _rule_evidence(path):
    from scoring.params import ModelParams
    from training.model_fitting import measure_rules

    evidence, _, _ = measure_rules(load_claims(path).claims, ModelParams())
    return evidence


def test_a_new_edit_is_learned_where_a_payer_pays_it_and_kept_where_the_payer_denies_it(tmp_path):
    """SETTING-001 (G0447 outside primary care under Medicare plans) both ways: the managed-care
    world's payer pays it (a broad reading of NCD 210.12), so the rule evidence makes it learned
    there; the demo payer denies it, so it stays hard."""
    from scoring.rule_evidence import ANY
    from training.demo.generator import generate_history

    world = WORLDS["managed_care"]
    assert ("SETTING-001", None, None) in {tuple(item)[:3] for item in world.disagreements}
    paying = _rule_evidence(world.write(tmp_path / world.file_name(30_000), 30_000, seed=5))
    assert paying.cells[("SETTING-001", ANY, ANY)].fired >= 100
    assert "SETTING-001" in paying.learned_rule_ids
    demo = tmp_path / "demo.csv"
    generate_history(60_000, 7, demo, progress=False)
    denying = _rule_evidence(demo)
    assert denying.cells[("SETTING-001", ANY, ANY)].fired >= 30
    assert "SETTING-001" not in denying.learned_rule_ids


def test_the_regional_payer_changes_its_policy_mid_history():
    """From CHANGE_DATE its commercial plans deny massage and sclerotherapy without prior
    authorization far more often, and its HMO stops asking for a referral at dermatology clinics:
    the same claims, before and after, have different true chances."""
    from tests.training.worlds.regional import CHANGE_DATE, TIGHTENED_PLANS, TIGHTENED_TREATMENTS

    claims = WORLDS["regional"].draw(60_000, seed=3)
    after = claims["service_date"] >= pd.Timestamp(CHANGE_DATE)
    assert 0.2 < after.mean() < 0.4  # the newest 20% (the test split) lies wholly after it, some training too
    free = claims["_cell"] < 0
    tightened = free & claims["plan_type"].isin(TIGHTENED_PLANS) & claims["treatment"].isin(TIGHTENED_TREATMENTS) \
        & ~claims["prior_authorization"] & claims["_probability"].gt(0.02)
    before_share, after_share = (claims["_probability"][tightened & ~after].mean(),
                                 claims["_probability"][tightened & after].mean())
    assert after_share < before_share - 0.25, (before_share, after_share)
    loosened = free & (claims["plan_type"] == "hmo") & (claims["facility_type"] == "dermatology_clinic") \
        & ~claims["referral"] & claims["_probability"].gt(0.02)
    assert claims["_probability"][loosened & after].mean() > claims["_probability"][loosened & ~after].mean() + 0.1


def test_the_regional_payer_has_quirks_in_sparse_cells_and_plan_specific_behaviour():
    from tests.training.worlds.regional import QUIRKS, plan_treatment_effects

    world = WORLDS["regional"]
    claims = world.draw(60_000, seed=4)
    # claims no rule and no cell decides (a quirk may pay less than a rule's error share: by the
    # rules that fire, not by the probability)
    columns = {**{name: claims[name].to_numpy() for name in ("treatment", "diagnosis_codes", "plan_type",
                                                             "facility_type", "patient_age", "benefit_limit",
                                                             "benefit_used")},
               "procedure_code": claims["_code_written"].to_numpy()}  # as the world settles them
    free = (claims["_cell"] < 0) & ~load_rules().fire(columns, columns_facts(columns)).any(axis=1)
    for (treatment, plan, facility), share in QUIRKS.items():
        cell = free & (claims["treatment"] == treatment) & (claims["plan_type"] == plan) \
            & (claims["facility_type"] == facility)
        assert 0 < cell.sum() < 0.01 * len(claims), (treatment, plan, facility)  # sparse
        if facility == "medical_spa":  # a spa quirk only lowers: the share, or the claim's own chance when lower
            assert (claims["_probability"][cell] <= share + 1e-12).all()
            assert np.isclose(claims["_probability"][cell], share).mean() > 0.5
        else:
            assert np.allclose(claims["_probability"][cell], share)
        neighbours = free & (claims["treatment"] == treatment) & (claims["plan_type"] == plan) & ~cell
        assert abs(claims["_probability"][neighbours].mean() - share) > 0.25  # unlike the cells around it
    effects = plan_treatment_effects(world.mix)
    assert effects.abs().to_numpy().max() > 1.0 and (effects.std(axis=0) > 0.4).all()


def test_no_independent_payer_pays_an_office_less_than_a_medical_spa_for_the_same_claim():
    """No payer prefers a spa (issue 24; the served answer's medical-setting floor): each world's
    payer model, asked about the same claims at a medical spa and at each doctor's office or clinic,
    never answers the office lower. The regional world's version 1 did, in five quirk cells."""
    from features.claim_facts import diagnosis_facts
    from features.contract import OFFICE_FACILITIES
    from tests.training.worlds.regional import QUIRKS

    for world in WORLDS.values():
        claims = world.draw(40_000, seed=6)
        facts = diagnosis_facts(claims["treatment"].to_numpy(dtype=object),
                                claims["diagnosis_codes"].to_numpy(dtype=object))

        def paid_share_at(facility):
            return world._model(claims.assign(facility_type=facility), facts, np.random.default_rng(0))[0]
        at_the_spa = paid_share_at("medical_spa")
        for office in OFFICE_FACILITIES:
            lower = paid_share_at(office) < at_the_spa - 1e-12
            assert not lower.any(), (world.name, office, claims.loc[lower, ["treatment", "plan_type"]].drop_duplicates())
    # the quirks that made an office pay less now lower the spa itself, and none sits at an office
    assert not any(facility in OFFICE_FACILITIES for _, _, facility in QUIRKS)
