"""The data and training commands of `medspa-coverage` (validate, generate-history, train, predict):
a thin layer over the stage functions, which tests call directly. The command group itself is
assembled in service.cli.

Each command imports its module only when it runs, so `--help` stays instant.
"""
from __future__ import annotations

from pathlib import Path

import click

from scoring.mlflow_store import TRACKING_URI_HELP


@click.group()
def commands() -> None:
    """The data and training commands; service.cli adds them to `medspa-coverage`."""


@commands.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--quarantine", "quarantine_path", type=click.Path(dir_okay=False), default=None,
              help="write the quarantined rows, with their original values, to this CSV file")
@click.option("--requests", is_flag=True, help="check prediction requests (no claim_id or outcome) instead of history")
@click.pass_context
def validate(ctx: click.Context, path: str, quarantine_path: str | None, requests: bool) -> None:
    """Check a claims file (CSV, Parquet, JSON lines) against the contract and report what loads.

    Exits 0 when the file loads, even with quarantined rows; 2 when it cannot load at all.
    """
    from claims_io.loading import ClaimsFileError, format_report, load_claims

    try:
        result = load_claims(path, history=not requests, quarantine_path=quarantine_path)
    except ClaimsFileError as error:
        click.echo(f"Error: {error}", err=True)
        ctx.exit(2)
    click.echo(format_report(result.report))
    if quarantine_path is not None:
        click.echo(f"\nquarantined rows written to {quarantine_path}")


@commands.command("generate-history")
@click.option("--rows", type=click.IntRange(min=1), required=True, help="number of claims to write")
@click.option("--seed", type=click.IntRange(min=0), required=True, help="random seed: the same seed writes the same bytes")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="history file to write (.csv or .parquet)")
@click.option("--truth", "truth_path", type=click.Path(dir_okay=False), default=None,
              help="where to write each claim's true approval probability (default: <out stem>.truth.<ext>)")
@click.option("--bad-rows-fraction", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True,
              help="share of rows spoiled on purpose (unknown plan, negative amount, bad date...) for loader demos")
@click.option("--quiet", is_flag=True, help="no progress bar")
def generate_history(rows: int, seed: int, out: str, truth_path: str | None, bad_rows_fraction: float,
                     quiet: bool) -> None:
    """Write a demo claims history drawn from the coverage facts (docs/demo-history.md)."""
    from training.demo.generator import generate_history as generate

    try:
        summary = generate(rows, seed, out, truth_path, progress=not quiet, bad_rows_fraction=bad_rows_fraction)
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    click.echo(summary.format())


@commands.command()
@click.option("--data", "data_paths", type=click.Path(exists=True, dir_okay=False), required=True, multiple=True,
              help="claims history file (CSV, Parquet or JSON lines); repeat it for several (oldest first: a claim id "
                   "in two files keeps the newer outcome, by adjudication_date where a file has it, else the later file)")
