"""The served model as a Flask extension: `app.extensions["coverage_model"]`.

Views use three things: `.ready`, `.answer(claims)` and `.info()`. Where the model comes from is
a *loader*, `loader(config) -> served model`, named by the `MODEL_LOADER` setting
("module:function", or a callable in tests). The served model it returns must have:

    answer(claims: list[dict]) -> list[dict]
        canonical claims (service.claims.normalise_request_claim) in, one answer per claim out,
        in order, shaped like service.schemas.ClaimAnswer minus `request_id` and `warnings`,
        which the view adds. Thresholds and the rest of the settings are in the config the
        loader received.
    info() -> dict
        what GET /v1/model shows: name, version, alias, rules_version, training date, metrics...

The extension loads once in `init_app`, warms the model up with the example claim, and only
then reports ready. `load()` can be called again (by a poller when the registry alias moves):
the new model is swapped in only after its warm-up passes; if it fails the old one keeps serving
and `info()` says so. Requests in flight keep the model object they started with.
"""
from __future__ import annotations

import importlib
import logging
import threading
from datetime import datetime, timezone
from typing import Callable, Protocol

from flask import Flask

from service.errors import APIError

log = logging.getLogger(__name__)


class ServedModel(Protocol):
    def answer(self, claims: list[dict]) -> list[dict]: ...

    def info(self) -> dict: ...


Loader = Callable[[dict], ServedModel]


class ModelLoaderMissing(RuntimeError):
    pass


class ModelUnavailable(APIError):
    def __init__(self, message: str = "no model is loaded yet; retry later (GET /healthz/ready says when)"):
        super().__init__(503, "model_unavailable", message, headers={"Retry-After": "5"})


def no_model_loader(config) -> ServedModel:
    """The default loader until model loading lands: there is nothing to serve."""
    raise ModelLoaderMissing("no model loader configured yet")


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
        self.last_load_error: str | None = None
        self.last_load_failed_at: str | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        self._config = app.config
        self._loader = resolve_loader(app.config["MODEL_LOADER"])
        app.extensions["coverage_model"] = self
        self.load()

    @property
    def ready(self) -> bool:
        return self._model is not None

    def load(self) -> bool:
        """Load a model with the loader, warm it up, swap it in; False (old model kept) on failure."""
        with self._load_lock:
            try:
                model = self._loader(self._config)
                _warm_up(model)
            except Exception as exc:  # a model that cannot load must never take the service down
                self.last_load_error = f"{type(exc).__name__}: {exc}"
                self.last_load_failed_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
                log.warning("model load failed", extra={"detail": self.last_load_error})
                return False
            self._model = model
            self.last_load_error = self.last_load_failed_at = None
            log.info("model loaded", extra={"model_version": str(model.info().get("version"))})
            return True

    def answer(self, claims: list[dict]) -> list[dict]:
        model = self._model  # one reference per call: a swap mid-request does not mix models
        if model is None:
            raise ModelUnavailable()
        answers = model.answer(claims)
        if len(answers) != len(claims):
            raise RuntimeError("the model returned a different number of answers than claims")
        return answers

    def info(self) -> dict:
        model = self._model
        info = {"ready": model is not None, **(model.info() if model is not None else {})}
        if self.last_load_error:
            info["last_load_error"] = self.last_load_error
            info["last_load_failed_at"] = self.last_load_failed_at
        return info


def _warm_up(model: ServedModel) -> None:
    from service.claims import normalise_request_claim
    from service.schemas import EXAMPLE_CLAIM

    if len(model.answer([normalise_request_claim(EXAMPLE_CLAIM)])) != 1:
        raise RuntimeError("warm-up: the model did not answer the example claim")
