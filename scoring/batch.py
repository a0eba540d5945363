"""`medspa-coverage predict`: score a claims file with the champion (or any model), in chunks.

    predict_file("requests.csv", "scored.parquet")                 # models:/medspa-coverage@champion
    predict_file("requests.jsonl", "scored.csv", model="models/champion")   # a bundle folder

Input: CSV, Parquet or JSON lines in the contract's request form (outcome fields may be present
and are carried through). Output (format from the output's file name, same set): every valid
input row with its original values of the contract's columns (every column with
`keep_columns=True`, `--keep-columns`: a column the contract does not define is not passed on
unasked), then SCORE_COLUMNS (the same columns the pyfunc model and the service's /invocations
answer). Rows that break the contract are left out of the output and listed in
`<output>.rejected.csv` (row_number, field, reason; the data row number is 1-based without the
header; reasons never quote values); they never stop the run.

Both files hold claims: they are created owner-only (common.private_files), and in CSV a
text cell a spreadsheet would run is made inert (claims_io.csv_cells).

The file is read, checked, scored and written `chunk_rows` rows at a time (pyarrow's streaming
CSV reader, Parquet row groups, pandas' JSON-lines chunks), so memory stays bounded whatever the
file size. The output is written to `<output>.partial` and renamed when complete.

With more than one thread (`threads`, the command's default: every core), the next chunk is read
and the last one written on two threads of their own: Parquet's decoding and encoding release the
GIL, so they run beside the checks, rules and encoders, which hold it. On two cores
(`threads=2`), two chunks are also checked and scored at once, each on a scoring thread of its
own that walks its trees on one core: the walk (numba) releases the GIL, so one chunk's walk runs
beside the next chunk's Python instead of one core waiting while the Python runs alone. With more
cores a chunk's walk is spread over all of them instead, chunk after chunk: two chunks in flight
keep memory bounded, and a walk on one core would leave the other cores idle. Chunks are still
written in file order, and an error on any thread stops the run as before.

The service scores uploaded files with this same function (service.file_jobs): its served model
(any object with `score_frame`), its workers' one native thread, and an `on_chunk` callback that
sees each chunk's claims, scores and rejected lines before they are written, to audit them, count
them and report progress. An exception from the callback stops the run and leaves no output.
"""
from __future__ import annotations

import os
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pandas as pd
import pyarrow as pa
from threadpoolctl import threadpool_limits

from claims_io.files import ClaimsFileError, claims_file_format, open_claims_file
from claims_io.csv_cells import inert_frame, inert_table
from claims_io.loading import expected_columns, missing_columns
from common.private_files import create_private_file, make_private_dir, open_private
from claims_io.requests import REJECTED_COLUMNS, check_request_chunk
from scoring.artifacts import load_model
from scoring.batch_process import prepare_batch_process, settle_batch_process
from scoring.coverage_model import SCORE_COLUMNS

DEFAULT_CHUNK_ROWS = 100_000
SIDE_BY_SIDE_THREADS = 2  # `threads` with which chunks are scored side by side (module docstring)
# Fewer rows than this say nothing of a rate: loading the model and opening the files dominate
# (a 5-row file "ran at 4 claims/s").
RATE_MIN_ROWS = 10_000


@dataclass
class BatchReport:
    rows_read: int
    rows_scored: int
    rows_rejected: int
    output_path: Path
    rejected_path: Path
    seconds: float

    @property
    def claims_per_second(self) -> float | None:
        """Rows read per second of the whole run; None below RATE_MIN_ROWS, where it means nothing."""
        if self.rows_read < RATE_MIN_ROWS or not self.seconds:
            return None
        return self.rows_read / self.seconds

    def timing(self) -> str:
        """How long it took, in words: the rate when it means something."""
        if self.claims_per_second is None:
            return f"took {self.seconds:.1f} s"
        return f"{self.claims_per_second:,.0f} claims/s"


@dataclass(frozen=True)
class ScoredChunk:
    """One chunk of a run, as `predict_file`'s `on_chunk` sees it before it is written: the clean
    claims of its valid rows, their scores (same order), its rejected lines, and the rows read so
    far, this chunk included."""

    claims: pd.DataFrame
    scores: pd.DataFrame
    rejected: pd.DataFrame
    rows_read: int


def rejected_path_for(output_path: str | Path) -> Path:
    output_path = Path(output_path)
    return output_path.with_name(output_path.name + ".rejected.csv")


