"""The served form (scoring.served_form): written beside model.skops at save, loaded without skops
or scikit-learn, the same numbers to the bit as the model.skops it was taken from, and never
used when it is not that model.skops's (stale, swapped or damaged: model.skops is read instead)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from common.digests import file_sha256
from features.pipeline import claims_to_columns, encode_claims, one_hot_groups
from scoring.artifacts import MODEL_DIR, SERVED_FORM, ModelIntegrityError, load_model
from scoring.coverage_model import MODEL_FILE, CoverageModel
from scoring.mlflow_store import CHAMPION, REGISTERED_MODEL, alias_uri
from scoring.served_form import SERVED_ARRAYS_FILE, SERVED_FORM_FILE, read_served_form
from tests.model_tampering import SAVED_MODEL, copy_store, flip_a_byte_of, register_tampered_copy

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_ROWS = 3_000  # claims of the test history scored both ways
ANSWERED_CLAIMS = 60  # of them, answered in full (reasons, factors, advice) both ways


@pytest.fixture(scope="module")
def served_champion(trained_store):
    loaded = load_model(alias_uri(CHAMPION), trained_store.uri)
    assert loaded.details["loaded_from"] == SERVED_FORM  # a model trained now carries its served form
    return loaded.model


@pytest.fixture(scope="module")
def sample(test_claims):
    return test_claims.sample(n=min(SAMPLE_ROWS, len(test_claims)), random_state=3).reset_index(drop=True)


@pytest.fixture
def saved_folder(trained_store, tmp_path):
    """A copy of the champion bundle's saved model (model.skops, metadata.json, the served form)."""
    return Path(shutil.copytree(trained_store.models_dir / "champion" / MODEL_DIR, tmp_path / "model"))


def test_the_served_form_holds_no_estimator_and_the_skops_model_does(served_champion, champion_model):
    assert served_champion.classifier is None and served_champion.denial_model is None
    assert champion_model.classifier is not None  # the shared fixture reads model.skops (estimators=True)


def test_batch_scores_are_the_skops_models_to_the_bit(served_champion, champion_model, sample):
    served, skops = served_champion.score_frame(sample), champion_model.score_frame(sample)
    assert (served["decision"] != "excluded").any() and (served["decision"] == "excluded").any()
    pd.testing.assert_frame_equal(served, skops, check_exact=True)


def test_features_raw_scores_and_denial_reasons_are_the_skops_models_to_the_bit(served_champion, champion_model,
                                                                                  sample):
    columns = claims_to_columns(sample.to_dict("records"))
    features = served_champion.encode(columns)
    np.testing.assert_array_equal(features, champion_model.encode(columns))
    np.testing.assert_array_equal(encode_claims(served_champion.feature_pipeline, columns),
                                  champion_model.feature_pipeline.transform(sample))  # sklearn's own door
    served_rows, skops_rows = served_champion.score_rows(columns), champion_model.score_rows(columns)
    for part in ("raw", "model_probability", "system_probability"):
        np.testing.assert_array_equal(getattr(served_rows, part), getattr(skops_rows, part))
    np.testing.assert_array_equal(served_champion.denial_reason_matrix(features),
                                  champion_model.denial_reason_matrix(features))
    assert list(served_champion.feature_pipeline.get_feature_names_out()) == \
        list(champion_model.feature_pipeline.get_feature_names_out())
    assert {name: list(at) for name, at in one_hot_groups(served_champion.feature_pipeline).items()} == \
        {name: list(at) for name, at in one_hot_groups(champion_model.feature_pipeline).items()}


def test_full_answers_are_the_skops_models(served_champion, champion_model, sample, make_claim):
    claims = sample.head(ANSWERED_CLAIMS).to_dict("records") + [
        make_claim(), make_claim(plan_type="hmo", prior_authorization=False, referral=False),
        make_claim(facility_type="medical_spa", place_of_service="99")]
    for claim in claims:  # one at a time, as the service answers: decisions, reasons, factors, advice
        assert served_champion.answer_claims([claim]) == champion_model.answer_claims([claim])


