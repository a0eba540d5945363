"""The logged model travels (scoring.model_environment): it carries the wrapper's whole import
closure and pins every distribution that code imports, as requirements.lock does. Tested as a
stranger uses it: `mlflow models serve --env-manager uv` builds a fresh virtual environment, outside
this repository, from the model's own requirements.txt and answers MLflow's scoring protocol; the
same environment (built once per session) loads the model by URI in a process that cannot see
this repository and scores claims as the local engine does."""
from __future__ import annotations

import ast
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from importlib import metadata as package_metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.model_tampering import copy_store
from tests.test_layers import MODULES, reachable
from claims_io.requests import check_request_chunk, scoring_form
from training.demo.generator import generate_history
from scoring.artifacts import download_verified_version
from scoring.mlflow_store import CHAMPION, PROJECT_ROOT, REGISTERED_MODEL, alias_uri
from scoring.model_environment import SERVING_LIBRARIES, serving_requirements, stage_code

OUR_PACKAGES = ("common", "features", "claims_io", "scoring")
# Imported by shipped code that scoring never calls, so not a requirement of the model.
NOT_FOR_SCORING = {
    "simple_icd_10_cm": "features.diagnosis.rebuild_table, which regenerates the shipped table",
    "matplotlib": "scoring.metrics.plot_calibration, drawn by reports in this repository",
    "tqdm": "scoring.batch's progress bar, for `predict` in this repository",
    "pyspark": "scoring.spark_batch, which runs where Spark is (the driver and executors bring pyspark)",
}


def staged_modules(root: Path) -> set[str]:
    names = set()
    for path in root.rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_the_code_that_travels_is_the_wrappers_import_closure_and_no_stage(tmp_path):
    code_paths = stage_code(tmp_path)
    assert sorted(Path(path).name for path in code_paths) == sorted(OUR_PACKAGES)
    shipped = staged_modules(tmp_path)
    closure = reachable("scoring.pyfunc_model")
    assert closure <= shipped, f"not shipped: {sorted(closure - shipped)}"
    stages = sorted(name for name in shipped if name == "training" or name.startswith("training."))
    assert stages == []
    assert shipped <= set(MODULES)
    assert (tmp_path / "features" / "data" / "icd10cm_codes.tsv.gz").is_file()  # the domain's data travels too
    assert not list(tmp_path.rglob("__pycache__"))


def imported_distributions(root: Path) -> dict[str, set[str]]:
    """Top-level module -> distributions, for every third-party import of the shipped code."""
    distributions = package_metadata.packages_distributions()
    found = {}
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in OUR_PACKAGES and top != "__future__":
                    found[top] = set(distributions.get(top, ()))
    return found


def locked_versions() -> dict[str, str]:
    pins = {}
    for line in (PROJECT_ROOT / "requirements.lock").read_text().splitlines():
        name, separator, version = line.split("#")[0].strip().partition("==")
        if separator:
            pins[name.lower()] = version.strip()
    return pins


def test_the_requirements_pin_every_distribution_the_code_imports_as_locked(tmp_path):
    stage_code(tmp_path)
    required = dict(line.split("==") for line in serving_requirements())
    imports = imported_distributions(tmp_path)
    assert {"numba", "threadpoolctl", "skops", "sklearn", "pyarrow", "mlflow"} <= set(imports)
    for module, distributions in imports.items():
        if module not in NOT_FOR_SCORING:
            assert distributions & set(required), f"{module} ({distributions}) is imported but not required"
    locked = locked_versions()
    assert {name: locked[name.lower()] for name in SERVING_LIBRARIES} == required


@pytest.fixture(scope="module")
def logged_champion(trained_store, tmp_path_factory):
    """The champion's files as the artifact store holds them, verified against its manifest."""
    from scoring.mlflow_store import mlflow_client

    client = mlflow_client(trained_store.uri)
    version = client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION).version
    return download_verified_version(client, trained_store.uri, REGISTERED_MODEL, str(version),
                                     tmp_path_factory.mktemp("logged"))


@pytest.mark.slow
def test_the_logged_model_carries_its_code_and_its_pinned_requirements(logged_champion):
    from mlflow.models import Model

    flavor = Model.load(str(logged_champion)).flavors["python_function"]
    assert flavor["code"] == "code"
    code = logged_champion / "code"
    assert staged_modules(code) >= reachable("scoring.pyfunc_model")
    assert (logged_champion / "requirements.txt").read_text().split() == serving_requirements()


