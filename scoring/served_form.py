"""The served form of a model: what scoring reads of model.skops, as plain arrays and JSON.

Scoring never calls a scikit-learn estimator: the trees walk as flat node arrays
(scoring.tree_scoring.CompiledForest), the denial model is one affine map (LinearSoftmax), the
calibration one `np.interp`, and the encoders apply their fitted state with their cores
(features.encoding). Loading model.skops to get those costs skops' and scikit-learn's imports,
most of a `predict` run's start-up. So `CoverageModel.save` also writes them here, beside
model.skops, and a served model loads from them with `np.load(allow_pickle=False)` and JSON,
importing neither.

    served.json   the format, the sha256 of the model.skops it was taken from, the sha256 of
                  served.npz, each encoder's core and state (arrays named into served.npz)
    served.npz    the arrays, uncompressed (no object arrays: no pickle can be in it)

Why at save rather than as a cache written after a first skops load: saved beside model.skops,
the two are logged, registered, exported and copied together, so the manifest that vouches for
model.skops (the version's `model_manifest` tag, a bundle's SHA256SUMS) vouches for the served
form too, and a model is fast from its first load, in every worker; a cache would sit outside
what the manifest covers and need a trust of its own.

Never stale nor mixed: `read_served_form` takes the sha256 of the model.skops beside it (the
digest `/v1/model` shows) and gives None, so the caller loads model.skops itself, unless
served.json names that digest and served.npz has the digest served.json names. Nothing in
the files chooses code: each encoder core is looked up by name in features.pipeline.ENCODERS.
The numbers are model.skops's to the bit (tests/scoring/test_served_form.py compares both ways
of loading on the same claims).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from common.digests import file_sha256
from features.pipeline import ENCODERS
from scoring.tree_scoring import CompiledForest, LinearSoftmax

SERVED_FORM_FILE = "served.json"
SERVED_ARRAYS_FILE = "served.npz"
SERVED_FORM_VERSION = 1
# scikit-learn's own bookkeeping of what fit saw: no encoder core reads it
SKLEARN_FIT_RECORDS = ("n_features_in_", "feature_names_in_")
CORES = {core.__name__: core for _, core in ENCODERS}


class ServedFormError(ValueError):
    """A model part the served form cannot hold (the model is then served from model.skops alone)."""


@dataclass(frozen=True)
class IsotonicTable:
    """A fitted IsotonicRegression's thresholds: all that scoring.tree_scoring.isotonic_map reads."""

    X_thresholds_: np.ndarray  # noqa: N815  (sklearn's attribute names, so isotonic_map reads either)
    y_thresholds_: np.ndarray  # noqa: N815


class ServedPipeline:
    """The fitted feature pipeline as its encoder cores: what features.pipeline.encode_claims and
    one_hot_groups read of a fitted ColumnTransformer (`transformers_`, `get_feature_names_out`)."""

    def __init__(self, transformers: list[tuple]):
        self.transformers_ = transformers

    def get_feature_names_out(self) -> np.ndarray:
        return np.asarray([f"{step}__{name}" for step, core, _ in self.transformers_ for name in core._output_names()],
                          dtype=object)


@dataclass(frozen=True)
class ServedParts:
    """What scoring reads of a model, read from its served form."""

    feature_pipeline: ServedPipeline
    calibrator: IsotonicTable
    forest: CompiledForest
    denial: LinearSoftmax | None


# -- writing ----------------------------------------------------------------------------------
class _Arrays:
    """The arrays of a served form, each under a name served.json refers to."""

    def __init__(self):
        self.named: dict[str, np.ndarray] = {}

    def add(self, name: str, array: np.ndarray) -> dict:
        if array.dtype.hasobject:
            raise ServedFormError(f"{name}: an object array cannot be stored without pickle")
        self.named[name] = array
        return {"array": name}


def _plain_value(value, name: str, arrays: _Arrays):
    """`value` as JSON, the types kept (a tuple stays a tuple), arrays put into `arrays`."""
    if isinstance(value, np.ndarray):
        return arrays.add(name, value)
    if isinstance(value, (tuple, list)):
        kind = "tuple" if isinstance(value, tuple) else "list"
        return {kind: [_plain_value(item, f"{name}.{at}", arrays) for at, item in enumerate(value)]}
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise ServedFormError(f"{name}: a mapping with keys other than text")
        return {"dict": [[key, _plain_value(item, f"{name}.{key}", arrays)] for key, item in value.items()]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"value": value}
    if isinstance(value, (np.bool_, np.integer, np.floating)):
        return {"value": value.item()}
    raise ServedFormError(f"{name}: {type(value).__name__} is not stored in a served form")


