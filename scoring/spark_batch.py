"""`medspa-coverage predict --engine spark`: batch scoring on Spark, for rescoring more claims than
one machine scores in time. The local engine (scoring.batch) stays the default; only this module
imports pyspark (the optional extra, `pip install .[spark]`), and only when it runs.

    predict_with_spark("claims/", "scored/")                         # models:/medspa-coverage@champion
    predict_with_spark("claims.parquet", "scored/", model="models/champion", master="spark://host:7077")

Input: Parquet, one file or a folder of parts, in the contract's request form. Output: a folder
of Parquet parts with the local engine's columns (the contract's input columns, then
SCORE_COLUMNS), and beside it `<output>.rejected/`, Parquet parts of one line per problem:
`file, row_number, claim_id, field, reason` (row_number is 1-based within that input file, the
local engine's numbering for a single file; reasons never quote values). A bad row never fails
the job.

How, and why that way:
1. The model is resolved and verified here, on the driver, exactly as our loaders do
   (scoring.artifacts: a registry version against its `model_manifest` tag, a bundle
   against SHA256SUMS); a bundle becomes an MLflow model with the same code and requirements as a
   registered one. `spark_udf` then ships that verified folder to the executors.
2. Each Arrow batch is checked by the local engine's own request checks
   (claims_io.requests.check_request_chunk, after the local Parquet reader's conversion), in
   `mapInArrow`, so the two engines cannot disagree on what a valid claim is. A valid row also
   gets its claim in the form the model's signature types (`scoring_form`).
3. The valid rows are scored by `mlflow.pyfunc.spark_udf` on that form; the model is the wrapper
   MLflow's consumers load (scoring.pyfunc_model), with its own code from the model's `code/`.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd
import pyarrow as pa

from scoring.batch import RATE_MIN_ROWS, output_columns
from claims_io.arrow_checks import PROBLEMS, SCORING_PREFIX, check_batches
from claims_io.files import ClaimsFileError
from claims_io.loading import missing_columns
from claims_io.requests import REJECTED_COLUMNS
from scoring.artifacts import (DEFAULT_MODEL_URI, MODEL_DIR, ModelSourceError, download_verified_version,
                                      registered_version, resolve_bundle, verify_bundle)
from scoring.coverage_model import SCORE_COLUMNS
from scoring.mlflow_store import resolve_tracking_uri
from common.private_files import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, make_private_dir

DEFAULT_MASTER = "local[*]"
SOURCE_FILE, SOURCE_ROW = "__source_file", "__source_row"  # where a row came from (Parquet metadata)
SCORES = "__scores"


@dataclass
class SparkReport:
    rows_read: int
    rows_scored: int
    rows_rejected: int
    output_path: str
    rejected_path: str
    seconds: float

    def timing(self) -> str:
        """How long it took; the rate only from RATE_MIN_ROWS claims on, as the local engine says it."""
        if self.rows_read < RATE_MIN_ROWS or not self.seconds:
            return f"took {self.seconds:.1f} s"
        return f"took {self.seconds:.1f} s, {self.rows_read / self.seconds:,.0f} claims/s"


def rejected_output_for(output_path: str) -> str:
    """Where the rejected lines go: `<output>.rejected`, beside the output (a path or a URI)."""
    return str(output_path).rstrip("/") + ".rejected"


def spark_path(path: str | Path) -> str:
    """A local path made absolute; a URI (s3a://, hdfs://, file:) as it is."""
    text = str(path)
    return text if "://" in text or text.startswith("file:") else str(Path(text).resolve())


# -- the model -------------------------------------------------------------------------------
def verified_mlflow_model(model: str | Path | None, tracking_uri: str | None, into: Path) -> Path:
    """A local MLflow model folder of `model` whose files were verified (see the module docstring);
    a local MLflow model folder is the operator's own and is taken as it is."""
    source = str(model or DEFAULT_MODEL_URI)
    path = Path(source)
    if path.is_dir() and (path / "MLmodel").is_file():
        return path
    if path.is_dir():
        return _bundle_as_mlflow_model(path, into)
    if source.startswith("models:/"):
        uri = resolve_tracking_uri(tracking_uri)
        client, name, version, _ = registered_version(source, uri)
        return download_verified_version(client, uri, name, str(version.version), into / "registered")
    raise ModelSourceError(f"{source}: --engine spark takes a models:/ URI, a model bundle folder or an MLflow "
                           "model folder")


def _bundle_as_mlflow_model(path: Path, into: Path) -> Path:
    import mlflow

    from scoring.logged_model import pyfunc_arguments, without_cloudpickle_warning

    bundle, _ = resolve_bundle(path)
    copy = into / bundle.name
    shutil.copytree(bundle, copy, symlinks=True)
    verify_bundle(copy)
    target = into / "bundle-model"
    with without_cloudpickle_warning():
        mlflow.pyfunc.save_model(str(target), **pyfunc_arguments(copy / MODEL_DIR, into / "staging"))
    return target


class PrivateOutputs:
    """Both outputs hold claims: a local output is written inside a new owner-only (0700) folder
    beside it, its files narrowed to 0600, then moved into place, as the local engine's files are
    owner-only (common.private_files); Spark writes with the process umask. A URI
    (hdfs://, s3a://) is written in place: its permissions are the cluster's."""

    def __init__(self, output_path: str, rejected_path: str):
        self.targets = (output_path, rejected_path)
        self.folder = None
        if "://" in output_path:
            self.output, self.rejected = output_path, rejected_path
            return
        target = Path(output_path)
        self.folder = make_private_dir(target.with_name(f".{target.name}.writing-{uuid.uuid4().hex[:8]}"))
        self.output, self.rejected = str(self.folder / "scored"), str(self.folder / "rejected")

    def publish(self) -> None:
        if self.folder is None:
            return
        for written, target in zip((self.output, self.rejected), self.targets):
            for path in Path(written).rglob("*"):
                path.chmod(PRIVATE_DIR_MODE if path.is_dir() else PRIVATE_FILE_MODE)
            Path(written).chmod(PRIVATE_DIR_MODE)
            if Path(target).is_dir():
                shutil.rmtree(target)  # what Spark's overwrite mode does
            os.replace(written, target)
        self.folder.rmdir()

    def discard(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


# -- the checks' columns ----------------------------------------------------------------------
def signature_schemas():
    """(the model's input columns, its output columns), as Spark schemas (scoring.logged_model.model_signature)."""
    from scoring.logged_model import model_signature

    from pyspark.sql.types import StructField, StructType

    signature = model_signature()
    outputs = signature.outputs.as_spark_schema()  # nullable, as pandas_udf results are declared
    return signature.inputs.as_spark_schema(), StructType([StructField(field.name, field.dataType)
                                                           for field in outputs.fields])


def arrow_types(scoring_schema) -> dict[str, pa.DataType]:
    from pyspark.sql.types import BooleanType, DoubleType, LongType

    kinds = {BooleanType: pa.bool_(), LongType: pa.int64(), DoubleType: pa.float64()}
    return {field.name: kinds.get(type(field.dataType), pa.string()) for field in scoring_schema.fields}


def checked_schema(located_schema, scoring_schema):
    """The input's columns and where each row came from, its problems, and its scoring form."""
    from pyspark.sql.types import ArrayType, LongType, StringType, StructField, StructType

    problem = StructType([StructField(name, LongType() if name == "row_number" else StringType())
                          for name in REJECTED_COLUMNS])
    return StructType([*located_schema.fields, StructField(PROBLEMS, ArrayType(problem)),
                       *[StructField(SCORING_PREFIX + field.name, field.dataType) for field in scoring_schema.fields]])


def code_archive(model_folder: Path, into: Path) -> Path:
    """The model's own `code/` folder as a zip for the executors' Python path: the checks
    (claims_io.arrow_checks) then run there from the same verified files as the model."""
    if not (model_folder / "code").is_dir():  # logged before models carried their code (issue 16)
        raise ModelSourceError("this model version was logged without its code/ folder, which the Spark engine "
                               "runs on the executors: train and register it again, or use --engine local")
    return Path(shutil.make_archive(str(into / f"medspa-coverage-code-{uuid.uuid4().hex[:8]}"), "zip",
                                    model_folder / "code"))


# -- the job ---------------------------------------------------------------------------------
def start_spark(master: str | None = None, app_name: str = "medspa-coverage predict"):
    """A SparkSession on `master`; without one, spark-submit's master when run by it, else local[*]."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name).config("spark.ui.showConsoleProgress", "false")
    if master is None and "PYSPARK_GATEWAY_PORT" not in os.environ:  # not under spark-submit
        master = DEFAULT_MASTER
    if master is not None:
        builder = builder.master(master)
    if master is not None and master.startswith("local"):  # workers: this Python, not the first python3 on PATH
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return builder.getOrCreate()


def predict_with_spark(input_path, output_path, model=None, *, tracking_uri: str | None = None,
                       master: str | None = None, spark=None, env_manager: str = "local") -> SparkReport:
    """Score every valid claim of the Parquet at `input_path` into the folder `output_path`; see the
    module docstring. `spark`: a running SparkSession to use (else one is started on `master` and
    stopped at the end). Raises ClaimsFileError when the input cannot be read as a whole,
    ModelSourceError when the model cannot be loaded or verified."""
    import mlflow.pyfunc
    from pyspark.errors import AnalysisException
    from pyspark.sql import SparkSession, functions as F

    started = time.perf_counter()
    input_path, output_path = spark_path(input_path), spark_path(output_path)
    rejected_path = rejected_output_for(output_path)

    own_session = spark is None and SparkSession.getActiveSession() is None  # never stop a caller's session
    with tempfile.TemporaryDirectory(prefix="medspa-spark-model-") as scratch:
        model_folder = verified_mlflow_model(model, tracking_uri, Path(scratch))
        spark = spark or start_spark(master)
        staging = None
        try:
            try:
                claims = spark.read.parquet(input_path)
            except AnalysisException as error:
                raise ClaimsFileError(f"{input_path}: not readable as Parquet ({error.getErrorClass()})") from None
            input_columns = list(claims.columns)
            missing = missing_columns(input_columns, history=False)
            if missing:
                raise ClaimsFileError(f"{input_path}: missing required column(s): {', '.join(missing)}")
            located = claims.select("*", F.col("_metadata.file_name").alias(SOURCE_FILE),
                                    F.col("_metadata.row_index").alias(SOURCE_ROW))
            scoring_schema, output_schema = signature_schemas()
            spark.sparkContext.addPyFile(str(code_archive(model_folder, Path(scratch))))
            types, today = arrow_types(scoring_schema), pd.Timestamp.today()
            checks = partial(check_batches, input_columns=input_columns, row_column=SOURCE_ROW, scoring_types=types,
                             today=today)
            checked = located.mapInArrow(checks, checked_schema(located.schema, scoring_schema)).persist()

            rejected = (checked.where(F.size(PROBLEMS) > 0)
                        .select(F.col(SOURCE_FILE).alias("file"), F.explode(PROBLEMS).alias("line"))
                        .select("file", *[F.col(f"line.{name}").alias(name) for name in REJECTED_COLUMNS]))
            staging = PrivateOutputs(output_path, rejected_path)
            rejected.write.mode("overwrite").parquet(staging.rejected)

            udf = mlflow.pyfunc.spark_udf(spark, str(model_folder), result_type=output_schema,
                                          env_manager=env_manager)
            scoring = F.struct(*[F.col(SCORING_PREFIX + field.name).alias(field.name)
                                 for field in scoring_schema.fields])
            columns = output_columns(input_columns)
            scored = (checked.where(F.size(PROBLEMS) == 0).withColumn(SCORES, udf(scoring))
                      .select(*[F.col(f"{SCORES}.{name}").alias(name) if name in SCORE_COLUMNS else F.col(name)
                                for name in columns]))
            scored.write.mode("overwrite").parquet(staging.output)

            counts = checked.select(F.count(F.lit(1)).alias("rows"),
                                    F.sum((F.size(PROBLEMS) > 0).cast("long")).alias("rejected")).first()
            checked.unpersist()
            staging.publish()
        finally:
            if staging is not None:
                staging.discard()
            if own_session:
                spark.stop()
    rows, bad = int(counts["rows"]), int(counts["rejected"] or 0)
    return SparkReport(rows, rows - bad, bad, output_path, rejected_path, round(time.perf_counter() - started, 3))