# -- writers ----------------------------------------------------------------------------------
class _Writer:
    """Appends scored chunks to one file of the output's format."""

    def __init__(self, path: Path, file_format: str, columns: list[str]):
        self.path, self.format, self.columns = path, file_format, columns
        self.arrow_writer, self.schema, self.handle = None, None, None

    def write(self, frame: pd.DataFrame) -> None:
        if self.format == "jsonl":
            if self.handle is None:
                self.handle = open_private(self.path, "w", encoding="utf-8")
            if len(frame):
                self.handle.write(frame.to_json(orient="records", lines=True, date_format="iso", double_precision=15))
                self.handle.write("\n")
            return
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.format == "csv":  # CSV is text: one string schema never drifts between chunks
            table = inert_table(pa.table({name: table[name].cast(pa.string()) for name in table.column_names}))
        if self.arrow_writer is None:
            self.schema = pa.schema([field.with_type(pa.string()) if pa.types.is_null(field.type) else field
                                     for field in table.schema])
            self.arrow_writer = self._open(self.schema)
        self.arrow_writer.write_table(self._conform(table))

    def _open(self, schema: pa.Schema):
        create_private_file(self.path)  # the writers below keep the mode of the file they open
        if self.format == "csv":
            import pyarrow.csv as pcsv

            return pcsv.CSVWriter(str(self.path), schema)
        import pyarrow.parquet as pq

        return pq.ParquetWriter(str(self.path), schema)

    def _conform(self, table: pa.Table) -> pa.Table:
        """Give a chunk the first chunk's schema (a column that was all-null there is text)."""
        if table.schema.equals(self.schema):
            return table
        columns = []
        for field in self.schema:
            if field.name not in table.column_names:
                columns.append(pa.nulls(table.num_rows, field.type))
                continue
            try:
                columns.append(table[field.name].cast(field.type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                raise ValueError(f"column {field.name} changes type between chunks of the input; "
                                 "write it with one type throughout, or score to CSV") from error
        return pa.table(columns, schema=self.schema)

    def close(self) -> None:
        if self.arrow_writer is None and self.handle is None:  # no valid row at all: header only
            self.write(pd.DataFrame({name: pd.Series(dtype="str") for name in self.columns}))
        if self.arrow_writer is not None:
            self.arrow_writer.close()
        if self.handle is not None:
            self.handle.close()


def _read_ahead(chunks: Iterator[pd.DataFrame], pool: ThreadPoolExecutor | None) -> Iterator[pd.DataFrame]:
    """The chunks, each next one read on `pool`'s thread while the caller works on the current
    (None: read in turn)."""
    if pool is None:
        yield from chunks
        return
    end = object()
    pending = pool.submit(next, chunks, end)
    while True:
        chunk = pending.result()  # a ClaimsFileError of the reading thread is raised here
        if chunk is end:
            return
        pending = pool.submit(next, chunks, end)
        yield chunk


class _WriteBehind:
    """A _Writer whose chunks are written on `pool`'s one thread, one at a time and in order, while
    the next chunk is scored (None: written in turn). `wait` raises the thread's error, if any."""

    def __init__(self, writer: _Writer, pool: ThreadPoolExecutor | None):
        self.writer, self.pool, self.pending = writer, pool, None

    def write(self, frame: pd.DataFrame) -> None:
        self.wait()  # at most one chunk in flight: memory stays bounded, order kept
        if self.pool is None:
            self.writer.write(frame)
        else:
            self.pending: Future | None = self.pool.submit(self.writer.write, frame)

    def wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def close(self) -> None:
        self.wait()
        self.writer.close()


def _row_total(path: Path, file_format: str) -> int | None:
    if file_format == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    return None


class _NoProgressBar:
    def update(self, rows: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int | None):
    # imported here: the service scores files without a bar, and its workers need not load tqdm
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="claims", desc="predict", unit_scale=True)


def output_columns(input_columns, keep_columns: bool = False) -> list[str]:
    """The scored file's columns: the input's (the contract's only, unless `keep_columns`), then the scores."""
    contract = set(expected_columns(history=True))
    kept = [name for name in input_columns if keep_columns or name in contract]
    return list(dict.fromkeys([*kept, *SCORE_COLUMNS]))


def predict_file(input_path, output_path, model=None, *, tracking_uri: str | None = None,
                 chunk_rows: int = DEFAULT_CHUNK_ROWS, progress: bool = True,
                 keep_columns: bool = False, threads: int | None = os.cpu_count(),
                 on_chunk: Callable[[ScoredChunk], None] | None = None, own_process: bool = False) -> BatchReport:
    """Score every valid claim of `input_path` into `output_path`; see the module docstring.

    `model` is a CoverageModel (or anything with its `score_frame`), or any source
    scoring.artifacts.load_model takes (default: the registry's champion). `threads`: more than
    one reads and writes on threads of their own, and walks the trees on `threads` cores (two:
    two chunks scored at once, each walking on one); 1 or None scores chunk by chunk on the
    calling thread (None leaves the process's native pools as they are, as a service worker must).
    `own_process`: the process is this batch job alone (the `predict` command), and is tuned for it
    (scoring.batch_process: its memory before the input is opened, its collector once the model is
    loaded); never in a service worker, whose process serves requests too.
    Raises ClaimsFileError when the input as a whole cannot be read, ModelSourceError when the model
    cannot be loaded or verified.
    """
    started = time.perf_counter()
    if own_process:
        prepare_batch_process()  # before the input's first buffer: Arrow's pool is the process's from here on
    input_path, output_path = Path(input_path), Path(output_path)
    output_format = claims_file_format(output_path)
    raw_claims = open_claims_file(input_path, chunk_rows)
    missing = missing_columns(raw_claims.columns, history=False)
    if missing:
        raise ClaimsFileError(f"{input_path}: missing required column(s): {', '.join(missing)}")
    if model is None or isinstance(model, (str, Path)):
        model = load_model(model, tracking_uri).model
    if own_process:
        settle_batch_process()

    make_private_dir(output_path.parent)
    partial = output_path.with_name(output_path.name + ".partial")
    rejected_path = rejected_path_for(output_path)
    columns = output_columns(raw_claims.columns, keep_columns)
    rows_read = rows_scored = rows_rejected = 0
    today = pd.Timestamp.today()
    bar = _progress_bar(_row_total(input_path, claims_file_format(input_path))) if progress else _NoProgressBar()
    overlap = ExitStack()  # the reading, writing and scoring threads, joined before the output is renamed or removed
    reading = writing = scoring = None
    if threads and threads > 1:
        reading, writing = (overlap.enter_context(ThreadPoolExecutor(1, thread_name_prefix=f"predict-{job}"))
                            for job in ("read", "write"))
    if threads == SIDE_BY_SIDE_THREADS:
        scoring = overlap.enter_context(ThreadPoolExecutor(threads, thread_name_prefix="predict-score"))
        # the scoring threads are the parallelism: each chunk's BLAS (the denial model) keeps to one
        # thread, or two chunks' matmuls would each start a pool as wide as the machine
        overlap.enter_context(threadpool_limits(limits=1))
    writer = _WriteBehind(_Writer(partial, output_format, columns), writing)
    in_flight: deque[Future] = deque()  # chunks being scored, oldest first: written in file order

    def finish(chunk: _Scored) -> None:
        nonlocal rows_scored, rows_rejected
        if len(chunk.rejected):
            inert_frame(chunk.rejected).to_csv(rejected_file, header=False, index=False)
        if on_chunk is not None:
            on_chunk(ScoredChunk(chunk.clean, chunk.scores if chunk.scores is not None
                                 else pd.DataFrame(columns=SCORE_COLUMNS), chunk.rejected, chunk.rows_read))
        if chunk.output is not None:
            writer.write(chunk.output)
        rows_scored += chunk.rows_scored
        rows_rejected += chunk.rows - chunk.rows_scored
        bar.update(chunk.rows)

    try:
        with overlap, open_private(rejected_path, "w", encoding="utf-8", newline="") as rejected_file:
            rejected_file.write(",".join(REJECTED_COLUMNS) + "\n")
            for raw in _read_ahead(raw_claims.chunks, reading):
                # a scoring thread walks on one core (threads=None): the threads side by side use them all
                in_flight.append(_submit(scoring, _score_chunk, model, raw, rows_read, today, columns,
                                         None if scoring is not None else threads))
                rows_read += len(raw)
                if len(in_flight) >= (threads if scoring is not None else 1):
                    finish(in_flight.popleft().result())
            while in_flight:
                finish(in_flight.popleft().result())
            writer.close()
        os.replace(partial, output_path)
    finally:
        bar.close()
        if partial.exists():
            partial.unlink()
    return BatchReport(rows_read, rows_scored, rows_rejected, output_path, rejected_path,
                       round(time.perf_counter() - started, 3))


@dataclass(frozen=True)
class _Scored:
    """One chunk checked and scored, ready to be written: `output` is None when no row is valid."""

    rows: int
    rows_read: int  # rows read up to this chunk's end
    clean: pd.DataFrame
    scores: pd.DataFrame | None
    rejected: pd.DataFrame
    output: pd.DataFrame | None

    @property
    def rows_scored(self) -> int:
        return len(self.clean)


def _score_chunk(model, raw: pd.DataFrame, rows_before: int, today: pd.Timestamp, columns: list[str],
                 threads: int | None) -> _Scored:
    """Check one raw chunk (rows numbered after `rows_before`) and score its valid rows."""
    clean, valid, rejected = check_request_chunk(raw, rows_before + 1, today)
    clean = clean.reset_index(drop=True)
    scored = model.score_frame(clean, threads=threads) if len(clean) else None
    output = None
    if scored is not None:
        output = raw.reset_index(drop=True)
        if not valid.all():
            output = output[valid].reset_index(drop=True)
        for name in SCORE_COLUMNS:
            output[name] = scored[name].array  # as scored: its text columns are not converted again
        output = output.loc[:, columns]
    return _Scored(len(raw), rows_before + len(raw), clean, scored, rejected, output)


def _submit(pool: ThreadPoolExecutor | None, work: Callable, *args) -> Future:
    """`work(*args)` on `pool`, or run now when there is none, as a Future either way."""
    if pool is not None:
        return pool.submit(work, *args)
    done: Future = Future()
    done.set_result(work(*args))  # an error is raised here, as a call in turn would
    return done
