"""What a service worker has imported once it serves: the served model and the domain, never the
fitting code or the training stages; and none of our modules imports a test tool or a progress bar.

Two libraries still bring some in, and the test names them: skops lists every sklearn estimator
when it is imported (sklearn.utils.all_estimators), whose helper module imports pytest when it is
installed, and `import mlflow` (the registry loader) imports tqdm.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.service.service_testing import API_KEY

pytestmark = pytest.mark.slow  # a fresh interpreter loads the app and the model (~5 s)

# Records which module first imported each top-level package, then builds the app as gunicorn does.
LIST_MODULES = """
import builtins, json, sys
first_importer = {}
original_import = builtins.__import__

def recording_import(name, globals=None, locals=None, fromlist=(), level=0):
    top = name.split(".")[0]
    if level == 0 and top not in first_importer and top not in sys.modules:
        first_importer[top] = (globals or {}).get("__name__", "?")
    return original_import(name, globals, locals, fromlist, level)

builtins.__import__ = recording_import
import service.wsgi  # loads, warms up and serves the champion
builtins.__import__ = original_import
assert service.wsgi.app.extensions["coverage_model"].ready
print(json.dumps({"modules": sorted(sys.modules), "first_importer": first_importer}))
"""
# The third-party modules allowed to bring in a test tool or progress bar, and why (module docstring).
LIBRARY_IMPORTERS = {"pytest": ("sklearn.utils._testing",), "tqdm": ("mlflow",)}


@pytest.fixture(scope="module")
def worker(model_store, tmp_path_factory) -> dict:
    audit = tmp_path_factory.mktemp("worker-audit") / "audit.db"
    environment = {**os.environ, "MEDSPA_COVERAGE_TRACKING_URI": model_store.uri,
                   "MEDSPA_COVERAGE_API_KEYS": API_KEY, "MEDSPA_COVERAGE_AUDIT_DATABASE_URL": f"sqlite:///{audit}",
                   "MEDSPA_COVERAGE_MODEL_POLL_SECONDS": "0"}
    finished = subprocess.run([sys.executable, "-c", LIST_MODULES], env=environment, capture_output=True, text=True,
                              timeout=120, check=True)
    return json.loads(finished.stdout.strip().splitlines()[-1])


def test_a_worker_loads_the_served_model_and_the_domain(worker):
    assert {"service.model_loading", "scoring.coverage_model", "features.pipeline"} <= set(worker["modules"])


def test_a_worker_imports_nothing_of_training_but_the_served_model_and_the_file_scorer(worker):
    """The served model, and `medspa-coverage predict`'s streaming scorer with its file readers
    (POST /v1/files scores uploads with it); no fitting, evaluation or registry stage."""
    training = [name for name in worker["modules"] if name == "training" or name.startswith("training.")]
    allowed = ("scoring.", "training.data.")
    assert [name for name in training if name not in ("training", "scoring", "training.data", "scoring.batch")
            and not name.startswith(allowed)] == []


@pytest.mark.parametrize("package", ["pytest", "tqdm", "hypothesis", "schemathesis", "papermill"])
def test_no_module_of_ours_brings_in_a_test_tool_or_progress_bar(worker, package):
    importer = worker["first_importer"].get(package)
    if importer is not None:
        assert importer.startswith(LIBRARY_IMPORTERS.get(package, ())), f"{package} imported by {importer}"
        assert not importer.startswith(("features", "training", "service"))
