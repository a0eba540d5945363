"""The MLflow pyfunc wrapper (scoring.pyfunc_model), for MLflow's own consumers: it answers like
the exported bundle, scores in the score columns, names a bad row's field without echoing its value,
and importing it does nothing."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from mlflow.pyfunc import PythonModelContext

from claims_io.requests import InvalidClaimsError, clean_request_frame
from scoring.artifacts import ARTIFACT_KEY, MODEL_DIR, load_model
from scoring.coverage_model import SCORE_COLUMNS
from scoring.mlflow_store import CHAMPION, PROJECT_ROOT, alias_uri, tracking
from scoring.pyfunc_model import CoverageModelPyfunc
from scoring.logged_model import input_example

pytestmark = pytest.mark.slow  # the session's trained store


def test_the_registry_pyfunc_answers_a_made_up_claim_like_the_bundle(trained_store):
    import mlflow

    with tracking(trained_store.uri):
        pyfunc = mlflow.pyfunc.load_model(alias_uri(CHAMPION))
    assert pyfunc.metadata.signature is not None
    answer = pyfunc.predict(input_example())
    bundle_model = load_model(trained_store.models_dir / "champion").model

    clean, rejected = clean_request_frame(input_example())
    assert rejected.empty
    expected = bundle_model.score_frame(clean)
    assert answer["approval_probability"].iloc[0] == pytest.approx(expected["approval_probability"].iloc[0])
    assert answer["decision"].iloc[0] == expected["decision"].iloc[0]

    with pytest.raises(InvalidClaimsError, match="row 2, plan_type") as raised:
        pyfunc.predict(pd.concat([input_example(), input_example().assign(plan_type="platinum")], ignore_index=True))
    assert "platinum" not in str(raised.value)  # request values are patient data: never echoed


@pytest.fixture(scope="module")
def wrapper(trained_store):
    """The wrapper as MLflow sets it up: load_context with the saved model as its artifact."""
    context = PythonModelContext(artifacts={ARTIFACT_KEY: str(trained_store.models_dir / "champion" / MODEL_DIR)},
                                 model_config={})
    wrapper = CoverageModelPyfunc()
    wrapper.load_context(context)
    return wrapper


def test_the_wrapper_answers_in_the_score_columns_with_a_fresh_index(wrapper):
    requests = pd.concat([input_example()] * 3, ignore_index=True).set_axis([7, 8, 9])
    answer = wrapper.predict(None, requests)
    assert list(answer.columns) == list(SCORE_COLUMNS) and list(answer.index) == [0, 1, 2]
    pd.testing.assert_frame_equal(wrapper.predict(None, requests.to_dict(orient="records")), answer)


def test_the_wrapper_counts_every_problem_and_names_the_first_by_row_and_field(wrapper):
    requests = pd.concat([input_example(), input_example().assign(patient_age=-3),
                          input_example().assign(plan_type="platinum")], ignore_index=True)
    first_problem = r"^2 problem\(s\) in the input; first: row 2, patient_age: "
    with pytest.raises(InvalidClaimsError, match=first_problem) as raised:
        wrapper.predict(None, requests)
    assert "-3" not in str(raised.value) and "platinum" not in str(raised.value)


IMPORT_CHECK = """
import json, logging, os
import mlflow
import mlflow.models.model as model_code
environment, handlers, tracking_uri = dict(os.environ), list(logging.getLogger().handlers), mlflow.get_tracking_uri()
import scoring.pyfunc_model
print(json.dumps({
    "model_from_code": repr(model_code.__mlflow_model__),
    "environment_changes": sorted(set(os.environ.items()) ^ set(environment.items())),
    "new_log_handlers": len(logging.getLogger().handlers) - len(handlers),
    "tracking_uri_changed": mlflow.get_tracking_uri() != tracking_uri,
}))
"""


def test_importing_the_wrapper_does_nothing(tmp_path):
    environment = {name: value for name, value in os.environ.items() if not name.startswith("MLFLOW_")}
    environment["PYTHONPATH"] = str(PROJECT_ROOT)
    done = subprocess.run([sys.executable, "-c", IMPORT_CHECK], cwd=tmp_path, env=environment,
                          capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "model_from_code": "None", "environment_changes": [], "new_log_handlers": 0,
        "tracking_uri_changed": False}
    assert list(tmp_path.iterdir()) == []  # no store, no mlruns folder
