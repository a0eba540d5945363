"""How fast the model answers: one claim in process, and a million claims from a file.

    python -m benchmarks.predict [--calls N] [--rows N] [--runs N]

1. In process, the service's path without HTTP: `CoverageModel.answer_claims([claim])` (rules,
   features, trees, denial reasons, factors, advice with every what-if variant) for one claim at a
   time, `--calls` times over a few hundred different demo claims, after a warm-up; p50 and p99,
   with the exact factors (today's default answer) and without them (`explain=False`); issue 27's
   bars: the answer's p50 at most 0.5 ms, the factors at most 0.5 ms more (the difference of the
   two p50s). Also the same with the request's validation (`service.claims.normalise_request_claim`)
   in front, and for claims no rule excludes alone (those reach the trees and get advice).
2. Batch: `medspa-coverage predict` on a Parquet file of `--rows` request claims (demo history
   without its outcome columns), in a fresh process, file in, file out (bar: 250,000 claims/s or
   more, counting the process's whole wall time: start-up, imports, model load, read, score, write);
   and the same on 1,000 claims, which is nearly all fixed cost (bar: under 1.5 s, the start-up),
   so the difference shows the rate at which the claims themselves go through. Each file is scored
   by `--runs` fresh processes (default 3), and the median is the figure.

The tables are appended to benchmarks/RESULTS.md.

The model is the bench store's champion (benchmarks.common); files live in var/bench/.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bars import record_bar
from benchmarks.common import (BENCH_DIR, BenchModel, PROJECT_ROOT, bench_environment, canonical_claims,
                               demo_history, ensure_bench_model, format_table, keep_results, load_bench_model,
                               machine_line,
                               percentile, quiet_this_process, request_claims, verdict, wait_for_quiet)

DEFAULT_CALLS = 10_000
DEFAULT_ROWS = 1_000_000
DEFAULT_RUNS = 3  # whole-process runs per file, the median quoted
DISTINCT_CLAIMS = 500
WARM_UP_CALLS = 300
# issue 27's bars
SINGLE_P50_BAR_MS = 0.5  # one claim's answer
FACTORS_BAR_MS = 0.5  # what the exact factors may add to it
BATCH_BAR_CLAIMS_PER_SECOND = 250_000
START_UP_BAR_SECONDS = 1.5
SMALL_FILE_ROWS = 1_000


def time_calls(function, arguments: list, calls: int) -> list[float]:
    """Milliseconds per call, sorted; arguments are cycled."""
    for argument in arguments[:WARM_UP_CALLS]:
        function(argument)
    timings = []
    clock = time.perf_counter_ns
    for number in range(calls):
        argument = arguments[number % len(arguments)]
        started = clock()
        function(argument)
        timings.append((clock() - started) / 1e6)
    return sorted(timings)


def single_claim_rows(bench: BenchModel, calls: int) -> list[tuple]:
    model = load_bench_model(bench)
    raw = request_claims(DISTINCT_CLAIMS, bench.history)
    claims = canonical_claims(raw)
    scored = [claim for claim, answer in zip(claims, model.answer_claims(claims)) if answer["decision"] != "excluded"]
    from service.claims import normalise_request_claim
    from features.pipeline import claims_to_columns

    # The TreeSHAP factors alone, for the claims the classifier scores: their share of an answer
    explainer = model.explainer()
    encoded = [(model.encode(claims_to_columns([claim])), [claim["treatment"]]) for claim in scored]
    plain = "answer_claims([claim], explain=False), demo mix"
    explained = "answer_claims([claim]) with the exact factors (today's default), demo mix"
    cases = [
        (explained, lambda claim: model.answer_claims([claim]), claims),
        (plain, lambda claim: model.answer_claims([claim], explain=False), claims),
        ("answer_claims([claim]), claims no rule excludes", lambda claim: model.answer_claims([claim]), scored),
        ("answer_claims([claim], explain=False), claims no rule excludes",
         lambda claim: model.answer_claims([claim], explain=False), scored),
        ("validate + answer_claims, demo mix", lambda claim: model.answer_claims([normalise_request_claim(claim)]),
         raw),
        ("of which TreeSHAP factors (Explainer.contributions), claims no rule excludes",
         lambda pair: explainer.contributions(*pair), encoded),
    ]
    rows, p50s = [], {}
    for name, function, arguments in cases:
        wait_for_quiet()
        timings = time_calls(function, arguments, calls)
        p50, p99 = percentile(timings, 0.50), percentile(timings, 0.99)
        p50s[name] = p50
        bar = f"p50 <= {SINGLE_P50_BAR_MS:g} ms: {verdict(p50 <= SINGLE_P50_BAR_MS)}" if name in (plain, explained) else ""
        rows.append((name, f"{len(timings):,}", f"{p50:.3f}", f"{percentile(timings, 0.90):.3f}", f"{p99:.3f}",
                     f"{sum(timings) / len(timings):.3f}", bar))
    more = p50s[explained] - p50s[plain]
    rows.append(("the exact factors' cost: p50 with them - p50 without, demo mix", "", f"{more:.3f}", "", "", "",
                 f"<= {FACTORS_BAR_MS:g} ms more: {verdict(more <= FACTORS_BAR_MS)}"))
    record_bar("one claim's default answer, in process, p50", f"<= {SINGLE_P50_BAR_MS:g} ms",
               f"{p50s[explained]:.3f} ms", f"{p50s[plain]:.3f} ms without the factors",
               p50s[explained] <= SINGLE_P50_BAR_MS)
    record_bar("what the exact factors add to the p50", f"<= {FACTORS_BAR_MS:g} ms", f"{more:.3f} ms",
               "the same answers without them", more <= FACTORS_BAR_MS)
    return rows


def request_file(rows: int) -> Path:
    """var/bench/requests-<rows>.parquet: demo history without the outcome columns."""
    import pyarrow.parquet as pq

    from features.contract import VISIT_FIELDS

    path = BENCH_DIR / f"requests-{rows}.parquet"
    if not path.is_file():
        history = demo_history(rows)
        partial = path.with_name(path.name + ".partial")
        present = pq.read_schema(history).names  # a history from before contract v1.1 lacks its optional columns
        pq.write_table(pq.read_table(history, columns=[name for name in VISIT_FIELDS if name in present]), partial,
                       row_group_size=100_000)
        os.replace(partial, path)
    return path


def run_predict(bench: BenchModel, rows: int) -> tuple[float, str, float]:
    """`medspa-coverage predict` on `rows` request claims in a fresh process: (wall seconds, the command's
    own claims/s, peak RSS MiB)."""
    import pyarrow.parquet as pq

    requests = request_file(rows)
    with tempfile.TemporaryDirectory(prefix="bench-predict-", dir=BENCH_DIR) as scratch:
        output = Path(scratch) / "scored.parquet"
        argv = [sys.executable, "-m", "service", "predict", "--input", str(requests), "--output", str(output),
                "--model", bench.model_uri, "--tracking-uri", bench.uri, "--quiet"]
        wait_for_quiet()
        started = time.perf_counter()
        process = subprocess.Popen(argv, cwd=PROJECT_ROOT, env=bench_environment(), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        output_text = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)  # this child's own peak RSS
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise RuntimeError(f"predict failed (exit {process.returncode}):\n{output_text[-2000:]}")
        scored_rows = pq.ParquetFile(output).metadata.num_rows
    if scored_rows != rows:
        raise RuntimeError(f"predict wrote {scored_rows} of {rows} rows:\n{output_text[-2000:]}")
    # The command's own figure: from the start of predict_file (model load included) to the file closed.
    in_command = output_text.rsplit(";", 1)[-1].split("claims/s")[0].strip()
    return seconds, in_command, usage.ru_maxrss / 1024


def median_run(bench: BenchModel, rows: int, runs: int) -> tuple[float, str, float, str]:
    """run_predict `runs` times: the median seconds, the median run's own figure, the largest peak
    RSS, and the spread ("min-max s") to print beside the median."""
    measured = sorted((run_predict(bench, rows) for _ in range(runs)), key=lambda run: run[0])
    seconds, in_command, _ = measured[(len(measured) - 1) // 2]
    spread = f"{measured[0][0]:.2f}-{measured[-1][0]:.2f}" if len(measured) > 1 else ""
    return seconds, in_command, max(run[2] for run in measured), spread


def batch_rows(bench: BenchModel, rows: int, runs: int = 1) -> list[tuple]:
    small = min(SMALL_FILE_ROWS, rows)
    fixed, fixed_in_command, fixed_rss, fixed_spread = median_run(bench, small, runs)
    seconds, in_command, rss, spread = median_run(bench, rows, runs)
    per_second = rows / seconds
    marginal = (rows - small) / (seconds - fixed) if seconds > fixed else float("inf")
    record_bar(f"start-up: `predict` on {small:,} claims, whole process", f"< {START_UP_BAR_SECONDS:g} s",
               f"{fixed:.2f} s", f"{fixed_rss:,.0f} MiB peak", fixed < START_UP_BAR_SECONDS)
    record_bar(f"`predict` on {rows:,} Parquet claims, whole process", f">= {BATCH_BAR_CLAIMS_PER_SECOND:,}/s",
               f"{per_second:,.0f}/s ({seconds:.2f} s)", f"{in_command} claims/s by the command's own clock",
               per_second >= BATCH_BAR_CLAIMS_PER_SECOND)
    return [
        (f"{small:,} claims (start-up, imports, model load)", f"{fixed:.2f}", fixed_spread, f"{small / fixed:,.0f}",
         fixed_in_command, f"{fixed_rss:,.0f}", f"< {START_UP_BAR_SECONDS:g} s: {verdict(fixed < START_UP_BAR_SECONDS)}"),
        (f"{rows:,} claims", f"{seconds:.2f}", spread, f"{per_second:,.0f}", in_command, f"{rss:,.0f}",
         f">= {BATCH_BAR_CLAIMS_PER_SECOND:,}/s: {verdict(per_second >= BATCH_BAR_CLAIMS_PER_SECOND)}"),
        (f"the {rows - small:,} more claims alone (difference)", f"{seconds - fixed:.2f}", "", f"{marginal:,.0f}",
         "", "", ""),
    ]


def prepare_files(rows: int) -> BenchModel:
    """The bench champion, and the small and the full request files, made before any clock starts."""
    quiet_this_process()
    bench = ensure_bench_model()
    for count in (min(SMALL_FILE_ROWS, rows), rows):
        request_file(count)
    return bench


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=DEFAULT_CALLS, help="single-claim calls timed")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="claims in the batch file")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS,
                        help="fresh `predict` processes per file; the median is the figure")
    options = parser.parse_args(argv)
    bench = prepare_files(options.rows)
    header = machine_line(f"predict: champion v{bench.version} of the bench store ({bench.history.name})")
    single = format_table(("in process, one claim per call", "calls", "p50 ms", "p90 ms", "p99 ms", "mean ms",
                           "bar (issue 27)"), single_claim_rows(bench, options.calls))
    batch = format_table(("`medspa-coverage predict`, Parquet in and out, fresh process", "seconds", "runs' range s",
                          "claims/s", "claims/s in command", "peak RSS MiB", "bar (issue 27)"),
                         batch_rows(bench, options.rows, options.runs))
    keep_results("\n".join([
        header, single, "", batch,
        "\nseconds: the whole process, launch to exit (start-up, imports, model load, read, validate, score, "
        f"write), the median of {options.runs} fresh processes (this machine's whole-process times swing by "
        "10-20% from run to run; the range is beside it); 'in command': the median run's own clock (model load "
        "to file closed)."]))


if __name__ == "__main__":
    main()