# -- as a stranger ---------------------------------------------------------------------------
STRANGER = r"""
import importlib.util, json, sys
repository_visible = importlib.util.find_spec("training") is not None  # the stages never travel
import pandas as pd
import mlflow.pyfunc
model = mlflow.pyfunc.load_model(sys.argv[1])
answers = model.predict(pd.read_parquet(sys.argv[2]))
answers.to_parquet(sys.argv[3])
import features, scoring
print(json.dumps({"repository_visible": repository_visible, "scoring": scoring.__file__,
                  "features": features.__file__}))
"""
SERVE_START_SECONDS = 600  # a first run downloads the requirements into uv's cache
STRANGER_CLAIMS = 300


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stranger_environment(folder: Path, tracking_uri: str) -> dict[str, str]:
    """No trace of this repository or its virtual environment: no PYTHONPATH, no MLFLOW_ settings
    but the store's, uv and the base Python 3.11 on PATH."""
    tools = folder / "tools"
    tools.mkdir()
    (tools / "uv").symlink_to(shutil.which("uv") or Path(sys.executable).with_name("uv"))
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith(("MLFLOW_", "PYTHON", "PYSPARK", "SPARK")) and name != "VIRTUAL_ENV"}
    environment.update(MLFLOW_TRACKING_URI=tracking_uri, MLFLOW_ENV_ROOT=str(folder / "envs"),
                       MLFLOW_DISABLE_TELEMETRY="true", UV_PYTHON_DOWNLOADS="never",
                       PATH=os.pathsep.join([str(tools), str(Path(sys.base_prefix) / "bin"),
                                             environment.get("PATH", "/usr/bin:/bin")]))
    return environment


def ping(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=5) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def stranger(trained_store, tmp_path_factory):
    """`mlflow models serve -m models:/medspa-coverage@champion --env-manager uv` on a copy of the
    session's store, from a folder outside the repository: (its URL, the environment it built,
    the store's URI, the folder)."""
    folder = tmp_path_factory.mktemp("stranger")
    store = copy_store(trained_store.database, folder / "store")
    environment = stranger_environment(folder, store)
    url = f"http://127.0.0.1:{free_port()}"
    log = open(folder / "serve.log", "wb")
    server = subprocess.Popen([str(Path(sys.executable).with_name("mlflow")), "models", "serve",
                               "-m", alias_uri(CHAMPION), "--env-manager", "uv", "-h", "127.0.0.1",
                               "-p", url.rsplit(":", 1)[1], "-w", "1"],
                              cwd=folder, env=environment, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + SERVE_START_SECONDS
        while not ping(url):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlflow models serve did not start:\n{(folder / 'serve.log').read_text()[-3000:]}")
            time.sleep(1)
        pythons = sorted((folder / "envs").glob("*/bin/python"))
        assert len(pythons) == 1, pythons
        yield url, pythons[0], environment, folder
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def claims_and_expected(champion_model, tmp_path_factory):
    """Claims in the form the model's signature types, and the local engine's answers to them."""
    folder = tmp_path_factory.mktemp("stranger-claims")
    generate_history(STRANGER_CLAIMS, 31, folder / "history.parquet", progress=False)
    raw = pd.read_parquet(folder / "history.parquet").drop(columns=["outcome", "paid_amount", "denial_reason"])
    clean, valid, rejected = check_request_chunk(raw)
    assert rejected.empty
    form = scoring_form(raw, clean)
    form.to_parquet(folder / "claims.parquet")
    return folder / "claims.parquet", form, champion_model.score_frame(clean).reset_index(drop=True)


def assert_same_answers(answers: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert len(answers) == len(expected) == STRANGER_CLAIMS
    for name in ("approval_probability", "model_probability"):
        np.testing.assert_allclose(answers[name].to_numpy(dtype=float), expected[name].to_numpy(), rtol=0, atol=1e-9)
    for name in ("decision", "rule_ids", "top_denial_reason"):
        assert answers[name].tolist() == expected[name].tolist(), name
    assert answers["excluded"].astype(bool).tolist() == expected["excluded"].tolist()


@pytest.mark.slow
def test_mlflow_models_serve_in_its_own_environment_answers_the_scoring_protocol(stranger, claims_and_expected):
    url, _, _, _ = stranger
    _, form, expected = claims_and_expected
    body = json.dumps({"dataframe_split": json.loads(form.to_json(orient="split", index=False))}).encode()
    request = urllib.request.Request(f"{url}/invocations", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as answer:
        predictions = json.loads(answer.read())["predictions"]
    assert_same_answers(pd.DataFrame(predictions), expected)


@pytest.mark.slow
def test_a_fresh_environment_outside_the_repository_loads_the_champion_by_uri(stranger, claims_and_expected):
    _, python, environment, folder = stranger
    claims, _, expected = claims_and_expected
    answers_path = folder / "answers.parquet"
    done = subprocess.run([str(python), "-c", STRANGER, alias_uri(CHAMPION), str(claims), str(answers_path)],
                          cwd=folder, env=environment, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    where = json.loads(done.stdout.strip().splitlines()[-1])
    assert where["repository_visible"] is False  # the repository is not on the path: no `training` there
    for package in ("scoring", "features"):
        assert not Path(where[package]).is_relative_to(PROJECT_ROOT)
        assert "/code/" in where[package]
    assert_same_answers(pd.read_parquet(answers_path), expected)
    installed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], env=environment,
                               capture_output=True, text=True, timeout=120)
    if installed.returncode == 0:  # uv's environments may come without pip; then uv's list says the same
        assert "medspa-coverage" not in installed.stdout
