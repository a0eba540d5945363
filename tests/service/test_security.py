"""The points of SECURITY.md that no other test proves: no request can choose a model file, production
never runs in debug mode, and the type allow-list of model files (the second line behind the sha256
checks). The production config's limits and access-log format: test_gunicorn_conf.py."""
from __future__ import annotations

import builtins
import os
import runpy
import shutil

import numpy as np
import pytest
import skops.io
from sklearn.preprocessing import FunctionTransformer

from service.background import stop_jobs
from service.model_loading import configured_loader
from tests.service.service_testing import body_of, example_claim
from scoring.coverage_model import MODEL_FILE, CoverageModel
from training.export import MODEL_DIR, write_manifest

CHOOSE_A_MODEL = [
    ("query", "/v1/predict?model=/etc/passwd&model_uri=models:/medspa-coverage/2&MODEL_BUNDLE_PATH=/tmp", {}, None),
    ("headers", "/v1/predict", {"X-Model": "2", "X-Model-Path": "/etc/passwd", "X-Model-Uri": "models:/x/2"}, None),
    ("protocol params", "/invocations", {},
     {"dataframe_records": [example_claim()], "params": {"model_uri": "models:/medspa-coverage/2",
                                                         "model_path": "../../models/evil", "MODEL_LOADER": "os:system"}}),
    ("a model field in the claim", "/v1/predict", {}, example_claim(model="models:/medspa-coverage/2")),
    ("a path after the route", "/v1/model/2", {}, None),
    ("a traversal", "/v1/predict/../../models/champion/model/model.skops", {}, None),
]


def test_no_route_takes_a_path_parameter_but_a_file_jobs_id(app):
    """No URL part is a variable (and no static-file route exists): no request names a file. The one
    exception is a scored file's job id (service/files.py), which names a folder only once it has
    the shape the service draws (32 hex digits), and never a path a request chose."""
    rules = list(app.url_map.iter_rules())
    variable = {rule.rule: set(rule.arguments) for rule in rules if rule.arguments}
    assert rules and variable and all(rule.startswith("/v1/files/<job_id>") and names == {"job_id"}
                                      for rule, names in variable.items()), variable


@pytest.mark.parametrize("job_id", ["..", "../../etc", "%2e%2e", "A" * 32, "0" * 31, "0" * 33, "0" * 31 + "g"])
def test_a_job_id_that_is_not_one_names_no_folder(make_app, tmp_path, auth, job_id):
    (tmp_path / "outside").mkdir()
    client = make_app(FILE_JOBS_DIR=str(tmp_path / "jobs" / "inner")).test_client()
    for suffix in ("", "/scored", "/rejected"):
        assert client.get(f"/v1/files/{job_id}{suffix}", headers=auth).status_code == 404
    assert client.delete(f"/v1/files/{job_id}", headers=auth).status_code in (404, 405)
    assert (tmp_path / "outside").exists()


@pytest.mark.parametrize("label, path, headers, body", CHOOSE_A_MODEL, ids=[case[0] for case in CHOOSE_A_MODEL])
def test_a_request_cannot_choose_the_model(make_served_app, model_store, auth, label, path, headers, body):
    loads = []

    def loader(config):
        loads.append(dict(config))
        return configured_loader(config)

    client = make_served_app(MODEL_LOADER=loader).test_client()
    response = client.post(path, json=body or example_claim(), headers={**auth, **headers})
    assert response.status_code in (200, 404, 405, 422), response.status_code
    if response.status_code == 200:
        answer = body_of(response)
        served = answer["predictions"][0] if "predictions" in answer else answer
        assert "model" not in served or served["model"]["version"] == model_store.champion_version
    info = body_of(client.get("/v1/model", headers=auth))
    assert info["version"] == model_store.champion_version and info["model_uri"].endswith(f"/{info['version']}")
    assert len(loads) == 1  # the start-up load from the configured source, and no other


@pytest.mark.parametrize("path", ["/v1//model", "//v1/model", "/v1//treatments", "//"])
def test_no_answer_redirects_to_the_host_a_request_names(client, auth, path):
    response = client.get(path, headers={**auth, "Host": "evil.example"})
    assert not 300 <= response.status_code < 400 or response.headers["Location"].startswith("/")
    assert "evil.example" not in response.headers.get("Location", "") + response.get_data(as_text=True)


def test_the_production_entry_point_never_runs_in_debug_mode(monkeypatch, tmp_path):
    monkeypatch.setenv("FLASK_DEBUG", "1")
    monkeypatch.setenv("MEDSPA_COVERAGE_DEBUG", "true")
    monkeypatch.setenv("MEDSPA_COVERAGE_AUDIT_DATABASE_URL", f"sqlite:///{tmp_path / 'audit.db'}")
    monkeypatch.setenv("MEDSPA_COVERAGE_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")  # no model: fails fast
    monkeypatch.setenv("MEDSPA_COVERAGE_MODEL_POLL_SECONDS", "0")
    from service.app import create_app

    assert create_app().debug  # what the environment alone would do
    app = runpy.run_module("service.wsgi")["app"]  # what gunicorn serves
    try:
        assert app.debug is False
    finally:
        stop_jobs(app, timeout=5)


@pytest.fixture
def bundle_copy(model_store, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(model_store.models_dir / "champion", bundle)
    return bundle


def _swap_in(model_file, **replacements) -> None:
    estimators = skops.io.load(model_file, trusted=skops.io.get_untrusted_types(file=model_file))
    skops.io.dump({**estimators, **replacements}, model_file)


@pytest.mark.parametrize("func, type_name", [(builtins.exec, "builtins.exec"), (builtins.getattr, "builtins.getattr"),
                                             (os.system, f"{os.name}.system"),
                                             (np.load, "numpy.load")])  # a trusted package's function
def test_a_model_file_naming_an_untrusted_type_is_refused(bundle_copy, func, type_name):
    model_dir = bundle_copy / MODEL_DIR
    assert CoverageModel.load(model_dir).classifier is not None  # the genuine file loads
    _swap_in(model_dir / MODEL_FILE, denial_model=FunctionTransformer(func=func))
    with pytest.raises(ValueError, match=f"outside the trusted packages' classes: \\['{type_name}'\\]"):
        CoverageModel.load(model_dir)


def test_a_re_signed_bundle_with_an_untrusted_type_is_not_served(make_app, bundle_copy, auth):
    """Whoever can rewrite SHA256SUMS too passes the sha256 check; the type allow-list still refuses."""
    _swap_in(bundle_copy / MODEL_DIR / MODEL_FILE, feature_pipeline=FunctionTransformer(func=builtins.exec))
    write_manifest(bundle_copy)
    app = make_app(MODEL_SOURCE="bundle", MODEL_BUNDLE_PATH=str(bundle_copy))
    extension = app.extensions["coverage_model"]
    assert not extension.ready and "builtins.exec" in extension.info()["last_load_error"]
    assert app.test_client().post("/v1/predict", json=example_claim(), headers=auth).status_code == 503
