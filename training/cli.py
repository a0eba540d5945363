"""`medspa-coverage`: a thin command layer over the stage functions (which tests call directly).

Each command imports its module only when it runs, so `--help` stays instant.
"""
from __future__ import annotations

import os

import click

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Will insurance pay for this med-spa visit? Data, training, scoring and serving."""


@main.command()
@click.option("--bind", "-b", default=None, help="address to listen on (default 127.0.0.1:8000, from the config)")
@click.option("--workers", "-w", type=click.IntRange(min=1), default=None, help="worker processes (default 2)")
def serve(bind: str | None, workers: int | None) -> None:
    """Serve the model with gunicorn and service/gunicorn_conf.py (no bootstrap: a model must exist)."""
    import sys
    from pathlib import Path

    config = Path(__file__).resolve().parents[1] / "service" / "gunicorn_conf.py"
    argv = [sys.executable, "-m", "gunicorn", "-c", str(config)]
    if bind:
        argv += ["--bind", bind]
    if workers:
        argv += ["--workers", str(workers)]
    argv.append("service.wsgi:app")
    os.execv(sys.executable, argv)  # gunicorn replaces this process, so Ctrl-C and SIGTERM reach it


@main.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--quarantine", "quarantine_path", type=click.Path(dir_okay=False), default=None,
              help="write the quarantined rows, with their original values, to this CSV file")
@click.option("--requests", is_flag=True, help="check prediction requests (no claim_id or outcome) instead of history")
@click.pass_context
def validate(ctx: click.Context, path: str, quarantine_path: str | None, requests: bool) -> None:
    """Check a claims file (CSV, Parquet, JSON lines) against the contract and report what loads.

    Exits 0 when the file loads, even with quarantined rows; 2 when it cannot load at all.
    """
    from training.loading import ClaimsFileError, format_report, load_claims

    try:
        result = load_claims(path, history=not requests, quarantine_path=quarantine_path)
    except ClaimsFileError as error:
        click.echo(f"Error: {error}", err=True)
        ctx.exit(2)
    click.echo(format_report(result.report))
    if quarantine_path is not None:
        click.echo(f"\nquarantined rows written to {quarantine_path}")


@main.command("generate-history")
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
    from training.generator import generate_history as generate

    try:
        summary = generate(rows, seed, out, truth_path, progress=not quiet, bad_rows_fraction=bad_rows_fraction)
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    click.echo(summary.format())
