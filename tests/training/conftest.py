"""The training suites' views of the session's trained store (tests/stores.py)."""
from __future__ import annotations

import pytest

from claims_io.loading import load_claims
from training.data.split import split_by_date
from scoring.artifacts import load_model
from scoring.mlflow_store import CHAMPION, alias_uri, mlflow_client


@pytest.fixture(scope="session")
def client(trained_store):
    return mlflow_client(trained_store.uri)


@pytest.fixture(scope="session")
def champion_model(trained_store):
    return load_model(alias_uri(CHAMPION), trained_store.uri).model


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
