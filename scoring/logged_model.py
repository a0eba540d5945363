"""The MLflow form of a CoverageModel, for MLflow's own consumers (`mlflow models serve`,
`spark_udf`, `--engine spark` on a bundle): the pyfunc wrapper with the saved model as its
artifact, the contract's signature, an input example, our code and the pinned requirements
(scoring.model_environment). Logging it into a run is training's job (training.registry)."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from features.contract import EXAMPLE_CLAIM, VISIT_FIELDS
from scoring.artifacts import ARTIFACT_KEY
from scoring.coverage_model import SCORE_COLUMNS
from scoring.model_environment import serving_requirements, stage_code
from scoring.pyfunc_model import CoverageModelPyfunc


# The start of the warning mlflow.pyfunc logs for every python_model given as an object.
CLOUDPICKLE_WARNING = "Passing a Python object as `python_model` causes it to be serialized using CloudPickle"


class _CloudPickleWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(CLOUDPICKLE_WARNING)


@contextmanager
def without_cloudpickle_warning():
    """Drop MLflow's CloudPickle warning while our wrapper is saved, and only that warning.

    It warns that unpickling may run code. Ours holds no state (CoverageModelPyfunc's __init__
    stores nothing; the fitted model is the skops artifact, loaded with its type check), so its
    pickle names only the class, which travels in the model's code/ folder: loading runs nothing
    the code folder does not already hold. MLflow's way out (models from code: a script path
    instead of the object) would make every loader execute that script instead, which is no safer."""
    logger, quiet = logging.getLogger("mlflow.pyfunc"), _CloudPickleWarning()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def input_example() -> pd.DataFrame:
    """The contract's example claim in a file's form (codes `;`-joined): the logged model's input example."""
    return pd.DataFrame([{**EXAMPLE_CLAIM, "diagnosis_codes": ";".join(EXAMPLE_CLAIM["diagnosis_codes"])}])


def model_signature():
    """Contract fields in (only the request's required ones required), scores out."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, DataType, Schema

    kinds = {"string": DataType.string, "date": DataType.string, "code": DataType.string,
             "codes": DataType.string, "enum": DataType.string, "bool": DataType.boolean,
             "int": DataType.long, "number": DataType.double}
    inputs = Schema([ColSpec(kinds[kind], name, required=required_in_request)
                     for name, (kind, _, required_in_request, _) in VISIT_FIELDS.items()])
    output_kinds = {"approval_probability": DataType.double, "model_probability": DataType.double,
                    "decision": DataType.string, "excluded": DataType.boolean, "rule_ids": DataType.string,
                    "top_denial_reason": DataType.string}
    outputs = Schema([ColSpec(output_kinds[name], name) for name in SCORE_COLUMNS])
    return ModelSignature(inputs=inputs, outputs=outputs)


def pyfunc_arguments(saved_model: Path, scratch: Path) -> dict:
    """What `mlflow.pyfunc.log_model` and `save_model` are given for a saved CoverageModel folder:
    the wrapper, the folder as its artifact, the signature and example, our code (`code_paths`,
    staged under `scratch`) and the pinned requirements (scoring.model_environment)."""
    return {
        "python_model": CoverageModelPyfunc(),
        "artifacts": {ARTIFACT_KEY: str(saved_model)},
        "signature": model_signature(),
        "input_example": input_example(),
        "code_paths": stage_code(scratch / "code"),
        "pip_requirements": serving_requirements(),
    }
