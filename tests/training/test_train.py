"""Real training runs (training.train.run_training) on the session's MLflow store (tests/stores.py):
what a run records, the champion/challenger gate, monotonic constraints, the exported bundle, and
inputs that must fail."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from service.cli import main
from features.contract import MONOTONIC_FLAGS
from tests.stores import plant_problems
from scoring.artifacts import ModelIntegrityError, file_sha256, load_model, verify_bundle, version_for_alias
from scoring.mlflow_store import CHALLENGER, CHAMPION, PREVIOUS, REGISTERED_MODEL
from training.train import TrainingInputError, run_training

pytestmark = pytest.mark.slow  # the session fixture trains three real models (~30 s)

PLOTS = ("plots/roc.png", "plots/calibration.png", "plots/feature_effects.png")


def artifact_paths(client, run_id: str) -> set[str]:
    paths, folders = set(), [None]
    while folders:
        for item in client.list_artifacts(run_id, folders.pop()):
            (folders.append(item.path) if item.is_dir else paths.add(item.path))
    return paths


def test_a_run_records_params_metrics_tags_and_artifacts(trained_store, client):
    result = trained_store.runs["base"]
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["model_max_iter"] and run.data.params["gate_max_auc_drop"] == "0.005"
    assert run.data.params["test_fraction"] == "0.2"
    metrics = run.data.metrics
    for key in ("test_auc", "test_pr_auc", "test_brier", "test_log_loss", "test_ece", "test_classifier_auc",
                "test_rules_only_auc", "test_logreg_auc", "test_truth_auc", "test_auc_ratio_to_truth",
                "test_brier_ratio_to_truth", "test_expected_brier_ratio_to_truth", "test_denial_top1_accuracy", "test_denial_top3_accuracy",
                "test_auc__plan_type_ppo", "test_ece__facility_type_medical_spa", "gate_promoted"):
        assert key in metrics, key
    assert metrics["test_auc"] > metrics["test_rules_only_auc"]
    tags = run.data.tags
    assert tags["data_sha256"] == file_sha256(trained_store.files["base"])
    assert tags["rows_test"] == str(result.split["test"]["rows"])
    assert int(tags["rows_quarantined"]) > 0
    for key in ("git_commit", "rules_version", "icd10cm_release", "lib_scikit-learn", "lib_mlflow"):
        assert tags[key], key
    assert {"evaluation.json", "quarantine/quarantine_report.json", *PLOTS} <= artifact_paths(client, result.run_id)


def test_bad_rows_are_quarantined_and_reported_not_fatal(trained_store, client):
    result = trained_store.runs["base"]
    assert result.rows_quarantined > 0 and result.rows_loaded > 0
    local = client.download_artifacts(result.run_id, "quarantine/quarantine_report.json")
    report = json.loads(open(local).read())
    assert report["rows_quarantined"] == result.rows_quarantined
    assert report["quarantined_by_reason"]
    rows = pd.read_csv(client.download_artifacts(result.run_id, "quarantine/quarantined_rows.csv"))
    assert list(rows.columns) == ["row_number", "field", "reason"]  # no patient values in the store
    assert rows["row_number"].nunique() == result.rows_quarantined


def test_evaluation_json_holds_every_scorer_slices_and_calibration(trained_store, client):
    local = client.download_artifacts(trained_store.runs["base"].run_id, "evaluation.json")
    evaluation = json.loads(open(local).read())
    assert set(evaluation["scorers"]) >= {"system", "classifier", "rules_only", "logreg", "raw_gbm", "truth"}
    assert evaluation["ece_bins"] == 15
    assert {entry["column"] for entry in evaluation["slices"]} == {"plan_type", "treatment", "facility_type",
                                                                 "benefit_scope"}
    assert sum(row["count"] for row in evaluation["calibration"]) == evaluation["scorers"]["system"]["rows"]


def test_first_model_becomes_champion(trained_store):
    base = trained_store.runs["base"]
    assert (base.model_version, base.decision, base.reason) == ("1", "promoted", "no champion yet")


def test_worse_model_is_registered_as_challenger_but_not_promoted(trained_store, client):
    worse = trained_store.runs["worse"]
    assert worse.model_version == "2" and worse.decision == "kept_champion" and not worse.promoted
    assert "AUC drops" in worse.reason
    version = client.get_model_version(REGISTERED_MODEL, "2")
    assert version.tags["gate_decision"] == "kept_champion" and version.tags["gate_champion_before"] == "1"
    run = client.get_run(worse.run_id)
    assert run.data.tags["gate_decision"] == "kept_champion" and run.data.metrics["gate_promoted"] == 0.0
    assert run.data.metrics["gate_champion_test_auc"] > run.data.metrics["test_auc"]


def test_better_model_is_promoted_and_previous_points_to_the_old_champion(trained_store, client):
    better = trained_store.runs["better"]
    assert better.model_version == "3" and better.promoted, better.reason
    aliases = {alias: str(client.get_model_version_by_alias(REGISTERED_MODEL, alias).version)
               for alias in (CHAMPION, CHALLENGER, PREVIOUS)}
    assert aliases == {CHAMPION: "3", CHALLENGER: "3", PREVIOUS: "1"}
    assert client.get_model_version(REGISTERED_MODEL, "3").tags["gate_decision"] == "promoted"


@pytest.mark.parametrize("field", MONOTONIC_FLAGS)
def test_monotonic_inputs_never_lower_the_probability(champion_model, better_split, field):
    claims = better_split.test
    off = claims[~claims[field].to_numpy(dtype=bool)]
    assert len(off) > 50
    flipped = off.assign(**{field: True})
    # the classifier on every claim (score_frame leaves it NaN where a rule decides), then the system
    assert (champion_model.model_probability(flipped) >= champion_model.model_probability(off) - 1e-12).all()
    before, after = champion_model.score_frame(off), champion_model.score_frame(flipped)
    assert (after["approval_probability"].to_numpy() >= before["approval_probability"].to_numpy() - 1e-12).all()


def test_exported_bundle_loads_verified_and_matches_the_registry_model(trained_store, champion_model, better_split):
    link = trained_store.models_dir / "champion"
    metadata = verify_bundle(link)
    assert link.resolve().name == f"{REGISTERED_MODEL}-v3"
    assert metadata["version"] == "3" and metadata["registered_model"] == REGISTERED_MODEL
    assert metadata["feature_names"] == champion_model.feature_names and metadata["rules_version"]
    assert metadata["metrics"]["test_auc"] == pytest.approx(trained_store.runs["better"].metrics["test_auc"])
    bundle_model = load_model(link).model
    claims = better_split.test.iloc[:500]
    pd.testing.assert_frame_equal(bundle_model.score_frame(claims), champion_model.score_frame(claims))


@pytest.mark.parametrize("tamper", ["change", "add", "remove"])
def test_a_tampered_bundle_is_refused(trained_store, tmp_path, tamper):
    copy = tmp_path / "bundle"
    shutil.copytree(trained_store.models_dir / "champion", copy)
    target = copy / "model" / "metadata.json"
    if tamper == "change":
        target.write_text(target.read_text().replace('"', "'", 1))
    elif tamper == "add":
        (copy / "model" / "extra.py").write_text("print('hi')\n")
    else:
        target.unlink()
    with pytest.raises(ModelIntegrityError):
        load_model(copy)


def _count_runs(uri: str) -> int:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    return sum(len(client.search_runs([experiment.experiment_id])) for experiment in client.search_experiments())


def test_a_missing_column_fails_before_any_run_is_created(trained_store, tmp_path):
    broken = tmp_path / "no_plan_type.csv"
    pd.read_csv(trained_store.files["base"], dtype=str).drop(columns=["plan_type"]).to_csv(broken, index=False)
    before = _count_runs(trained_store.uri)
    with pytest.raises(TrainingInputError, match="plan_type"):
        run_training(broken, tracking_uri=trained_store.uri, models_dir=tmp_path / "models", progress=False,
                     echo=lambda line: None)
    assert _count_runs(trained_store.uri) == before
    fresh = tmp_path / "fresh"
    result = CliRunner().invoke(main, ["train", "--data", str(broken), "--tracking-uri",
                                       f"sqlite:///{fresh / 'mlflow.db'}", "--models-dir", str(fresh / "models")])
    assert result.exit_code == 2 and "plan_type" in result.output
    assert not (fresh / "mlflow.db").exists()


def test_the_fit_to_train_verdict_is_printed_and_travels_with_the_run(trained_store, client):
    base, better = (client.get_run(trained_store.runs[name].run_id) for name in ("base", "better"))
    assert base.data.tags["fit_to_train"] == "fit with warnings"  # 1% bad rows: the quarantine share warns
    assert "quarantine share" in base.data.tags["fit_to_train_reasons"]
    assert better.data.tags["fit_to_train"] == "fit" and better.data.tags["fit_to_train_overridden"] == "false"
    local = client.download_artifacts(better.info.run_id, "fit_to_train.json")
    judged = json.loads(open(local).read())
    checks = {check["check"]: check for check in judged["checks"]}
    assert judged["verdict"] == "fit" and "label drift vs the champion's training claims" in checks  # base was champion


def test_a_file_not_fit_to_train_is_refused_before_any_run(trained_store, tmp_path):
    planted = plant_problems(trained_store.files["base"], tmp_path / "planted.csv")
    before = _count_runs(trained_store.uri)
    lines = []
    with pytest.raises(TrainingInputError, match="(?s)not fit to train on.*--allow-unfit"):
        run_training(planted, tracking_uri=trained_store.uri, models_dir=tmp_path / "models", progress=False,
                     echo=lines.append)
    assert _count_runs(trained_store.uri) == before
    assert any("FIT TO TRAIN: NOT FIT (against champion v" in line for line in lines)
    assert any("fail: duplicate claim_id" in line for line in lines)
    fresh = tmp_path / "fresh"
    result = CliRunner().invoke(main, ["train", "--data", str(planted), "--tracking-uri",
                                       f"sqlite:///{fresh / 'mlflow.db'}", "--models-dir", str(fresh / "models")])
    assert result.exit_code == 2 and "not fit to train on" in result.output and "--allow-unfit" in result.output
    assert not (fresh / "mlflow.db").exists()


def test_no_promote_registers_a_challenger_and_runs_no_gate(trained_store, tmp_path, quick_training_params):
    """A fresh store: even with no champion at all, --no-promote makes none. The file is not fit
    to train on, and allowed: the run says so."""
    from mlflow import MlflowClient


    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    planted = plant_problems(trained_store.files["base"], tmp_path / "planted.csv")
    result = run_training(planted, tracking_uri=uri, promote=False, export=False, allow_unfit=True,
                          params=quick_training_params(), progress=False, echo=lambda line: None)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert (result.decision, result.model_version, result.bundle_path) == ("skipped", "1", None)
    assert version_for_alias(client, REGISTERED_MODEL, CHAMPION, missing_ok=True) is None
    assert str(client.get_model_version_by_alias(REGISTERED_MODEL, CHALLENGER).version) == "1"
    assert client.get_model_version(REGISTERED_MODEL, "1").tags["gate_decision"] == "skipped"
    assert client.get_run(result.run_id).data.tags["gate_decision"] == "skipped"
    assert np.isfinite(result.metrics["test_auc"])
    tags = client.get_run(result.run_id).data.tags
    assert (tags["fit_to_train"], tags["fit_to_train_overridden"]) == ("not fit", "true")
    assert "fail: duplicate claim_id" in tags["fit_to_train_reasons"]


def test_training_params_are_logged_flat_with_a_prefix_per_part(quick_training_params):
    flat = quick_training_params().flat()
    assert (flat["model_max_iter"], flat["model_teachers"]) == (120, 2)
    assert (flat["gate_max_auc_drop"], flat["gate_max_ece_rise"]) == (0.005, 0.005)
    assert (flat["validation_fraction"], flat["test_fraction"], flat["evaluation_ece_bins"]) == (0.1, 0.2, 15)
    assert not [key for key in flat if key.split("_")[0] not in ("model", "gate", "evaluation", "validation", "test")]
