"""`medspa-coverage`, the command group: the service's commands (serve, bootstrap, monitor, outcomes),
training's (validate, generate-history, train, predict, from training.cli) and the model review's
(review, from training.review.cli).

Each command imports its module only when it runs, so `--help` stays instant.
"""
from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import click

from common.paths import VAR_DIR
from common.private_files import make_private_folder_now
from scoring.mlflow_store import TRACKING_URI_HELP
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

    make_private_folder_now(VAR_DIR)  # its stores, jobs and locks are the service's alone
    argv = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG)]
    if no_proxy:
        os.environ.pop(LISTEN_ENV, None)
        argv += ["--bind", serving_bind(bind)]
    else:  # the gunicorn config starts nginx here and binds gunicorn to a private Unix socket
        os.environ[LISTEN_ENV] = serving_bind(bind)
    if workers:
        argv += ["--workers", str(workers)]
    argv.append("service.wsgi:app")
    os.execv(sys.executable, argv)  # gunicorn replaces this process, so Ctrl-C and SIGTERM reach it


@main.command()
@click.option("--tracking-uri", default=None, help=TRACKING_URI_HELP)
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
@click.option("--tracking-uri", default=None, help=TRACKING_URI_HELP)
@click.option("--audit-url", default=None,
              help="audit store (default: $MEDSPA_COVERAGE_AUDIT_DATABASE_URL, else sqlite:///<project>/var/audit.db)")
def monitor(since: str | None, until: str | None, tracking_uri: str | None, audit_url: str | None) -> None:
    """Summarise served predictions (volume, decisions, probabilities, latency, input drift) into a run of the
    `serving-monitor` experiment, one per served model version, and print the table.

    Exits 2, logging nothing, when a served version number is another model in this tracking store than the
    one the audit rows recorded (another run or manifest: claims served from another store)."""
    from datetime import timedelta

    from service.audit import AuditStore
    from service.monitoring import check_window, default_audit_url, format_table, parse_time, run_monitor
    from scoring.artifacts import ModelSourceError
    from scoring.mlflow_store import resolve_tracking_uri
    from scoring.model_identity import AttributionError

    try:
        end = parse_time(until)
        start = parse_time(since) if since else end - timedelta(hours=24)
        check_window(start, end)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--since/--until") from None
    store = AuditStore(audit_url or default_audit_url())
    try:
        summaries = run_monitor(store, resolve_tracking_uri(tracking_uri), start, end)
    except ModelSourceError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)
    except AttributionError as error:  # the wrong store for these claims: a usage error, nothing logged
        click.echo(f"Error: {error}", err=True)
        sys.exit(2)
    click.echo(format_table(summaries))


AUDIT_URL_HELP = "audit store (default: $MEDSPA_COVERAGE_AUDIT_DATABASE_URL, else sqlite:///<project>/var/audit.db)"
SERVED_SINCE_HELP = "only claims served at or after this time, ISO 8601 (default: the first; UTC unless an offset is given)"
SERVED_UNTIL_HELP = "only claims served before this time, ISO 8601 (default: now)"


@main.group()
def outcomes() -> None:
    """The outcomes loop: adjudicated outcomes in, realised accuracy per model version out, served
    claims with their outcomes back into training."""


def _served_window(since: str | None, until: str | None):
    from service.monitoring import check_window, parse_time

    try:
        start, end = (parse_time(since) if since else None), (parse_time(until) if until else None)
        check_window(start, end)
        return start, end
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--since/--until") from None


def _audit_store(audit_url: str | None):
    from service.audit import AuditStore
    from service.monitoring import default_audit_url

    return AuditStore(audit_url or default_audit_url())


def _champion(tracking_uri: str):
    """The registry's champion as the service serves it (its `answer` scores claims), verified first."""
    from service.model_loading import registry_loader
    from service.settings import default_settings

    return registry_loader({**default_settings(), "TRACKING_URI": tracking_uri})


@outcomes.command("ingest")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--audit-url", default=None, help=AUDIT_URL_HELP)
@click.option("--quarantine", "quarantine_path", type=click.Path(dir_okay=False), default=None,
              help="write each quarantined row or segment (position, field, reason; no values) to this CSV file")
@click.pass_context
def outcomes_ingest(ctx: click.Context, path: str, audit_url: str | None, quarantine_path: str | None) -> None:
    """Record adjudicated outcomes from a CSV / Parquet file (claim_id, outcome, paid_amount, denial_reason,
    adjudication_date) or an X12 835 remittance, for the claims the service answered.

    Ingesting the same file again changes nothing; a later outcome for a claim supersedes the earlier one
    (both are kept). Exits 0 when the file was read (even with quarantined rows), 2 when it cannot be read.
    """
    from service.outcomes.ingest import ingest_outcomes
    from service.outcomes.records import OutcomeFileError

    try:
        report = ingest_outcomes(path, _audit_store(audit_url), quarantine_path)
    except OutcomeFileError as error:
        click.echo(f"Error: {error}", err=True)
        ctx.exit(2)
    click.echo(report.format())


