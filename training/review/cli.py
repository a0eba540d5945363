"""`medspa-coverage review`: run the model-review notebook on a challenger and keep the decision
with the executed notebook and its HTML (training.review.records). service.cli adds it to the
command group; it imports the review code only when it runs, so `--help` stays instant."""
from __future__ import annotations

import click

from scoring.mlflow_store import TRACKING_URI_HELP


@click.command()
@click.option("--challenger", required=True, help="the version under review: a version number or an alias")
@click.option("--decision", default=None, help="approve or reject; without it the notebook runs and nothing is recorded")
@click.option("--reviewer", default="", help="who decides (required with --decision)")
@click.option("--comment", default="", help="why, in a sentence")
@click.option("--override-reason", default="",
              help="required to approve a challenger the verdict fails: why it should serve anyway")
@click.option("--champion", "champion_reference", default="champion", show_default=True,
              help="the version (number or alias) the challenger is judged against")
@click.option("--test-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="an independent claims history to test on (default: the challenger run's own test split)")
@click.option("--training-data-folder", type=click.Path(exists=True, file_okay=False), default=None,
              help="where the challenger run's data file is, to rebuild its test split")
@click.option("--cost-of-wrong-approval", type=float, default=1.0, show_default=True,
              help="weight of a claim answered likely_approved that the payer denied")
@click.option("--cost-of-wrong-denial", type=float, default=1.0, show_default=True,
              help="weight of an approved claim answered likely_denied or excluded")
@click.option("--tracking-uri", default=None, help=TRACKING_URI_HELP)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="folder for the executed notebook and its HTML (default: <project>/var/reviews)")
@click.pass_context
def review(ctx: click.Context, challenger: str, decision: str | None, reviewer: str, comment: str,
           override_reason: str, champion_reference: str, test_file: str | None, training_data_folder: str | None,
           cost_of_wrong_approval: float, cost_of_wrong_denial: float, tracking_uri: str | None,
           out_dir: str | None) -> None:
    """Review a challenger: run notebooks/01-model-review.ipynb, render it to HTML and, with
    --decision, keep both with the decision in a run of the `model-reviews` experiment, indexed on
    the model version (review_history_NNN tags). Exits 2 when the review cannot run or the decision
    is refused (an approval the verdict fails, without --override-reason); nothing is recorded then."""
    from training.review.records import REVIEW_EXPERIMENT, run_review
    from training.review.versions import ReviewInputError

    try:
        kept = run_review(challenger, decision, reviewer, comment, override_reason, tracking_uri=tracking_uri,
                          out_dir=out_dir, champion_reference=champion_reference, test_file=test_file,
                          training_data_folder=training_data_folder, cost_of_wrong_approval=cost_of_wrong_approval,
                          cost_of_wrong_denial=cost_of_wrong_denial)
    except ReviewInputError as error:
        click.echo(f"Error: {error}", err=True)
        ctx.exit(2)
    click.echo(f"executed notebook: {kept.notebook}\nHTML: {kept.html}")
    if kept.run_id is None:
        click.echo("no decision given: nothing recorded")
    else:
        click.echo(f"review {kept.tags['review_count']} of version {kept.version} kept: {decision} by "
                   f"{kept.tags['review_reviewer']}, run {kept.run_id} of the {REVIEW_EXPERIMENT!r} experiment")
