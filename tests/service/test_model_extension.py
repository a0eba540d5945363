"""The served model as a Flask extension (service.model_extension): loaded and warmed up before it is
ready, 503 model_unavailable without one, a reload that fails keeps the old model and says so, the
loader named by the MODEL_LOADER setting, and the poller that reloads only when the source moved."""
from __future__ import annotations

import pytest

from features.diagnosis import load_descriptions
from service.model_extension import without_server_paths
from service.model_loading import registry_loader
from tests.service.service_testing import body_of, example_claim


@pytest.mark.parametrize("method, path, payload", [
    ("POST", "/v1/predict", example_claim()),
    ("POST", "/v1/predict", {"claims": [example_claim(), example_claim()]}),
    ("POST", "/invocations", {"dataframe_records": [example_claim()]}),
    ("GET", "/v1/model", None),
])
def test_without_a_model_answers_are_503_model_unavailable(client, auth, method, path, payload):
    response = client.open(path, method=method, json=payload, headers=auth)
    assert response.status_code == 503
    assert body_of(response)["code"] == "model_unavailable"
    assert response.headers["Retry-After"]


def test_while_not_ready_v1_model_shows_the_last_load_error(make_app, auth):
    def loader(config):
        raise RuntimeError("the model store at /srv/models cannot be read")

    response = make_app(MODEL_LOADER=loader).test_client().get("/v1/model", headers=auth)
    assert response.status_code == 503 and response.headers["Retry-After"]
    body = body_of(response)
    assert body["code"] == "model_unavailable" and "why the last load failed" in body["message"]
    [error] = body["errors"]
    assert error["field"] == "model" and "the last load failed at 20" in error["message"]
    assert "RuntimeError: the model store at <server path> cannot be read" in error["message"]
    assert "/srv" not in response.get_data(as_text=True)  # no server path to a key holder


@pytest.mark.parametrize("message, shown", [
    ("no MLflow tracking database at /tmp/x/var/mlflow.db: train a model first",
     "no MLflow tracking database at <server path>: train a model first"),
    ("cannot open sqlite:////srv/app/var/mlflow.db", "cannot open <server path>"),
    ("file:///srv/a/b missing; models:/medspa-coverage@champion has no version",
     "<server path> missing; models:/medspa-coverage@champion has no version"),
    ("ModelIntegrityError: 2 files changed", "ModelIntegrityError: 2 files changed"),
])
def test_server_paths_are_taken_out_of_what_v1_model_shows(message, shown):
    assert without_server_paths(message) == shown


def test_a_model_that_fails_its_warm_up_is_not_served(make_served_app):
    def loader(config):
        served = registry_loader(config)
        served.coverage_model.feature_pipeline = None  # the warm-up prediction cannot encode the claim
        return served

    app = make_served_app(MODEL_LOADER=loader)
    assert app.extensions["coverage_model"].ready is False
    assert app.test_client().get("/healthz/ready").status_code == 503


def test_a_failed_reload_keeps_the_old_model_and_says_so(make_served_app, auth):
    app = make_served_app()
    extension = app.extensions["coverage_model"]
    served = extension.model
    app.config["MODEL_ALIAS"] = "no-such-alias"  # the next load finds nothing
    assert extension.load() is False
    assert extension.ready and extension.model is served
    info = body_of(app.test_client().get("/v1/model", headers=auth))
    assert info["version"] == served.ref["version"]
    assert info["last_load_error"].startswith("ModelSourceError") and "no-such-alias" in info["last_load_error"]


def test_the_loader_can_be_named_by_dotted_path(make_served_app):
    app = make_served_app(MODEL_LOADER="service.model_loading:registry_loader")
    assert app.extensions["coverage_model"].ready


def test_the_model_receives_canonical_claims_and_the_loader_the_config(make_served_app, auth):
    seen = {"claims": []}

    def loader(config):
        seen["threshold"] = config["LIKELY_APPROVED_THRESHOLD"]
        served = registry_loader(config)
        answer = served.answer

        def recording_answer(claims):
            seen["claims"].append(claims)
            return answer(claims)

        served.answer = recording_answer
        return served

    client = make_served_app(MODEL_LOADER=loader, LIKELY_APPROVED_THRESHOLD=0.8).test_client()
    client.post("/v1/predict", json=example_claim(diagnosis_codes=["g43.709"]), headers=auth)
    assert seen["threshold"] == 0.8
    claim = seen["claims"][-1][0]  # claims[0] is the warm-up
    assert claim["diagnosis_codes"] == "G43709" and claim["place_of_service"] == "11"


def test_a_loader_that_raises_keeps_the_old_model_until_a_load_succeeds(make_served_app, auth):
    failures = []

    def loader(config):
        if failures:
            raise failures.pop()
        return registry_loader(config)

    app = make_served_app(MODEL_LOADER=loader)
    extension = app.extensions["coverage_model"]
    served = extension.model
    failures.append(ConnectionError("registry unreachable"))
    assert extension.load() is False
    assert extension.ready and extension.model is served
    info = extension.info()
    assert info["last_load_error"] == "ConnectionError: registry unreachable" and info["last_load_failed_at"]
    assert app.test_client().post("/v1/predict", json=example_claim(), headers=auth).status_code == 200
    assert extension.load() is True
    assert extension.model is not served and "last_load_error" not in extension.info()


def test_poll_once_loads_only_when_the_source_says_it_moved(make_served_app, model_store, tmp_path):
    store = model_store.copy_to(tmp_path / "store")
    loads = []

    def loader(config):
        loads.append(config["MODEL_ALIAS"])
        return registry_loader(config)

    extension = make_served_app(TRACKING_URI=store.uri, MODEL_LOADER=loader).extensions["coverage_model"]
    assert [extension.poll_once() for _ in range(3)] == [False, False, False]
    assert loads == ["champion"]  # the start-up load only
    store.move_champion(store.other_version)
    assert extension.model.source_changed() is True
    assert extension.poll_once() is True and loads == ["champion", "champion"]
    assert extension.model.info()["version"] == store.other_version
    assert extension.model.source_changed() is False and extension.poll_once() is False and len(loads) == 2


def test_while_nothing_is_loaded_the_poller_retries_the_load(make_app, model_store):
    app = make_app()  # an empty tracking store: nothing to load yet
    extension = app.extensions["coverage_model"]
    assert not extension.ready and extension.poll_once() is False
    app.config["TRACKING_URI"] = model_store.uri  # the store appears
    assert extension.poll_once() is True and extension.ready
    assert "last_load_error" not in extension.info()


def test_a_model_that_cannot_tell_whether_its_source_moved_is_not_reloaded(make_served_app):
    loads = []

    class FixedSource:
        """A served model without `source_changed` (optional in the protocol)."""

        def __init__(self, served):
            self.answer, self.score, self.info = served.answer, served.score, served.info

    def loader(config):
        loads.append(config["MODEL_ALIAS"])
        return FixedSource(registry_loader(config))

    extension = make_served_app(MODEL_LOADER=loader).extensions["coverage_model"]
    assert extension.ready and extension.poll_once() is False and len(loads) == 1


def test_the_warm_up_reads_the_diagnosis_descriptions_answers_quote(make_served_app):
    """A worker's first answer naming codes in words must not pay for reading them (about 0.4 s)."""
    load_descriptions.cache_clear()
    app = make_served_app()
    assert app.extensions["coverage_model"].ready
    assert load_descriptions.cache_info().currsize == 1
    assert getattr(load_descriptions(), "_order", None) is not None  # the order describe() bisects, built too
