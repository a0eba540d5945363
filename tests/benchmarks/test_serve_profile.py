"""benchmarks.serve_profile and request_parts: the stages name functions that exist, the floor app answers as
the floor should, and a part is switched off for its own variant only."""
from __future__ import annotations

import ast
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
