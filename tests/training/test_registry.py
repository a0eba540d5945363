"""Logging, registering and the gate (training.registry): the promotion decision and what it
records, the run's provenance, the logged model's input example and signature, strict JSON, and
`gate` moving aliases on a copy of the session's store."""
from __future__ import annotations

import json
import re
import sqlite3
from importlib import metadata as package_metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.types import DataType

from features.contract import CONTRACT_VERSION, EXAMPLE_CLAIM, VISIT_FIELDS, required_fields
from features.diagnosis import ICD10CM_RELEASE
from features.rules import load_rules
from claims_io.requests import clean_request_frame
from training.evaluation import system_metrics
from tests.model_tampering import MARKER, plant_code, register_tampered_copy, swap_denial_labels
from scoring.artifacts import MODEL_MANIFEST_TAG, ModelIntegrityError
from scoring.coverage_model import SCORE_COLUMNS
from common.json_files import write_json
from scoring.mlflow_store import CHAMPION, PREVIOUS, REGISTERED_MODEL, mlflow_client
from training.promotion_gate import GateDecision, GateParams, decide_promotion, gate, gate_metrics, gate_tags
from scoring.logged_model import input_example, model_signature
from training.provenance import provenance_tags

# Contract kinds -> the column type the logged model's signature declares.
SIGNATURE_TYPES = {"string": DataType.string, "date": DataType.string, "code": DataType.string,
                   "codes": DataType.string, "enum": DataType.string, "bool": DataType.boolean,
                   "int": DataType.long, "number": DataType.double}


# -- the decision ---------------------------------------------------------------------------------

@pytest.mark.parametrize("challenger, champion, decision", [
    ({"auc": 0.90, "ece": 0.010}, None, "promoted"),
    ({"auc": 0.900, "ece": 0.010}, {"auc": 0.903, "ece": 0.012}, "promoted"),   # within both margins
    ({"auc": 0.890, "ece": 0.010}, {"auc": 0.900, "ece": 0.010}, "kept_champion"),  # AUC drops 0.01
    ({"auc": 0.910, "ece": 0.020}, {"auc": 0.900, "ece": 0.010}, "kept_champion"),  # ECE rises 0.01
    ({"auc": float("nan"), "ece": 0.0}, {"auc": 0.900, "ece": 0.010}, "kept_champion"),
])
def test_gate_promotes_only_within_the_margins(challenger, champion, decision):
    assert decide_promotion(challenger, champion, GateParams(), "1").decision == decision


def test_a_kept_champion_names_every_failed_margin_with_both_models_numbers():
    decision = decide_promotion({"auc": 0.85, "ece": 0.05}, {"auc": 0.90, "ece": 0.01}, GateParams(), "4")
    assert decision.reason == ("AUC drops 0.0500 > 0.005; ECE rises 0.0400 > 0.005 "
                               "(AUC 0.8500 vs champion v4 0.9000, ECE 0.0500 vs 0.0100)")
    assert (decision.champion_version, decision.champion_metrics) == ("4", {"auc": 0.90, "ece": 0.01})
    assert not decision.promoted


def test_gate_tags_record_the_decision_and_the_champions_auc_ece_and_brier():
    decision = GateDecision("kept_champion", "x" * 6000, "2", {"auc": 0.9, "ece": 0.02, "brier": 0.1, "log_loss": 0.3})
    tags = gate_tags(decision)
    assert tags["gate_reason"] == "x" * 5000  # MLflow's tag limit
    assert {key: value for key, value in tags.items() if key != "gate_reason"} == {
        "gate_decision": "kept_champion", "gate_champion_before": "2", "gate_champion_test_auc": "0.900000",
        "gate_champion_test_ece": "0.020000", "gate_champion_test_brier": "0.100000"}


def test_gate_metrics_record_the_decision_and_every_defined_champion_metric():
    decision = GateDecision("kept_champion", "AUC drops", "2", {"auc": float("nan"), "ece": 0.02, "log_loss": 0.3})
    assert gate_metrics(decision) == {"gate_promoted": 0.0, "gate_champion_test_ece": 0.02,
                                      "gate_champion_test_log_loss": 0.3}


