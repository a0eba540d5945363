"""Realised performance beside the test set's, per plan and treatment, read back from MLflow: the
version's training run on one side, its latest `serving-outcomes` run on the other."""
from __future__ import annotations

import math

import pytest
from mlflow import MlflowClient

from tests.stores import version
from scoring.mlflow_store import REGISTERED_MODEL, ensure_experiment
from scoring.realised import EXPERIMENT, slice_metric_key
from training.review.realised import realised_beside_test


def _outcomes_run(client, uri, model_version: str, metrics: dict[str, float]) -> str:
    experiment_id = ensure_experiment(client, EXPERIMENT, uri)
    run = client.create_run(experiment_id, tags={"model_name": REGISTERED_MODEL, "model_version": model_version,
                                                 "alarm": "ok", "window_start": "a", "window_end": "b"})
    for key, value in metrics.items():
        client.log_metric(run.info.run_id, key, value)
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def test_the_realised_figures_stand_beside_the_test_figures_per_plan_and_treatment(trained_store, tmp_path):
    store = trained_store.copy_to(tmp_path / "store")
    client = MlflowClient(tracking_uri=store.uri, registry_uri=store.uri)
    champion = version(store, "better")
    _outcomes_run(client, store.uri, champion, {"realised_claims": 10, "realised_brier": 0.5})  # an older report
    latest = _outcomes_run(client, store.uri, champion, {
        "realised_claims": 600, "realised_auc": 0.81, "realised_brier": 0.17, "realised_ece": 0.04,
        slice_metric_key("claims", "plan_type", "hmo"): 90, slice_metric_key("brier", "plan_type", "hmo"): 0.2,
        slice_metric_key("claims", "treatment", "wig"): 3})
    frame = realised_beside_test(client, REGISTERED_MODEL, champion).set_index(["column", "value"])
    assert frame.attrs["outcomes_run"] == latest and frame.attrs["alarm"] == "ok"
    test_metrics = client.get_run(store.runs["better"].run_id).data.metrics
    overall = frame.loc[("all", "")]
    assert (overall["test_auc"], overall["test_brier"]) == (test_metrics["test_auc"], test_metrics["test_brier"])
    assert (overall["realised_claims"], overall["realised_brier"]) == (600, 0.17)
    hmo = frame.loc[("plan_type", "hmo")]
    assert hmo["test_rows"] == test_metrics["test_rows__plan_type_hmo"] and hmo["realised_brier"] == 0.2
    assert frame.loc[("treatment", "wig"), "realised_claims"] == 3
    assert math.isnan(frame.loc[("treatment", "wig"), "realised_auc"])


def test_a_version_no_report_measured_has_test_figures_only(trained_store, tmp_path):
    store = trained_store.copy_to(tmp_path / "store")
    client = MlflowClient(tracking_uri=store.uri, registry_uri=store.uri)
    frame = realised_beside_test(client, REGISTERED_MODEL, version(store, "base"))
    assert frame.attrs["outcomes_run"] is None
    assert frame["realised_claims"].isna().all() and frame["test_auc"].notna().any()
    assert set(frame["column"]) == {"all", "plan_type", "treatment"}
    assert frame.loc[frame["column"] == "all", "test_rows"].item() == pytest.approx(
        client.get_run(store.runs["base"].run_id).data.metrics["test_rows"])