@click.option("--tracking-uri", default=None, help=TRACKING_URI_HELP)
@click.option("--experiment", default="medspa-coverage", show_default=True, help="MLflow experiment name")
@click.option("--no-promote", is_flag=True, help="register the model as challenger only; skip the champion gate")
@click.option("--truth", "truth_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="true approval probabilities (default: <data stem>.truth.<ext> beside the data, when present)")
@click.option("--max-auc-drop", type=click.FloatRange(min=0), default=0.005, show_default=True,
              help="gate: largest test-AUC drop against the champion that still promotes")
@click.option("--max-ece-rise", type=click.FloatRange(min=0), default=0.005, show_default=True,
              help="gate: largest rise in expected calibration error that still promotes")
@click.option("--models-dir", type=click.Path(file_okay=False), default=None,
              help="where the champion bundle is exported (default: the store's own: <project>/models for the "
                   "project's store, models/ beside any other sqlite store's database)")
@click.option("--no-export", is_flag=True, help="do not export the champion bundle")
@click.option("--force", is_flag=True, help="let the export replace a bundle exported from another tracking store")
@click.option("--allow-unfit", is_flag=True,
              help="train even on a file the fit-to-train verdict calls `not fit` (the run records that it was)")
@click.option("--quiet", is_flag=True, help="no progress bars (stage lines still print)")
@click.pass_context
def train(ctx: click.Context, data_paths: tuple[str, ...], tracking_uri: str | None, experiment: str, no_promote: bool,
          truth_path: str | None, max_auc_drop: float, max_ece_rise: float, models_dir: str | None,
          no_export: bool, force: bool, allow_unfit: bool, quiet: bool) -> None:
    """Train, evaluate and register a model from claims files; promote it if it beats the champion.

    The claims are judged first (fit / fit with warnings / not fit, training.data.fitness); `not fit`
    claims are refused unless --allow-unfit. Exits 0 on success (promoted or not), 2 when the file cannot
    train or is not fit (no MLflow run is created), 1 when the champion's files differ from its
    manifest (the gate stops; the new version stays challenger).
    """
    from scoring.artifacts import ModelSourceError
    from training.promotion_gate import GateParams
    from training.train import EXIT_BAD_INPUT, TrainingInputError, TrainingParams, run_training

    params = TrainingParams(gate=GateParams(max_auc_drop=max_auc_drop, max_ece_rise=max_ece_rise))
    try:
        result = run_training(list(data_paths), tracking_uri=tracking_uri, experiment=experiment, promote=not no_promote,
                              truth_path=truth_path, params=params, progress=not quiet, models_dir=models_dir,
                              export=not no_export, allow_unfit=allow_unfit, echo=click.echo, force_export=force)
    except TrainingInputError as error:
        click.echo(f"Error: {error}", err=True)
        ctx.exit(EXIT_BAD_INPUT)
    except ModelSourceError as error:  # the champion's files differ from its manifest: the gate stops
        click.echo(f"Error: {error}", err=True)
        ctx.exit(1)
    click.echo(f"run {result.run_id}: version {result.model_version} {result.decision} ({result.reason})")


@commands.command()
@click.option("--input", "input_path", required=True,
              help="claims to score (CSV, Parquet or JSON lines; with --engine spark: Parquet, a file or a "
                   "folder of parts)")
@click.option("--output", "output_path", required=True,
              help="scored claims (format from the name: .csv, .parquet, .jsonl); bad rows go to "
                   "<output>.rejected.csv; with --engine spark: a folder of Parquet parts, bad rows in "
                   "<output>.rejected/")
@click.option("--model", "model_uri", default=None,
              help="MLflow model URI (default models:/medspa-coverage@champion) or a model bundle folder")
@click.option("--tracking-uri", default=None, help=TRACKING_URI_HELP)
@click.option("--engine", type=click.Choice(["local", "spark"]), default="local", show_default=True,
              help="local: this process, in chunks; spark: a Spark job (needs the spark extra and Java 17)")
@click.option("--master", default=None,
              help="--engine spark: the Spark master URL (default: spark-submit's when run by it, else local[*])")
@click.option("--env-manager", type=click.Choice(["local", "uv", "virtualenv"]), default="local", show_default=True,
              help="--engine spark: how executors get the model's requirements (mlflow.pyfunc.spark_udf's env_manager)")
@click.option("--chunk-rows", type=click.IntRange(min=1), default=100_000, show_default=True,
              help="claims read, scored and written at a time (local engine)")
@click.option("--keep-columns", is_flag=True,
              help="carry every input column into the output (default: only the contract's columns; local engine)")
@click.option("--quiet", is_flag=True, help="no progress bar")
@click.pass_context
def predict(ctx: click.Context, input_path: str, output_path: str, model_uri: str | None, tracking_uri: str | None,
            engine: str, master: str | None, env_manager: str, chunk_rows: int, keep_columns: bool,
            quiet: bool) -> None:
    """Score a claims file with the champion (or --model); bad rows are reported, not fatal.

    Exits 0 when the file was scored (even with rejected rows), 2 when it cannot be read at all.
    """
    if engine == "local":  # this process is the batch job: tuned before numpy and pyarrow load
        from scoring.batch_process import prepare_batch_process

        prepare_batch_process()
    from claims_io.files import ClaimsFileError
    from scoring.artifacts import ModelSourceError

    if "://" not in input_path and not Path(input_path).exists():  # Spark also reads URIs (s3a://, hdfs://)
        raise click.BadParameter(f"{input_path} does not exist", param_hint="--input")
    if engine == "local" and Path(input_path).is_dir():
        raise click.BadParameter("a folder of parts needs --engine spark; the local engine reads one file",
                                 param_hint="--input")
    if engine == "local" and (master or env_manager != "local"):
        raise click.UsageError("--master and --env-manager are options of --engine spark")
    try:
        if engine == "spark":
            report = _predict_with_spark(input_path, output_path, model_uri, tracking_uri, master, env_manager)
        else:
            from scoring.batch import predict_file

            report = predict_file(input_path, output_path, model_uri, tracking_uri=tracking_uri,
                                  chunk_rows=chunk_rows, progress=not quiet, keep_columns=keep_columns,
                                  own_process=True)
    except ClaimsFileError as error:
        click.echo(f"Error: {error}", err=True)
        ctx.exit(2)
    except Exception as error:  # noqa: BLE001  (mlflow is imported only when the model source needs it)
        if not (isinstance(error, ModelSourceError) or _is_mlflow_error(error)):
            raise
        click.echo(f"Error: cannot load the model: {error}", err=True)
        ctx.exit(1)
    click.echo(f"{report.rows_scored} claims scored to {report.output_path}, {report.rows_rejected} rejected "
               f"(listed in {report.rejected_path}); {report.timing()}")


def _is_mlflow_error(error: Exception) -> bool:
    """An MlflowException, checked without importing mlflow (predict may never load it)."""
    import sys

    mlflow_exceptions = sys.modules.get("mlflow.exceptions")
    return mlflow_exceptions is not None and isinstance(error, mlflow_exceptions.MlflowException)


def _predict_with_spark(input_path, output_path, model_uri, tracking_uri, master, env_manager):
    from importlib.util import find_spec

    if find_spec("pyspark") is None:
        raise click.ClickException("--engine spark needs pyspark: pip install 'medspa-coverage[spark]' (and Java 17)")
    from scoring.spark_batch import predict_with_spark

    return predict_with_spark(input_path, output_path, model_uri, tracking_uri=tracking_uri, master=master,
                              env_manager=env_manager)
