"""The served model as a Flask extension: `app.extensions["coverage_model"]`.

Views use `.ready`, `.answer(claims)`, `.score(claims)` and `.info()`. Where the model comes from
is a *loader*, `loader(config) -> served model`, named by the `MODEL_LOADER` setting
("module:function", or a callable in tests); the default, service.model_loading's
`configured_loader`, reads the MLflow registry alias or the exported bundle (`MODEL_SOURCE`).
The served model it returns must have:

    answer(claims: list[dict]) -> list[dict]
        canonical claims (service.claims.normalise_request_claim) in, one answer per claim out,
        in order, shaped like service.schemas.ClaimAnswer minus `request_id` and `warnings`,
        which the view adds. Thresholds and the rest of the settings are in the config the
        loader received.
    score(claims: list[dict]) -> list[dict]
        the batch-scoring columns per claim (service.schemas.ScoredClaim), for /invocations.
    score_frame(claims: DataFrame, threads=None) -> DataFrame
        the same columns for a frame of clean claims, for scored files (service.file_jobs).
    info() -> dict
        what GET /v1/model shows: name, version, alias, rules_version, training date, metrics...

and may have:

    source_changed() -> bool
        whether its source now holds another model (the registry alias or the bundle link
        moved); the poller asks every `MODEL_POLL_SECONDS` and loads when it says so.
    identity: dict
        name, version, run_id, manifest_sha256 (scoring.model_identity), what each audit row
        records of the model that answered it; else they are read from `info()`.

The extension loads once in `init_app`, warms the model up with the example claim (and reads
the ICD-10-CM descriptions answers quote), and only then reports ready. `load()` can be called again (the poller does when the source moved, and
retries while nothing is loaded): the new model is swapped in only after its warm-up passes, by
one reference assignment; if it fails the old one keeps serving and `info()` says so. Requests
in flight keep the model object they started with. A model whose version number the audit store
already attributes to another model (another run or manifest: a version of another tracking
store) is refused the same way: its answers would be counted as that other model's.
"""
from __future__ import annotations

import importlib
import logging
import re
import threading
from typing import Callable, Protocol

from flask import Flask

from features.contract import EXAMPLE_CLAIM
from features.diagnosis import describe_code
from service.background import start_job
from service.claims import normalise_request_claim
from service.errors import APIError
from scoring.artifacts import now_utc
from scoring.model_identity import AUDIT_IDENTITY_KEYS, Identity, attribution_refusal

log = logging.getLogger(__name__)
LOAD_ERROR_CHARS = 500  # of a load error kept for /v1/model and the log
# A server path in an error message (a bare one, or inside a URI such as sqlite:////srv/var/mlflow.db):
# the log keeps it for operators; /v1/model, which any key holder reads, shows this in its place.
SERVER_PATH = re.compile(r"[A-Za-z][\w+.-]*://[^\s'\",;]*|(?<![\w:/.])/[^\s'\",;:]+")
PATH_WORDS = "<server path>"


class ServedModel(Protocol):
    def answer(self, claims: list[dict], explain: bool = True) -> list[dict]: ...

    def score(self, claims: list[dict]) -> list[dict]: ...

    def score_frame(self, claims, threads: int | None = None): ...

    def info(self) -> dict: ...


Loader = Callable[[dict], ServedModel]


class ModelUnavailable(APIError):
    def __init__(self, message: str = "no model is loaded yet; retry later (GET /healthz/ready says when)"):
        super().__init__(503, "model_unavailable", message, headers={"Retry-After": "5"})


def resolve_loader(loader) -> Loader:
    if callable(loader):
        return loader
    module_name, _, function_name = str(loader).partition(":")
    return getattr(importlib.import_module(module_name), function_name)


