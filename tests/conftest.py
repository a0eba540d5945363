"""Fixtures every suite shares: the session's trained store (tests/stores.py), built once per run
(tests/shared_once.py), and its views the scoring and training suites read (an MLflow client on
it, its champion, the `better` history's split, a local SparkSession); the session's PostgreSQL
server (tests/postgresql_server.py, started by the first test that asks for it); and how the
suites share the two xdist workers of `make test`."""
from __future__ import annotations

import pytest
from xdist.scheduler import LoadScopeScheduling

from claims_io.loading import load_claims
from scoring.artifacts import load_model
from scoring.mlflow_store import CHAMPION, alias_uri, mlflow_client
from tests.postgresql_server import PostgresServer, start_server
from tests.shared_once import build_once_per_run
from tests.stores import TrainedStore, demo_histories, quick_params, train_store
from training.data.split import split_by_date


# The suites that start gunicorn, nginx or Chromium. They form one unit of work: one at a time, so
# the bounds their checks hold (seconds, a worker timeout) see the cores they were written for,
# while the other worker runs in-process tests. tests/test_suites.py keeps this list complete.
SERVER_SUITES = frozenset(f"tests/{name}.py" for name in (
    "service/test_gunicorn_conf", "service/test_gunicorn_log", "service/test_gunicorn_model",
    "service/test_gunicorn_robustness", "service/test_gunicorn_worker", "service/test_no_patient_data_leaks",
    "service/test_page_browser", "service/test_proxy", "service/test_proxy_uploads",
    "service/outcomes/test_outcomes_loop", "service/test_metrics", "service/test_shared_stores",
))


class SuiteScheduling(LoadScopeScheduling):
    """xdist's scheduling by module (its module fixtures are built once), with the server suites as
    one unit. (pytest 9 ignores the node-id suffix `--dist loadgroup` relies on.)"""

    def _split_scope(self, nodeid: str) -> str:
        suite = nodeid.split("::", 1)[0]
        return "servers" if suite in SERVER_SUITES else suite


def pytest_xdist_make_scheduler(config, log):
    return SuiteScheduling(config, log)


@pytest.fixture(scope="session")
def demo_files(tmp_path_factory):
    return build_once_per_run(tmp_path_factory, "histories", demo_histories)


@pytest.fixture(scope="session")
def trained_store(tmp_path_factory, demo_files) -> TrainedStore:
    return build_once_per_run(tmp_path_factory, "mlflow", lambda folder: train_store(demo_files, folder))


@pytest.fixture(scope="session")
def client(trained_store):
    return mlflow_client(trained_store.uri)


@pytest.fixture(scope="session")
def champion_model(trained_store):
    # with its scikit-learn estimators, from model.skops: what the tests that compare our scoring with
    # sklearn's read; the served form of the same model is tests/scoring/test_served_form.py's
    return load_model(alias_uri(CHAMPION), trained_store.uri, estimators=True).model


@pytest.fixture(scope="session")
def better_split(demo_files):
    return split_by_date(load_claims(demo_files["better"]).claims)


@pytest.fixture(scope="session")
def spark():
    """One small local SparkSession for the whole test session (a JVM is heavy): two cores, two
    shuffle partitions, no UI. Spark needs Java 17; `make test` installs it when missing."""
    import os
    import shutil
    import sys

    if shutil.which("java") is None:
        pytest.fail("the Spark tests need Java 17 on PATH: apt-get install openjdk-17-jre-headless "
                    "(make test installs it when missing)")
    from pyspark.sql import SparkSession

    python = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = sys.executable  # the workers' Python: this one, not python3 on PATH
    session = (SparkSession.builder.master("local[2]").appName("medspa-coverage tests")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.default.parallelism", "2")
               .config("spark.driver.memory", "1g")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    if python is None:
        os.environ.pop("PYSPARK_PYTHON", None)
    else:
        os.environ["PYSPARK_PYTHON"] = python


@pytest.fixture(scope="session")
def quick_training_params():
    """TrainingParams with the session's small budgets (a factory: pass changes)."""
    return quick_params


@pytest.fixture(scope="session")
def postgresql_server() -> PostgresServer:
    server = start_server()
    yield server
    server.stop()


@pytest.fixture
def postgresql_url(postgresql_server) -> str:
    """A new empty database on the session's PostgreSQL server."""
    return postgresql_server.create_database()