@outcomes.command("report")
@click.option("--since", default=None, help=SERVED_SINCE_HELP)
@click.option("--until", default=None, help=SERVED_UNTIL_HELP)
@click.option("--model-version", default=None, help="only this served model version")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object: the figures per model version")
@click.option("--tracking-uri", default=None, help=TRACKING_URI_HELP)
@click.option("--audit-url", default=None, help=AUDIT_URL_HELP)
@click.option("--no-worklist", is_flag=True, help="leave out the denial worklist's figures (they need the "
                                                  "registry's champion, which scores every denied claim again)")
@click.pass_context
def outcomes_report(ctx: click.Context, since: str | None, until: str | None, model_version: str | None,
                    as_json: bool, tracking_uri: str | None, audit_url: str | None, no_worklist: bool) -> None:
    """Realised accuracy of each served model version (AUC, Brier, log loss, ECE, calibration, decision
    confusion, denial-reason accuracy, expected vs paid), per version and per week of service; a run of the
    `serving-outcomes` experiment and tags on each version.

    Beside them, each version's denied claims in the denial worklist and their expected recovery, scored
    with the registry's champion (see `outcomes worklist`).

    Exits 0; 2 when --model-version is not in the store, when a served version number is another model in
    this store than the one the audit rows recorded (nothing is logged then), or when there is no champion to
    score the worklist with (--no-worklist leaves it out); 3 when a version's realised Brier or ECE moved past
    its limit against the figures it was promoted with (the degradation alarm; the version is tagged
    realised_alarm=alarm).
    """
    from service.outcomes.report import format_json, format_report, run_report
    from scoring.artifacts import ModelSourceError
    from scoring.mlflow_store import TrackingStoreError, resolve_tracking_uri
    from scoring.model_identity import AttributionError

    start, end = _served_window(since, until)
    uri = resolve_tracking_uri(tracking_uri)
    try:
        # the champion is loaded when the worklist is counted, after the report has checked the version asked for
        champion = functools.cache(lambda: _champion(uri))
        answer = None if no_worklist else (lambda *args, **kwargs: champion().answer(*args, **kwargs))
        report = run_report(_audit_store(audit_url), uri, start, end, model_version, answer=answer)
    except (ModelSourceError, TrackingStoreError, AttributionError) as error:
        click.echo(f"Error: {error}", err=True)
        ctx.exit(2)
    click.echo(format_json(report) if as_json else format_report(report))
    ctx.exit(report.exit_code)


@outcomes.command("export-history")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True,
              help="history file to write (.csv or .parquet; created owner-only: it holds claims)")
@click.option("--since", default=None, help=SERVED_SINCE_HELP)
@click.option("--until", default=None, help=SERVED_UNTIL_HELP)
@click.option("--audit-url", default=None, help=AUDIT_URL_HELP)
def outcomes_export_history(out_path: str, since: str | None, until: str | None, audit_url: str | None) -> None:
    """Write the served claims that have outcomes as a claims history in the contract, for `train --data`."""
    from service.outcomes.history import export_history

    start, end = _served_window(since, until)
    try:
        summary = export_history(_audit_store(audit_url), out_path, start, end)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--out") from None
    click.echo(summary.format())


@outcomes.command("worklist")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True,
              help="worklist file to write (.csv; created owner-only: it holds claims)")
@click.option("--since", default=None, help=SERVED_SINCE_HELP)
@click.option("--until", default=None, help=SERVED_UNTIL_HELP)
@click.option("--tracking-uri", default=None, help=TRACKING_URI_HELP)
@click.option("--audit-url", default=None, help=AUDIT_URL_HELP)
def outcomes_worklist(out_path: str, since: str | None, until: str | None, tracking_uri: str | None,
                      audit_url: str | None) -> None:
    """The denied claims the outcomes loop recorded, each with the denial playbook's step, fix, deadline and
    the fixed claim scored again by the registry's champion, ranked by expected recovery."""
    from scoring.mlflow_store import resolve_tracking_uri
    from service.outcomes.worklist import build_worklist, write_worklist

    if not out_path.lower().endswith(".csv"):
        raise click.BadParameter("the worklist is a .csv file", param_hint="--out")
    start, end = _served_window(since, until)
    worklist = build_worklist(_audit_store(audit_url), _champion(resolve_tracking_uri(tracking_uri)).answer, start, end)
    click.echo(worklist.format(write_worklist(worklist, out_path)))
