"""Claims files on disk: which formats load, and reading one into frames of its raw values.

Every value is read as the file holds it (CSV: always a string), so the checks downstream see
exactly what was written and the quarantine keeps it. Errors about the file as a whole raise
ClaimsFileError; their messages name the path, columns and row numbers, never a value.
"""
from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pj
import pyarrow.parquet as pq

from features.claim_facts import CODE_SEPARATOR

# File name ending -> format. pandas and pyarrow decompress .gz on their own.
FORMATS = {
    ".csv": "csv", ".csv.gz": "csv",
    ".parquet": "parquet",
    ".jsonl": "jsonl", ".jsonl.gz": "jsonl", ".ndjson": "jsonl", ".ndjson.gz": "jsonl",
}
CODES_FIELD = "diagnosis_codes"  # the one field Parquet and JSON may hold as a list
_RAGGED_ROWS_NAMED = 5
_PANDAS_JSON_ROWS = 100_000  # pandas needs ~5 GB to read a million JSON lines at once


class ClaimsFileError(ValueError):
    """The file as a whole cannot be loaded: unsupported format, unreadable, or a required
    column is missing. The message says what is wrong and what is needed, never a value."""


def _not_utf8(path: Path) -> str:
    return (f"{path}: not UTF-8 text (UTF-16 and Latin-1 files hold bytes UTF-8 does not allow); "
            "save the file as UTF-8 and load it again")


def _cut_short(path: Path) -> str:
    return f"{path}: the compressed file ends early or is damaged; compress it again from the original"


@dataclass(frozen=True)
class RawClaims:
    """A claims file opened for reading: its columns, then its rows in chunks of raw values.

    Each chunk has a RangeIndex; chunks come in file order.
    """

    path: Path
    columns: tuple[str, ...]
    chunks: Iterator[pd.DataFrame]


def claims_file_format(path: Path) -> str:
    name = path.name.lower()
    for ending in sorted(FORMATS, key=len, reverse=True):
        if name.endswith(ending):
            return FORMATS[ending]
    raise ClaimsFileError(f"{path}: unsupported file type; use one of {', '.join(FORMATS)}")


def open_claims_file(path, chunk: int | None = None) -> RawClaims:
    """Open a claims file; `chunk` rows per frame, or the whole file in one frame when None.

    The columns are known before any row is read (for JSON lines: after the first chunk).
    """
    path = Path(path)
    if chunk is not None and chunk < 1:
        raise ValueError("chunk must be a positive number of rows, or None")
    if not path.is_file():
        raise ClaimsFileError(f"{path}: no such file")
    opener = {"csv": _open_csv, "parquet": _open_parquet, "jsonl": _open_jsonl}[claims_file_format(path)]
    columns, chunks = opener(path, chunk)
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        raise ClaimsFileError(f"{path}: column(s) appear more than once: {', '.join(repeated)}")
    return RawClaims(path, tuple(columns), _at_least_one(chunks, columns))


def _at_least_one(chunks: Iterator[pd.DataFrame], columns: list[str]) -> Iterator[pd.DataFrame]:
    """A file with a header and no rows still yields one (empty) chunk."""
    empty = True
    for frame in chunks:
        empty = False
        yield frame
    if empty:
        yield pd.DataFrame({name: pd.Series(dtype="str") for name in columns})


def _open_csv(path: Path, chunk: int | None):
    header = _csv_header(path)
    columns = [name.strip() for name in header]
    ragged = []  # pyarrow's handler skips rows whose field count differs from the header's

    def note_ragged(row) -> str:
        ragged.append(row.actual_columns)
        return "skip"

    parse = pcsv.ParseOptions(invalid_row_handler=note_ragged, newlines_in_values=True)
    convert = pcsv.ConvertOptions(column_types={name: pa.string() for name in header},
                                  strings_can_be_null=False, quoted_strings_can_be_null=False)

    def tables() -> Iterator[pa.Table]:
        try:
            if chunk is None:
                yield pcsv.read_csv(path, parse_options=parse, convert_options=convert)
            else:
                reader = pcsv.open_csv(path, parse_options=parse, convert_options=convert)
                yield from _rebatch(reader, chunk)
        except (pa.ArrowInvalid, OSError) as error:  # the parser's message quotes row text
            if "invalid UTF8" in str(error):
                raise ClaimsFileError(_not_utf8(path)) from error
            if isinstance(error, OSError) and _compressed(path):
                raise ClaimsFileError(_cut_short(path)) from error
            raise ClaimsFileError(f"{path}: not readable as CSV (check quoting and delimiters)") from error

    def frames() -> Iterator[pd.DataFrame]:
        for table in tables():
            if ragged:
                raise ClaimsFileError(_ragged_message(path, len(columns)))
            yield table.rename_columns(columns).to_pandas()

    return columns, frames()


def _compressed(path: Path) -> bool:
    return path.name.lower().endswith(".gz")


