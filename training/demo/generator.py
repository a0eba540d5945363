"""Demo claims history: `generate_history` writes a contract-faithful file of med-spa claims and,
beside it, each claim's true approval probability, so training can say how close a model comes
to the best possible one.

No public labelled med-spa claims exist (coverage-facts.md, last section), so the history is drawn
from a generative process built on the facts file. docs/demo-history.md explains every step and
cites the facts it rests on:

1. Visit: a pathway from the visit mix (training.demo.population.PATHWAYS): about 60%
   cosmetic (botox for wrinkles, fillers, laser hair removal, peels, facials, ...), 40%
   medical (botox for chronic migraine or hyperhidrosis, PDT for actinic keratosis, massage for
   low back pain, obesity counselling, wigs for alopecia, ...).
2. Coding: procedure code and diagnosis list drawn from the pathway's options: covered codes from
   the catalog for medical pathways (some badly coded: header codes, wrong or missing codes),
   cosmetic codes or none for cosmetic ones. Every code is checked against ICD-10-CM.
3. Patient and plan: age from the pathway's band, plan type from age (Medicare from 65),
   benefit scope, facility, place of service, network status (med spas are often out of network).
4. Paperwork: referral, letter, prior authorization, conservative therapy: filed often for
   medical pathways (an authorization is granted as often as published rates say), rarely for
   cosmetic ones.
5. Course: initial or ongoing visit, weeks since the last one; price; dollar caps and their use.
6. Payer: training.demo.payer walks its checks (contract exclusions first, then benefit, payer
   disagreement, diagnosis fit, network, referral, prior authorization with a final-year
   tightening, facility, documents, criteria, frequency, necessity, missing information, noise).
   A granted prior authorization settles the clinical checks. P(approved) is the product of
   passing them, a function of the written columns only.
7. Outcome ~ Bernoulli(P(approved)); then the denial reason of a denied claim, the
   approved-vs-partial split (a dollar cap partly used, fewer units) and the paid amount.

Columns are drawn whole, in chunks of CHUNK_ROWS rows, each from its own generator seeded with
(seed, chunk index): the same seed gives a byte-identical file. `draw_history` draws the same claims
in memory, with their latent pathway, and `measure_published_rates` measures the published denial
rates on the part of the mix they describe (docs/demo-history.md, "Published rates").
"""
from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from tqdm import tqdm

from features.contract import (BENEFIT_SCOPES, COST_SHARING_FIELDS, FACILITY_TYPES, OUTCOME_FIELDS, OUTCOMES,
                               PLAN_TYPES, VISIT_FIELDS, default_place_of_service)
from training.demo.payer import PUBLISHED_YEAR, Decision, Hazards, decide, denial_hazards, measured_rates
from training.demo.population import PATHWAYS, Vocabulary, VisitBatch, draw_visits, vocabulary

FIRST_DAY = np.datetime64("2023-01-01")
END_DAY = np.datetime64("2026-01-01")  # exclusive: three years of service dates
CHUNK_ROWS = 100_000
FORMATS = ("csv", "parquet")
TRUTH_COLUMN = "true_approval_probability"
# KFF's denial figures describe HealthCare.gov plans: commercial plans, claims billed as medical care.
COMMERCIAL_PLANS = ("ppo", "hmo", "epo", "pos", "hdhp")
# Deliberately bad rows for loader tests (only when bad_rows_fraction > 0): column, value, what.
BAD_VALUES = (
    ("plan_type", "platinum", "unknown plan type"),
    ("plan_type", None, "required field missing"),
    ("billed_amount", "-125.00", "negative amount"),
    ("benefit_used", "-10", "negative amount"),
    ("service_date", "2024-02-30", "impossible date"),
    ("service_date", "03/15/2024", "date not in YYYY-MM-DD"),
    ("treatment", "botox", "treatment not in the catalog"),
    ("procedure_code", "BOTOX1", "malformed procedure code"),
    ("diagnosis_codes", "X99.123", "not an ICD-10-CM code"),
    ("diagnosis_codes", "123.45", "malformed diagnosis code"),
    ("patient_age", "140", "age out of range"),
    ("in_network", "maybe", "not a boolean"),
    ("visit_number", "0", "visit number below 1"),
)
_TYPES = {"string": pa.string(), "code": pa.string(), "codes": pa.string(), "enum": pa.string(), "date": pa.date32(),
          "bool": pa.bool_(), "int": pa.int64(), "number": pa.float64()}
HISTORY_SCHEMA = pa.schema(
    [(name, _TYPES[spec[0]]) for name, spec in VISIT_FIELDS.items()]
    + [("outcome", pa.string()), ("paid_amount", pa.float64()), ("denial_reason", pa.string())])
TRUTH_SCHEMA = pa.schema([("claim_id", pa.string()), (TRUTH_COLUMN, pa.float64())])