def test_a_first_model_records_no_champion_before_it():
    decision = decide_promotion({"auc": 0.9, "ece": 0.01}, None, GateParams())
    assert gate_tags(decision) == {"gate_decision": "promoted", "gate_reason": "no champion yet",
                                   "gate_champion_before": "none"}
    assert gate_metrics(decision) == {"gate_promoted": 1.0}


# -- what a run and its logged model carry -------------------------------------------------------------

def test_provenance_tags_name_the_data_rows_code_rules_and_libraries(tmp_path):
    tags = provenance_tags(tmp_path / "history.csv", "ab" * 32, {"read": 10, "train": 7})
    assert (tags["data_file"], tags["data_sha256"]) == ("history.csv", "ab" * 32)
    assert (tags["rows_read"], tags["rows_train"]) == ("10", "7")
    assert (tags["rules_version"], tags["icd10cm_release"], tags["contract_version"]) == (
        load_rules().version, ICD10CM_RELEASE, CONTRACT_VERSION)
    assert tags["lib_scikit-learn"] == package_metadata.version("scikit-learn")
    assert tags["lib_mlflow"] == package_metadata.version("mlflow")
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?|unknown", tags["git_commit"])
    assert all(isinstance(value, str) for value in tags.values())  # MLflow tags are text


def test_the_input_example_is_the_contracts_example_claim_in_a_files_form():
    example = input_example()
    assert list(example.columns) == list(EXAMPLE_CLAIM) and len(example) == 1
    assert example["diagnosis_codes"].iloc[0] == ";".join(EXAMPLE_CLAIM["diagnosis_codes"])
    clean, rejected = clean_request_frame(example)
    assert rejected.empty and len(clean) == 1


def test_the_signature_takes_the_contract_fields_and_gives_the_score_columns():
    signature = model_signature()
    inputs = {spec.name: spec for spec in signature.inputs.inputs}
    assert list(inputs) == list(VISIT_FIELDS)
    assert {name: spec.type for name, spec in inputs.items()} == {
        name: SIGNATURE_TYPES[kind] for name, (kind, *_) in VISIT_FIELDS.items()}
    assert [name for name, spec in inputs.items() if spec.required] == list(required_fields(history=False))
    assert signature.outputs.input_names() == list(SCORE_COLUMNS)


def test_the_input_example_fits_the_signature():
    example, inputs = input_example(), {spec.name: spec for spec in model_signature().inputs.inputs}
    assert set(example.columns) <= set(inputs)
    assert {name for name, spec in inputs.items() if spec.required} <= set(example.columns)
    fits = {DataType.string: pd.api.types.is_string_dtype, DataType.boolean: pd.api.types.is_bool_dtype,
            DataType.long: pd.api.types.is_integer_dtype, DataType.double: pd.api.types.is_float_dtype}
    assert [name for name in example.columns if not fits[inputs[name].type](example[name])] == []


def test_write_json_writes_strict_json_with_nan_and_infinities_as_null(tmp_path):
    payload = {"auc": float("nan"), "brier": np.float32(0.25), "rows": np.int64(3), "promoted": np.bool_(True),
               "ratio": float("inf"), "when": pd.Timestamp("2026-01-02"), 7: ("a", None), "path": Path("x/y")}

    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    written = write_json(payload, tmp_path / "evaluation.json")
    assert json.loads(written.read_text(), parse_constant=refuse) == {
        "auc": None, "brier": 0.25, "rows": 3, "promoted": True, "ratio": None, "when": "2026-01-02T00:00:00",
        "7": ["a", None], "path": "x/y"}


# -- the gate on a registry (a copy of the session's store: v1 base, v2 worse, v3 champion) ----------

@pytest.fixture
def registry(trained_store, tmp_path):
    """An MLflow client on a copy of the session store's database (its artifacts stay shared, read only)."""
    copy = tmp_path / "mlflow.db"
    with sqlite3.connect(trained_store.database) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    return mlflow_client(f"sqlite:///{copy}")


@pytest.fixture(scope="module")
def gate_claims(better_split):
    return better_split.test.iloc[:800]


def aliases(client) -> dict[str, str]:
    return {alias: str(version) for alias, version in client.get_registered_model(REGISTERED_MODEL).aliases.items()}