def test_loading_the_served_form_imports_neither_sklearn_nor_skops(trained_store):
    script = (
        "import sys, pandas as pd\n"
        "from scoring.artifacts import load_model\n"
        "from tests.scoring.conftest import canonical_claim\n"
        f"loaded = load_model({str(trained_store.models_dir / 'champion')!r})\n"
        "loaded.model.score_frame(pd.DataFrame([canonical_claim()]))\n"
        "loaded.model.answer_claims([canonical_claim()])\n"
        "print(sorted(name for name in ('sklearn', 'skops', 'scipy.stats', 'scipy.sparse', 'mlflow') if name in sys.modules))\n"
        "print(loaded.details['loaded_from'])\n")
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    imported, loaded_from = run.stdout.splitlines()[-2:]
    assert imported == "[]"  # numba imports scipy (its top package and scipy.linalg, for BLAS) on its own
    assert loaded_from == SERVED_FORM


def test_a_served_form_of_another_model_skops_is_not_used(saved_folder, champion_model, sample):
    digest = file_sha256(saved_folder / MODEL_FILE)
    assert read_served_form(saved_folder, digest) is not None
    assert read_served_form(saved_folder, "0" * 64) is None  # the caller's model.skops is another
    form = json.loads((saved_folder / SERVED_FORM_FILE).read_text())
    form["model_sha256"] = "0" * 64  # a form left from an earlier model.skops
    (saved_folder / SERVED_FORM_FILE).write_text(json.dumps(form))
    loaded = load_model(saved_folder)
    assert loaded.details["loaded_from"] == "model.skops" and loaded.model.classifier is not None
    pd.testing.assert_frame_equal(loaded.model.score_frame(sample.head(200)), champion_model.score_frame(sample.head(200)))


@pytest.mark.parametrize("name", [SERVED_ARRAYS_FILE, SERVED_FORM_FILE])
def test_a_damaged_served_form_is_not_used(saved_folder, name):
    flip_a_byte_of(name)(saved_folder)
    assert read_served_form(saved_folder, file_sha256(saved_folder / MODEL_FILE)) is None
    assert load_model(saved_folder).details["loaded_from"] == "model.skops"


def test_arrays_changed_under_a_consistent_served_json_are_not_used(saved_folder):
    """served.json names its arrays' digest: arrays swapped for others of the same names differ."""
    with np.load(saved_folder / SERVED_ARRAYS_FILE, allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    arrays["forest.value"] = arrays["forest.value"] + 1.0
    np.savez(saved_folder / SERVED_ARRAYS_FILE, **arrays)
    assert read_served_form(saved_folder, file_sha256(saved_folder / MODEL_FILE)) is None


def test_a_registered_version_with_a_changed_served_form_is_refused(trained_store, tmp_path):
    """The registry's manifest covers the served form as it covers model.skops."""
    store_copy = copy_store(Path(trained_store.uri.removeprefix("sqlite:///")), tmp_path / "store")
    champion = load_model(alias_uri(CHAMPION), trained_store.uri).version
    tampered = register_tampered_copy(store_copy, REGISTERED_MODEL, champion, tmp_path / "copy",
                                      flip_a_byte_of(f"{SAVED_MODEL}/{SERVED_ARRAYS_FILE}"))
    with pytest.raises(ModelIntegrityError, match=SERVED_ARRAYS_FILE):
        load_model(f"models:/{REGISTERED_MODEL}/{tampered}", store_copy)


def test_a_model_loaded_from_its_served_form_cannot_be_saved(served_champion, tmp_path):
    with pytest.raises(ValueError, match="without its estimators"):
        served_champion.save(tmp_path / "again")


def test_saving_writes_the_served_form_of_the_model_skops_it_writes(champion_model, tmp_path, sample):
    folder = champion_model.save(tmp_path / "saved")
    assert {path.name for path in folder.iterdir()} >= {MODEL_FILE, SERVED_FORM_FILE, SERVED_ARRAYS_FILE}
    reloaded = CoverageModel.load_served(folder, file_sha256(folder / MODEL_FILE))
    frame = sample.head(500)
    pd.testing.assert_frame_equal(reloaded.score_frame(frame), champion_model.score_frame(frame), check_exact=True)
