"""`medspa-coverage`, the command group: the service's commands (serve, bootstrap, monitor),
training's (validate, generate-history, train, predict, from training.cli) and the model review's
(review, from training.review.cli).

Each command imports its module only when it runs, so `--help` stays instant.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from service.address import BIND_ENV, DEFAULT_BIND, base_url, serving_bind
from training.cli import commands as training_commands
from training.review.cli import review as review_command

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
GUNICORN_CONFIG = Path(__file__).with_name("gunicorn_conf.py")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Will insurance pay for this med-spa visit? Data, training, scoring and serving."""


for _name, _command in training_commands.commands.items():
    main.add_command(_command, _name)
main.add_command(review_command, "review")


BIND_HELP = f"host:port to listen on (default ${BIND_ENV}, else {DEFAULT_BIND})"


@main.command()
@click.option("--bind", "-b", default=None, help=BIND_HELP)
@click.option("--workers", "-w", type=click.IntRange(min=1), default=None, help="worker processes (default 2)")
@click.option("--no-proxy", is_flag=True,
              help="gunicorn alone on --bind, without nginx in front (slow clients can then hold workers)")
def serve(bind: str | None, workers: int | None, no_proxy: bool) -> None:
    """Serve the model: nginx on --bind in front of gunicorn (service/gunicorn_conf.py, service/proxy.py);
    no bootstrap: a model must exist."""
    from service.proxy import LISTEN_ENV

    argv = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG)]
    if no_proxy:
        os.environ.pop(LISTEN_ENV, None)
        argv += ["--bind", serving_bind(bind)]
    else:  # the gunicorn config starts nginx here and binds gunicorn to a free loopback port
        os.environ[LISTEN_ENV] = serving_bind(bind)
    if workers:
        argv += ["--workers", str(workers)]
    argv.append("service.wsgi:app")
    os.execv(sys.executable, argv)  # gunicorn replaces this process, so Ctrl-C and SIGTERM reach it


@main.command()
@click.option("--tracking-uri", default=None,
              help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///<project>/var/mlflow.db)")
@click.option("--bind", "-b", default=None, help=BIND_HELP)
@click.pass_context
def bootstrap(ctx: click.Context, tracking_uri: str | None, bind: str | None) -> None:
    """`make serve`: train a demo champion if there is none, make a dev API key if none is configured, then serve."""
    from service.bootstrap import prepare_service

    bind = serving_bind(bind)
    os.environ.update(prepare_service(tracking_uri, echo=click.echo, url=base_url(bind)))
    click.echo(f"starting nginx on {base_url(bind)} in front of gunicorn (Ctrl-C stops both)")
    ctx.invoke(serve, bind=bind)


@main.command()
@click.option("--since", default=None,
              help="start of the window, ISO 8601 (default: 24 hours before --until; UTC unless an offset is given)")
@click.option("--until", default=None, help="end of the window, ISO 8601 (default: now)")
@click.option("--tracking-uri", default=None,
              help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///<project>/var/mlflow.db)")
@click.option("--audit-url", default=None,
              help="audit store (default: $MEDSPA_COVERAGE_AUDIT_DATABASE_URL, else sqlite:///<project>/var/audit.db)")
def monitor(since: str | None, until: str | None, tracking_uri: str | None, audit_url: str | None) -> None:
    """Summarise served predictions (volume, decisions, probabilities, latency, input drift) into a run of the
    `serving-monitor` experiment, one per served model version, and print the table."""
    from datetime import timedelta

    from service.audit import AuditStore
    from service.monitoring import default_audit_url, format_table, parse_time, run_monitor
    from training.model.artifacts import ModelSourceError
    from training.model.mlflow_store import resolve_tracking_uri

    try:
        end = parse_time(until)
        start = parse_time(since) if since else end - timedelta(hours=24)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--since/--until") from None
    store = AuditStore(audit_url or default_audit_url())
    try:
        summaries = run_monitor(store, resolve_tracking_uri(tracking_uri), start, end)
    except ModelSourceError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)
    click.echo(format_table(summaries))