def test_a_challenger_below_the_margins_leaves_the_champion_and_is_tagged(registry, gate_claims, champion_model):
    decision = gate(registry, "2", {"auc": 0.5, "ece": 0.2}, gate_claims, GateParams())
    assert (decision.decision, decision.champion_version) == ("kept_champion", "3")
    assert decision.champion_metrics == pytest.approx(system_metrics(champion_model, gate_claims))
    assert aliases(registry)[CHAMPION] == "3" and aliases(registry)[PREVIOUS] == "1"
    tags = registry.get_model_version(REGISTERED_MODEL, "2").tags
    assert (tags["gate_decision"], tags["gate_champion_before"]) == ("kept_champion", "3")


def test_a_promoted_challenger_becomes_champion_and_the_old_one_previous(registry, gate_claims):
    decision = gate(registry, "2", {"auc": 1.0, "ece": 0.0}, gate_claims, GateParams())
    assert decision.promoted and decision.reason.startswith("within margins")
    assert {alias: aliases(registry)[alias] for alias in (CHAMPION, PREVIOUS)} == {CHAMPION: "2", PREVIOUS: "3"}
    assert registry.get_model_version(REGISTERED_MODEL, "2").tags["gate_decision"] == "promoted"


def test_gating_the_champion_again_does_not_make_it_its_own_previous(registry, gate_claims):
    assert gate(registry, "3", {"auc": 1.0, "ece": 0.0}, gate_claims, GateParams()).promoted
    assert {alias: aliases(registry)[alias] for alias in (CHAMPION, PREVIOUS)} == {CHAMPION: "3", PREVIOUS: "1"}


def test_no_promote_skips_the_gate_and_moves_no_alias(registry, gate_claims):
    before = aliases(registry)
    decision = gate(registry, "2", {"auc": 1.0, "ece": 0.0}, gate_claims, GateParams(), promote=False)
    assert (decision.decision, decision.champion_version) == ("skipped", "3")
    assert aliases(registry) == before
    assert registry.get_model_version(REGISTERED_MODEL, "2").tags["gate_decision"] == "skipped"


def test_a_champion_this_code_cannot_load_is_replaced(registry, gate_claims):
    registry.delete_model_version_tag(REGISTERED_MODEL, "3", MODEL_MANIFEST_TAG)  # registered before the manifests
    decision = gate(registry, "2", {"auc": 0.5, "ece": 0.2}, gate_claims, GateParams())
    assert decision.promoted and "champion v3 cannot be loaded or scored by this code" in decision.reason
    assert "ModelSourceError" in decision.reason and "has no model_manifest tag" in decision.reason
    assert {alias: aliases(registry)[alias] for alias in (CHAMPION, PREVIOUS)} == {CHAMPION: "2", PREVIOUS: "3"}


@pytest.mark.parametrize("tamper", ["swapped metadata", "planted code"])
def test_a_champion_whose_files_were_changed_stops_the_gate_and_runs_nothing(registry, gate_claims, tmp_path, tamper):
    marker = tmp_path / MARKER
    tampered = register_tampered_copy(registry.tracking_uri, REGISTERED_MODEL, "3", tmp_path / "files",
                                      swap_denial_labels if tamper == "swapped metadata" else plant_code(marker))
    registry.set_registered_model_alias(REGISTERED_MODEL, CHAMPION, tampered)
    before = aliases(registry)
    with pytest.raises(ModelIntegrityError, match=f"version {tampered} refused: its files differ"):
        gate(registry, "2", {"auc": 1.0, "ece": 0.0}, gate_claims, GateParams())
    assert aliases(registry) == before  # nothing promoted past a champion nobody can measure
    assert not marker.exists()


def test_without_a_champion_the_challenger_is_promoted_and_previous_is_left_alone(registry, gate_claims):
    registry.delete_registered_model_alias(REGISTERED_MODEL, CHAMPION)
    decision = gate(registry, "2", {"auc": 0.5, "ece": 0.2}, gate_claims, GateParams())
    assert (decision.decision, decision.reason, decision.champion_version) == ("promoted", "no champion yet", None)
    assert {alias: aliases(registry)[alias] for alias in (CHAMPION, PREVIOUS)} == {CHAMPION: "2", PREVIOUS: "1"}
