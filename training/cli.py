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
