"""benchmarks.serve_profile and request_parts: the stages name functions that exist, the floor app answers as
the floor should, the ceiling app as the service does, and a part is switched off for its own variant only."""
from __future__ import annotations

import ast
import json
import runpy
import sys
from pathlib import Path

import pytest

from benchmarks.floor_app import ANSWER, app
from benchmarks.serve_profile import STAGES

ROOT = Path(__file__).resolve().parents[2]


def _source_of(suffix: str) -> Path:
    """The file a stage's path suffix names: in this repository or in an installed package
    (site-packages holds them by name: gunicorn/..., flask/..., werkzeug/...)."""
    for base in (ROOT, *map(Path, sys.path)):
        candidate = base / suffix
        if candidate.is_file():
            return candidate
    raise AssertionError(f"no file ends with {suffix}")


@pytest.mark.parametrize("label, suffix, function", [(label, *key) for label, _, key in STAGES])
def test_every_stage_names_a_function_that_exists(label, suffix, function):
    # A renamed function would leave its stage at 0% of the profile without a word.
    tree = ast.parse(_source_of(suffix).read_text())
    defined = {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    assert function in defined, f"stage {label!r}: {suffix} defines no {function}()"


def test_the_ceiling_answers_each_claim_as_the_service_does(trained_store, monkeypatch, tmp_path):
    from features.contract import EXAMPLE_CLAIM
    from service.background import stop_jobs

    key = "ceiling-test-key-0123456789abcdef"
    settings = {"TRACKING_URI": trained_store.uri, "AUDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'audit.db'}",
                "API_KEYS": json.dumps([key]), "FILE_JOBS_DIR": str(tmp_path / "file-jobs"),
                "MODEL_POLL_SECONDS": "0", "MONITOR_INTERVAL_MINUTES": "0", "AUDIT_RETENTION_DAYS": "0"}
    for name, value in settings.items():
        monkeypatch.setenv(f"MEDSPA_COVERAGE_{name}", value)
    monkeypatch.delitem(sys.modules, "service.wsgi", raising=False)  # built again, from this environment
    ceiling = runpy.run_module("benchmarks.ceiling_app")
    try:
        assert ceiling["app"].test_client().get("/healthz/ready").status_code == 200
        for explain in ("true", "false"):
            mine = ceiling["app"].test_client().post(f"/v1/predict?explain={explain}", json=EXAMPLE_CLAIM)
            theirs = ceiling["service_app"].test_client().post(
                f"/v1/predict?explain={explain}", json=EXAMPLE_CLAIM, headers={"Authorization": f"Bearer {key}"})
            assert mine.status_code == theirs.status_code == 200
            answer, served = mine.get_json(), theirs.get_json()
            served.pop("request_id")  # the one thing the service layer adds to the answer
            assert answer == served
    finally:
        stop_jobs(ceiling["service_app"], timeout=5)


def test_the_floor_reads_json_and_answers_its_fixed_object():
    client = app.test_client()
    answer = client.post("/v1/predict", json={"treatment": "botox"})
    assert answer.status_code == 200 and answer.get_json() == ANSWER
    assert client.post("/v1/predict", data="{not json", content_type="application/json").status_code == 400
    assert client.get("/healthz/ready").status_code == 200


@pytest.mark.parametrize("part", ["log", "audit"])
def test_request_parts_switches_a_part_off_only_for_its_variant(part):
    import logging

    import service.api
    from benchmarks.request_parts import switched_off

    logger, recorded = logging.getLogger("service"), service.api.record_answers
    level = logger.level
    with switched_off(part):
        assert (logger.level == logging.WARNING) == (part == "log")
        assert (service.api.record_answers is recorded) == (part != "audit")
    assert logger.level == level and service.api.record_answers is recorded