class CoverageModelExtension:
    def __init__(self, app: Flask | None = None):
        self._model: ServedModel | None = None
        self._loader: Loader | None = None
        self._config: dict = {}
        self._load_lock = threading.Lock()
        self._metrics = None
        self.last_load_error: str | None = None
        self.last_load_failed_at: str | None = None
        self.last_poll_error: str | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        self._config = app.config
        self._metrics = app.extensions.get("metrics")  # service.metrics, when the app counts (create_app's does)
        self._audit_store = app.extensions.get("audit_store")  # whose rows a new model must not be mistaken in
        self._loader = resolve_loader(app.config["MODEL_LOADER"])
        app.extensions["coverage_model"] = self
        self.load()
        if app.config["MODEL_POLL_SECONDS"] > 0:
            start_job(app, "model-poller", app.config["MODEL_POLL_SECONDS"], self.poll_once)

    @property
    def ready(self) -> bool:
        return self._model is not None

    @property
    def model(self) -> ServedModel | None:
        """The model serving now (one reference: keep it for the whole of a piece of work)."""
        return self._model

    def load(self) -> bool:
        """Load a model with the loader, warm it up, swap it in; False (old model kept) on failure."""
        with self._load_lock:
            try:
                model = self._loader(self._config)
                _warm_up(model)
                self._refuse_another_model(model)
            except Exception as exc:  # a model that cannot load must never take the service down
                # about the model and its store, never a request (the warm-up claim is the contract's example)
                self.last_load_error = f"{type(exc).__name__}: {exc}"[:LOAD_ERROR_CHARS]
                self.last_load_failed_at = now_utc()
                log.warning("model load failed; the old model keeps serving" if self._model is not None
                            else "model load failed; nothing to serve yet", extra={"detail": self.last_load_error})
                if self._metrics is not None:
                    self._metrics.model_load_failed()
                return False
            previous = self._model
            self._model = model  # the swap: one reference assignment, atomic for the threads reading it
            if self._metrics is not None:
                self._metrics.model_loaded(None if previous is None else previous.info(), model.info())
            self.last_load_error = self.last_load_failed_at = None
            log.info("model loaded", extra={"model_version": str(model.info().get("version"))})
            return True

    def _refuse_another_model(self, model: ServedModel) -> None:
        """ModelMistaken when the audit store attributes this model's version to another model."""
        if self._audit_store is None:
            return
        identity = served_identity(model)
        name, version = identity.get("name"), identity.get("version")
        served = Identity(identity.get("run_id"), identity.get("manifest_sha256"))
        if name is None or version is None or not served.recorded:
            return
        other = self._audit_store.other_identity(name, version, served)
        refusal = attribution_refusal(name, version, [other] if other else [], served, "now loading")
        if refusal:
            raise ModelMistaken(f"{refusal}; serve it with another audit store, or register it anew")

    def poll_once(self) -> bool:
        """Load when nothing is loaded or the source moved; True when a new model was swapped in."""
        model = self._model
        if model is not None:
            changed = getattr(model, "source_changed", None)
            if changed is None:
                return False
            try:
                moved = changed()
            except Exception as exc:  # noqa: BLE001  (a registry that is down must not stop serving)
                self.last_poll_error = f"{type(exc).__name__}: {exc}"
                log.warning("model source check failed; the loaded model keeps serving",
                            extra={"detail": self.last_poll_error})
                return False
            self.last_poll_error = None
            if not moved:
                # the source points at what is served again: an earlier failed load is history
                self.last_load_error = self.last_load_failed_at = None
                return False
            log.info("model source moved; loading", extra={"model_version": str(model.info().get("version"))})
        return self.load()

    def answer(self, claims: list[dict], explain: bool = True) -> list[dict]:
        return self.answered(claims, explain)[0]

    def answered(self, claims: list[dict], explain: bool = True) -> tuple[list[dict], dict]:
        """(answers, the identity of the model that gave them), for the audit rows."""
        model = self._model  # one reference per call: a swap mid-request does not mix models
        if model is None:
            raise ModelUnavailable()
        answers = model.answer(claims, explain=explain)
        if len(answers) != len(claims):
            raise RuntimeError("the model returned a different number of answers than claims")
        return answers, served_identity(model)

    def served(self) -> ServedModel:
        """The model serving now, for work that must use one model throughout (a scored file)."""
        model = self._model
        if model is None:
            raise ModelUnavailable()
        return model

    def score(self, claims: list[dict]) -> tuple[list[dict], dict]:
        """(batch-scoring rows, the served model's info) from one model reference."""
        model = self._model
        if model is None:
            raise ModelUnavailable()
        rows = model.score(claims)
        if len(rows) != len(claims):
            raise RuntimeError("the model returned a different number of rows than claims")
        return rows, {**model.info(), **served_identity(model)}

    def info(self) -> dict:
        model = self._model
        info = {"ready": model is not None, **(model.info() if model is not None else {})}
        if self.last_load_error:
            info["last_load_error"] = without_server_paths(self.last_load_error)
            info["last_load_failed_at"] = self.last_load_failed_at
        if self.last_poll_error:
            info["last_poll_error"] = without_server_paths(self.last_poll_error)
        return info


class ModelMistaken(RuntimeError):
    """The audit store already attributes this model's version number to another model."""


def served_identity(model: ServedModel) -> dict:
    """name, version, run_id and manifest_sha256 of a served model (see the module docstring)."""
    identity = getattr(model, "identity", None)
    source = identity if isinstance(identity, dict) else model.info()
    return {key: source.get(key) for key in AUDIT_IDENTITY_KEYS}


def without_server_paths(message: str) -> str:
    """The message with every server path (and URI naming one) replaced by PATH_WORDS."""
    return SERVER_PATH.sub(PATH_WORDS, message)


def _warm_up(model: ServedModel) -> None:
    """Answer the example claim, and read the ICD-10-CM descriptions (and the order they are looked
    up by): an answer that names codes in words needs them, and read on a worker's first such
    answer they cost it about 0.4 s, once."""
    describe_code(EXAMPLE_CLAIM["diagnosis_codes"][0])
    claims = [normalise_request_claim(EXAMPLE_CLAIM)]
    if len(model.answer(claims)) != 1 or len(model.score(claims)) != 1:
        raise RuntimeError("warm-up: the model did not answer the example claim")