def _csv_header(path: Path) -> list[str]:
    handle = gzip.open(path, "rt", encoding="utf-8-sig", newline="") if _compressed(path) \
        else open(path, encoding="utf-8-sig", newline="")
    try:
        with handle:
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError as error:
        raise ClaimsFileError(_not_utf8(path)) from error
    except (EOFError, gzip.BadGzipFile) as error:
        raise ClaimsFileError(_cut_short(path)) from error
    except (OSError, csv.Error) as error:
        raise ClaimsFileError(f"{path}: not readable as UTF-8 CSV") from error
    if not header:
        raise ClaimsFileError(f"{path}: empty file; a CSV claims file starts with a header row")
    return header


def _ragged_message(path: Path, expected: int) -> str:
    """Name the first ragged data rows; found again with the csv module, as pyarrow gives no row numbers."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    numbers = []
    with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
        rows = csv.reader(handle)
        next(rows)
        for number, row in enumerate(rows, start=1):
            if len(row) != expected and row:
                numbers.append(str(number))
                if len(numbers) == _RAGGED_ROWS_NAMED:
                    break
    where = f" (data rows {', '.join(numbers)}{', ...' if len(numbers) == _RAGGED_ROWS_NAMED else ''})" if numbers else ""
    return (f"{path}: some rows{where} do not have the header's {expected} fields; "
            "fix the file's quoting or delimiters, then load it again")


def _rebatch(reader, rows: int) -> Iterator[pa.Table]:
    """pyarrow streams blocks of bytes; regroup them into tables of `rows` rows."""
    pending, count = [], 0
    for batch in reader:
        pending.append(batch)
        count += batch.num_rows
        while count >= rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, rows)
            rest = table.slice(rows)
            pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(pending, schema=reader.schema)


def _open_parquet(path: Path, chunk: int | None):
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as error:
        raise ClaimsFileError(f"{path}: not readable as Parquet") from error
    columns = list(parquet.schema_arrow.names)

    def tables() -> Iterator[pa.Table]:
        try:
            if chunk is None:
                yield parquet.read()
            else:
                for batch in parquet.iter_batches(batch_size=chunk):
                    yield pa.Table.from_batches([batch])
        except (pa.ArrowException, OSError) as error:  # a sound footer over damaged data pages
            raise ClaimsFileError(f"{path}: not readable as Parquet (its data is damaged)") from error

    def frames() -> Iterator[pd.DataFrame]:
        for table in tables():
            yield typed_frame(table)

    return columns, frames()


def typed_frame(table: pa.Table) -> pd.DataFrame:
    """A typed (Parquet or JSON) table as a raw frame, code lists joined into the CSV form."""
    if CODES_FIELD in table.column_names:
        table = table.set_column(table.column_names.index(CODES_FIELD), CODES_FIELD,
                                 _joined_code_lists(table[CODES_FIELD]))
    return table.to_pandas()


def _joined_code_lists(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A list-of-strings column -> the CSV form, one `;`-joined string per claim."""
    if not pa.types.is_list(column.type) and not pa.types.is_large_list(column.type):
        return column
    lists = column.cast(pa.list_(pa.string()))
    # binary_join turns a whole list null when one entry is null; an empty entry keeps the rest.
    if pc.list_flatten(lists).null_count:
        return pa.chunked_array([pa.array([_joined(value) for value in lists.to_pylist()], pa.string())])
    return pc.binary_join(lists, CODE_SEPARATOR)


def _joined(value) -> str | None:
    if isinstance(value, (list, tuple)):
        return CODE_SEPARATOR.join("" if part is None else str(part) for part in value)
    return value


def _open_jsonl(path: Path, chunk: int | None):
    """Arrow's typed reader first (2 s and little memory for a million rows); pandas when it refuses."""
    try:
        table = pj.read_json(path)
    except (pa.ArrowInvalid, OSError):
        # One field with two JSON types ("age": 44 here, "age": "forty" there) defeats arrow's
        # typed reader; pandas reads Python objects, more slowly, in bounded chunks.
        return _open_jsonl_with_pandas(path, chunk or _PANDAS_JSON_ROWS)
    if not table.num_columns:
        raise ClaimsFileError(f"{path}: empty file; expected one JSON object per line")
    tables = [table] if chunk is None else [table.slice(start, chunk) for start in range(0, table.num_rows, chunk)]
    return list(table.column_names), (typed_frame(part) for part in tables)


def _open_jsonl_with_pandas(path: Path, chunk: int):
    def read() -> Iterator[pd.DataFrame]:
        try:
            with pd.read_json(path, lines=True, dtype=False, chunksize=chunk) as reader:
                yield from reader
        except UnicodeDecodeError as error:
            raise ClaimsFileError(_not_utf8(path)) from error
        except (ValueError, OSError) as error:  # the message may quote the line
            raise ClaimsFileError(f"{path}: not readable as JSON lines (one JSON object per line)") from error

    def frames(reader: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for frame in reader:
            frame = frame.reset_index(drop=True)
            if CODES_FIELD in frame.columns and frame[CODES_FIELD].dtype == object:
                # JSON arrays arrive as Python lists; the parser already touched every row.
                frame[CODES_FIELD] = frame[CODES_FIELD].map(_joined)
            yield frame

    reader = read()
    first = next(reader, None)
    if first is None or first.columns.empty:
        raise ClaimsFileError(f"{path}: empty file; expected one JSON object per line")
    return list(first.columns), frames(chain([first], reader))