@dataclass(frozen=True)
class DrawnChunk:
    """One chunk of the history as drawn: the visits, the payer's view of them and its decision."""

    first_row: int
    visits: VisitBatch
    frame: pd.DataFrame  # the clean claims frame the payer reads
    hazards: Hazards
    decision: Decision


@dataclass(frozen=True)
class GenerationSummary:
    rows: int
    seed: int
    outcomes: dict[str, int]  # outcome -> rows
    top_denial_reasons: tuple[tuple[str, int], ...]  # (CARC, rows), denied and partial, most frequent first
    mean_true_probability: float
    bad_rows: int
    path: Path
    truth_path: Path
    seconds: float

    @property
    def approval_rate(self) -> float:
        return (self.outcomes.get("approved", 0) + self.outcomes.get("partial", 0)) / max(self.rows, 1)

    def format(self) -> str:
        """A few lines for the CLI."""
        mix = ", ".join(f"{name} {count / max(self.rows, 1):.1%}" for name, count in self.outcomes.items())
        reasons = ", ".join(f"{carc} ({count})" for carc, count in self.top_denial_reasons)
        lines = [
            f"wrote {self.rows:,} claims (seed {self.seed}) to {self.path} in {self.seconds:.1f} s",
            f"true approval probabilities: {self.truth_path}",
            f"outcomes: {mix}; approval rate {self.approval_rate:.1%} (mean true probability "
            f"{self.mean_true_probability:.1%})",
            f"top denial reasons (CARC): {reasons}",
        ]
        if self.bad_rows:
            lines.append(f"deliberately bad rows: {self.bad_rows:,}")
        return "\n".join(lines)


def default_truth_path(out: Path) -> Path:
    """`history.csv` -> `history.truth.csv`, beside it."""
    return out.with_name(f"{out.stem}.truth{out.suffix}")


def file_format(path: Path) -> str:
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"{path.name}: the file name must end in .csv or .parquet, got {path.suffix or 'no suffix'}")
    return fmt