def _core_of(encoder) -> type:
    core = next((core for _, core in ENCODERS if isinstance(encoder, core)), None)
    if core is None:
        raise ServedFormError(f"{type(encoder).__name__} has no encoder core in features.pipeline.ENCODERS")
    return core


def _encoder_state(step: str, encoder, arrays: _Arrays) -> dict:
    state = {name: value for name, value in vars(encoder).items()
             if name not in SKLEARN_FIT_RECORDS and not name.startswith("_")}
    return {name: _plain_value(value, f"{step}.{name}", arrays) for name, value in state.items()}


def write_served_form(directory: Path, model_sha256: str, feature_pipeline, calibrator, forest: CompiledForest,
                      denial: LinearSoftmax | None) -> Path:
    """Write served.json and served.npz into `directory`, tied to the model.skops of `model_sha256`.
    Raises ServedFormError for a part it cannot hold, before writing anything."""
    arrays = _Arrays()
    steps = []
    for step, encoder, columns in feature_pipeline.transformers_:
        if isinstance(encoder, str):  # the "drop" remainder
            continue
        steps.append({"step": step, "core": _core_of(encoder).__name__,
                      "columns": _plain_value(columns, f"{step}.columns", arrays),
                      "state": _encoder_state(step, encoder, arrays)})
    forest_fields = {}
    for part in fields(CompiledForest):
        value = getattr(forest, part.name)
        forest_fields[part.name] = (arrays.add(f"forest.{part.name}", value) if isinstance(value, np.ndarray)
                                    else {"value": value})
    calibration = {name: arrays.add(f"calibrator.{name}", np.asarray(getattr(calibrator, name)))
                   for name in ("X_thresholds_", "y_thresholds_")}
    linear = None if denial is None else {part.name: arrays.add(f"denial.{part.name}", getattr(denial, part.name))
                                          for part in fields(LinearSoftmax)}
    array_file = directory / SERVED_ARRAYS_FILE
    with open(array_file, "wb") as handle:
        np.savez(handle, **arrays.named)
    form = {"format": SERVED_FORM_VERSION, "model_sha256": model_sha256, "arrays_sha256": file_sha256(array_file),
            "feature_pipeline": steps, "forest": forest_fields, "calibrator": calibration, "denial": linear}
    path = directory / SERVED_FORM_FILE
    path.write_text(json.dumps(form, indent=1))
    return path


# -- reading ----------------------------------------------------------------------------------
def _value(plain, arrays):
    (kind, content), = plain.items()
    if kind == "array":
        return arrays[content]
    if kind == "value":
        return content
    if kind in ("tuple", "list"):
        items = [_value(item, arrays) for item in content]
        return tuple(items) if kind == "tuple" else items
    if kind == "dict":
        return {key: _value(item, arrays) for key, item in content}
    raise ValueError(f"unknown kind {kind!r}")


def _core(step: dict, arrays) -> tuple:
    core = CORES[step["core"]].__new__(CORES[step["core"]])  # the fitted state is set, not fitted again
    core.__dict__.update({name: _value(plain, arrays) for name, plain in step["state"].items()})
    return step["step"], core, _value(step["columns"], arrays)


def read_served_form(directory: Path, model_sha256: str) -> ServedParts | None:
    """The served form in `directory`, or None when there is none, or it was not taken from the
    model.skops of `model_sha256`, or its arrays are not the ones it names, or it cannot be read:
    the caller then loads model.skops, which is what the served form stands for."""
    form_file, array_file = directory / SERVED_FORM_FILE, directory / SERVED_ARRAYS_FILE
    try:
        form = json.loads(form_file.read_text())
        if (form.get("format") != SERVED_FORM_VERSION or form.get("model_sha256") != model_sha256
                or form.get("arrays_sha256") != file_sha256(array_file)):
            return None
        with np.load(array_file, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        pipeline = ServedPipeline([_core(step, arrays) for step in form["feature_pipeline"]])
        forest = CompiledForest(**{name: _value(plain, arrays) for name, plain in form["forest"].items()})
        calibrator = IsotonicTable(**{name: _value(plain, arrays) for name, plain in form["calibrator"].items()})
        denial = (None if form["denial"] is None
                  else LinearSoftmax(**{name: _value(plain, arrays) for name, plain in form["denial"].items()}))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return ServedParts(pipeline, calibrator, forest, denial)
