"""MLflow: how a CoverageModel is logged into the active run and registered, and the manifest every
loader checks. Where the store is (the tracking URI and its default) is scoring.mlflow_store; the
model's MLflow form is scoring.logged_model; how a registered model is loaded is scoring.artifacts;
which version serves is the gate's (training.promotion_gate).

Registered model REGISTERED_MODEL with aliases (stages are deprecated):
- `challenger`: the version this run registered (always the newest);
- `champion`: the version the service loads; moved only by the gate;
- `previous`: the champion the last promotion replaced (rollback target).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from scoring.artifacts import (MODEL_MANIFEST_TAG, MODEL_SHA256_TAG, download_artifacts, file_sha256, manifest_text,
                               run_manifest_tags)
from scoring.coverage_model import MODEL_FILE
from scoring.logged_model import pyfunc_arguments, without_cloudpickle_warning
from scoring.mlflow_store import REGISTERED_MODEL

MODEL_NAME_IN_RUN = "model"  # the logged model's name within its run


def log_coverage_model(model, registered_model: str = REGISTERED_MODEL):
    """Save `model` (skops) and log it in the active run as a pyfunc whose artifact is that folder,
    registered as a new version of `registered_model`. Returns MLflow's ModelInfo.

    The pyfunc wrapper is logged as an instance of scoring.pyfunc_model.CoverageModelPyfunc; it
    holds no fitted state (the model travels as the skops artifact), so MLflow's pickle of it
    names only the class, which travels in the model's `code/` folder with everything it imports."""
    import mlflow

    with tempfile.TemporaryDirectory(prefix="coverage-model-") as scratch:
        saved = model.save(Path(scratch) / "coverage_model")
        # loaders check the downloaded file against this (tagged on the model version)
        model.metadata[MODEL_SHA256_TAG] = file_sha256(saved / MODEL_FILE)
        with without_cloudpickle_warning():  # why it does not apply to this wrapper: see there
            return mlflow.pyfunc.log_model(
                name=MODEL_NAME_IN_RUN,
                registered_model_name=registered_model,
                await_registration_for=0,
                **pyfunc_arguments(saved, Path(scratch)),
            )


def record_model_manifest(client, tracking_uri: str, registered_model: str, version: str) -> str:
    """Tag a just registered version, and the run that logged it, with the manifest of every file
    of the model as the artifact store holds it: what every loader checks before it reads a byte
    (scoring.artifacts). Returns the manifest."""
    run_id = client.get_model_version(registered_model, version).run_id
    with tempfile.TemporaryDirectory(prefix="coverage-model-") as scratch:
        stored = download_artifacts(client.get_model_version_download_uri(registered_model, version),
                                    Path(scratch), tracking_uri)
        manifest = manifest_text(stored)
    client.set_model_version_tag(registered_model, version, MODEL_MANIFEST_TAG, manifest)
    if run_id:  # in parts: MLflow cuts a run tag past RUN_TAG_LIMIT characters (scoring.artifacts)
        for key, part in run_manifest_tags(manifest).items():
            client.set_tag(run_id, key, part)
    return manifest