def generate_history(rows: int, seed: int, out: str | os.PathLike, truth_out: str | os.PathLike | None = None,
                     progress: bool = True, *, bad_rows_fraction: float = 0.0) -> GenerationSummary:
    """Write `rows` demo claims to `out` (.csv or .parquet) and their true approval probabilities
    to `truth_out` (default `<out stem>.truth.<ext>`); same seed, same bytes."""
    if not isinstance(rows, (int, np.integer)) or rows < 1:
        raise ValueError(f"rows must be a positive integer, got {rows!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not 0.0 <= bad_rows_fraction <= 1.0:
        raise ValueError(f"bad_rows_fraction must be between 0 and 1, got {bad_rows_fraction!r}")
    started = time.perf_counter()
    out = Path(out)
    truth_path = Path(truth_out) if truth_out is not None else default_truth_path(out)
    if out.resolve() == truth_path.resolve():
        raise ValueError("the truth file must not be the history file")
    vocab = vocabulary()
    schema = HISTORY_SCHEMA
    if bad_rows_fraction > 0:  # bad values need text columns, in Parquet too
        schema = pa.schema([(name, pa.string()) for name in schema.names])
    outcome_counts = np.zeros(len(OUTCOMES), dtype=np.int64)
    reasons: Counter[str] = Counter()
    probability_sum, bad_rows = 0.0, 0
    with _TableWriter(out, schema) as history, _TableWriter(truth_path, TRUTH_SCHEMA) as truth, \
            tqdm(total=rows, unit="rows", disable=not progress, desc="generate-history") as bar:
        for chunk, drawn in enumerate(draw_chunks(rows, seed, vocab)):
            visits, hazards, decision = drawn.visits, drawn.hazards, drawn.decision
            probability = hazards.approval_probability
            table = _history_table(visits, decision, drawn.first_row, vocab, hazards.carcs)
            if bad_rows_fraction > 0:  # its own stream: the clean rows stay those of the same seed
                table, bad = _inject_bad_rows(np.random.default_rng([seed, chunk, 1]), table, bad_rows_fraction)
                bad_rows += bad
            history.write(table)
            truth.write(pa.table({"claim_id": table["claim_id"], TRUTH_COLUMN: np.round(probability, 6)},
                                 schema=TRUTH_SCHEMA))
            outcome_counts += np.bincount(decision.outcome, minlength=len(OUTCOMES))
            given = decision.denial_reason[decision.denial_reason >= 0]
            reasons.update(dict(zip(hazards.carcs, np.bincount(given, minlength=len(hazards.carcs)).tolist())))
            probability_sum += float(probability.sum())
            bar.update(len(drawn.frame))
    return GenerationSummary(
        rows=rows, seed=int(seed),
        outcomes={name: int(count) for name, count in zip(OUTCOMES, outcome_counts)},
        top_denial_reasons=tuple((carc, count) for carc, count in reasons.most_common(5) if count),
        mean_true_probability=probability_sum / rows, bad_rows=bad_rows, path=out, truth_path=truth_path,
        seconds=time.perf_counter() - started,
    )


def draw_chunks(rows: int, seed: int, vocab: Vocabulary | None = None) -> Iterator[DrawnChunk]:
    """The history `generate_history` writes, chunk by chunk: chunk i from default_rng([seed, i]),
    its service dates the i-th slice of FIRST_DAY .. END_DAY."""
    vocab = vocab or vocabulary()
    total_days = int((END_DAY - FIRST_DAY).astype(int))
    for chunk, start in enumerate(range(0, rows, CHUNK_ROWS)):
        stop = min(start + CHUNK_ROWS, rows)
        rng = np.random.default_rng([seed, chunk])
        first = FIRST_DAY + np.timedelta64(start * total_days // rows, "D")
        last = FIRST_DAY + np.timedelta64(max(stop * total_days // rows, start * total_days // rows + 1), "D")
        visits = draw_visits(rng, stop - start, first, last)
        frame = clean_frame(visits, vocab)
        hazards = denial_hazards(frame)
        yield DrawnChunk(start, visits, frame, hazards, decide(rng, frame, hazards))


def draw_history(rows: int, seed: int) -> pd.DataFrame:
    """The history of (rows, seed) in memory: the clean claims frame with the outcome fields, the
    true approval probability, and the latent pathway with whether the clinic billed it as medical
    care (cosmetic visits would be self-pay outside a demo)."""
    medical = np.array([pathway.medical for pathway in PATHWAYS])
    names = np.array([pathway.name for pathway in PATHWAYS], dtype=object)
    parts = []
    for drawn in draw_chunks(rows, seed):
        decision, carcs = drawn.decision, np.asarray(drawn.hazards.carcs + ("",), dtype=object)
        parts.append(drawn.frame.assign(
            outcome=np.asarray(OUTCOMES, dtype=object)[decision.outcome], paid_amount=decision.paid_amount,
            denial_reason=carcs[decision.denial_reason],  # -1 (approved) reads as ""
            **{TRUTH_COLUMN: drawn.hazards.approval_probability},
            pathway=names[drawn.visits.pathway], medical=medical[drawn.visits.pathway]))
    return pd.concat(parts, ignore_index=True)


def measure_published_rates(history: pd.DataFrame, *, year: int | None = PUBLISHED_YEAR,
                            plans: tuple[str, ...] = COMMERCIAL_PLANS) -> dict[str, dict[str, float]]:
    """`payer.measured_rates` on the part of a `draw_history` the published figures describe:
    claims billed as medical care, under `plans`, with service dates in `year` (None: every year)."""
    keep = history["medical"].to_numpy(dtype=bool) & history["plan_type"].isin(plans).to_numpy()
    if year is not None:
        keep &= pd.DatetimeIndex(history["service_date"]).year.to_numpy() == year
    return measured_rates(history[keep])


def clean_frame(visits: VisitBatch, vocab: Vocabulary | None = None) -> pd.DataFrame:
    """The visits as the loader's clean claims frame (features.contract), which the payer reads."""
    vocab = vocab or vocabulary()
    categorical = pd.Categorical.from_codes
    return pd.DataFrame({
        "treatment": categorical(visits.treatment, vocab.treatments),
        "procedure_code": categorical(visits.procedure_code, vocab.procedure_codes),
        "diagnosis_codes": categorical(visits.diagnoses, vocab.diagnoses_dotless),
        "plan_type": categorical(visits.plan_type, PLAN_TYPES),
        "benefit_scope": categorical(visits.benefit_scope, BENEFIT_SCOPES),
        "facility_type": categorical(visits.facility_type, FACILITY_TYPES),
        # as the loader reads it: a blank place of service follows the facility
        "place_of_service": categorical(np.where(visits.place_of_service < 0, np.array(
            [vocab.places_of_service.index(default_place_of_service(name)) for name in FACILITY_TYPES])[
            visits.facility_type], visits.place_of_service), vocab.places_of_service),
        "in_network": visits.in_network,
        "referral": visits.referral,
        "medical_necessity_letter": visits.medical_necessity_letter,
        "prior_authorization": visits.prior_authorization,
        "conservative_therapy_documented": visits.conservative_therapy_documented,
        "visit_number": visits.visit_number,
        "weeks_since_last_treatment": visits.weeks_since_last_treatment,
        "patient_age": visits.patient_age,
        "billed_amount": visits.billed_amount,
        "benefit_limit": visits.benefit_limit,
        "benefit_used": visits.benefit_used,
        "service_date": visits.service_date,
    })


def _strings(values: tuple[str, ...], index: np.ndarray) -> pa.Array:
    """Look up string values by index; -1 gives a blank (null)."""
    return pa.array(values, pa.string()).take(pa.array(index, mask=index < 0))


def _history_table(visits: VisitBatch, decision: Decision, first_row: int, vocab: Vocabulary,
                   carcs: tuple[str, ...]) -> pa.Table:
    n = len(visits.treatment)
    numbers = pa.array(np.arange(first_row + 1, first_row + n + 1)).cast(pa.string())
    diagnosis_text = vocab.diagnoses_dotted + vocab.diagnoses_dotless
    diagnosis_index = np.where(visits.diagnoses == 0, -1,  # entry 0 is the empty list: a blank cell
                               visits.diagnoses + visits.dotless * len(vocab.diagnoses_dotted))
    columns = {
        "claim_id": pc.binary_join_element_wise("CLM", pc.utf8_lpad(numbers, 8, "0"), ""),
        "service_date": pa.array(visits.service_date.astype("datetime64[D]"), pa.date32()),
        "treatment": _strings(vocab.treatments, np.where(visits.treatment_written, visits.treatment, -1)),
        "procedure_code": _strings(vocab.procedure_codes, visits.procedure_code),
        "diagnosis_codes": _strings(diagnosis_text, diagnosis_index),
        "plan_type": _strings(PLAN_TYPES, visits.plan_type),
        "benefit_scope": _strings(BENEFIT_SCOPES, visits.benefit_scope),
        "facility_type": _strings(FACILITY_TYPES, visits.facility_type),
        "place_of_service": _strings(vocab.places_of_service, visits.place_of_service),
        "in_network": visits.in_network,
        "referral": visits.referral,
        "medical_necessity_letter": visits.medical_necessity_letter,
        "prior_authorization": visits.prior_authorization,
        "conservative_therapy_documented": visits.conservative_therapy_documented,
        "visit_number": visits.visit_number,
        "weeks_since_last_treatment": pa.array(visits.weeks_since_last_treatment, from_pandas=True),
        "patient_age": visits.patient_age,
        "billed_amount": visits.billed_amount,
        "benefit_limit": pa.array(visits.benefit_limit, from_pandas=True),
        "benefit_used": visits.benefit_used,
        # v1.1's cost sharing: the demo payer's remittances do not report it (null = unknown), so
        # the history's draws, and the champion trained on them, are those of a v1 history
        **{name: pa.nulls(len(visits.billed_amount), pa.float64()) for name in COST_SHARING_FIELDS},
        "outcome": _strings(OUTCOMES, decision.outcome),
        "paid_amount": np.round(decision.paid_amount, 2),
        "denial_reason": _strings(carcs, decision.denial_reason),
    }
    assert tuple(columns) == tuple(VISIT_FIELDS) + OUTCOME_FIELDS
    return pa.table(columns, schema=HISTORY_SCHEMA)


def _inject_bad_rows(rng: np.random.Generator, table: pa.Table, fraction: float) -> tuple[pa.Table, int]:
    """Every column as text, and one BAD_VALUES corruption in each chosen row."""
    rows = np.flatnonzero(rng.random(table.num_rows) < fraction)
    kinds = rng.integers(0, len(BAD_VALUES), len(rows))
    columns = {name: pc.cast(table[name], pa.string()) for name in table.column_names}
    for kind, (column, value, _) in enumerate(BAD_VALUES):
        chosen = rows[kinds == kind]
        if len(chosen):
            values = columns[column].to_numpy(zero_copy_only=False).astype(object)
            values[chosen] = value
            columns[column] = pa.array(values, pa.string())
    return pa.table(columns), len(rows)


class _TableWriter:
    """Append tables to one CSV or Parquet file; the file appears only once it is complete."""

    def __init__(self, path: Path, schema: pa.Schema):
        self.path, self.schema, self.format = path, schema, file_format(path)
        self.partial = path.with_name(path.name + ".partial")

    def __enter__(self) -> _TableWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.format == "csv":
            self.sink = pa.OSFile(str(self.partial), "wb")
            self.sink.write((",".join(self.schema.names) + "\n").encode("ascii"))  # an unquoted header
            options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
            self.writer = pa_csv.CSVWriter(self.sink, self.schema, write_options=options)
        else:
            self.writer = pq.ParquetWriter(str(self.partial), self.schema)
        return self

    def write(self, table: pa.Table) -> None:
        self.writer.write_table(table)

    def __exit__(self, error_type, error, traceback) -> None:
        self.writer.close()
        if self.format == "csv":
            self.sink.close()
        if error_type is None:
            os.replace(self.partial, self.path)
        else:
            self.partial.unlink(missing_ok=True)
