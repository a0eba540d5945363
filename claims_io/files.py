"""Claims files on disk: which formats load, and reading one into frames of its raw values.

Every value is read as the file holds it (CSV: always a string), so the checks downstream see
exactly what was written and the quarantine keeps it. Errors about the file as a whole raise
ClaimsFileError; their messages name the path, columns and row numbers, never a value.

Reading costs what the file's size says, whatever it holds: at most MAX_COLUMNS columns (checked
on the header, before anything is built per column), no text cell of a contract column longer than
MAX_CELL_CHARS (an extra column, ignored, counts only towards the decoded size), and,
when the caller gives ReadLimits, a bounded number of rows and of decoded bytes. Each is checked
while reading, a chunk at a time, before a chunk becomes Python objects. A compressed format can
hide gigabytes in kilobytes (100,000 rows of one 20,000-character id, dictionary-encoded and
zstd-compressed, is a 1 KB Parquet file), so Parquet is checked from its metadata first (row
count, columns and their types, each column chunk's uncompressed size) and its text columns are
read as dictionaries, whose cells are measured before they are expanded.
"""
from __future__ import annotations

import csv
import gzip
from collections import Counter
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
from features.contract import OUTCOME_FIELDS, VISIT_FIELDS

# File name ending -> format. pandas and pyarrow decompress .gz on their own.
FORMATS = {
    ".csv": "csv", ".csv.gz": "csv",
    ".parquet": "parquet",
    ".jsonl": "jsonl", ".jsonl.gz": "jsonl", ".ndjson": "jsonl", ".ndjson.gz": "jsonl",
}
CODES_FIELD = "diagnosis_codes"  # the one field Parquet and JSON may hold as a list
_RAGGED_ROWS_NAMED = 5
_PANDAS_JSON_ROWS = 100_000  # pandas needs ~5 GB to read a million JSON lines at once
# The contract has 28 fields; a file may carry extra columns (ignored), not without end: past this
# a file is refused before any per-column work.
MAX_COLUMNS = 200
# The longest text cell a contract column of a claims file may hold, in characters. The contract bounds no text field's
# length (claim_id is "opaque"); its longest real cell is a claim's joined diagnosis codes (25 codes
# of 8 characters on the widest billing form), far below this. A cell past it refuses the file.
MAX_CELL_CHARS = 1_000
_PARQUET_BATCH_ROWS = 10_000  # rows decoded at a time from a Parquet file (then regrouped into chunks)
CONTRACT_COLUMNS = frozenset(VISIT_FIELDS) | frozenset(OUTCOME_FIELDS)


class ClaimsFileError(ValueError):
    """The file as a whole cannot be loaded: unsupported format, unreadable, or a required
    column is missing. The message says what is wrong and what is needed, never a value."""


class ClaimsFileTooLarge(ClaimsFileError):
    """The file holds more rows or decodes to more bytes than the caller's ReadLimits allow;
    `bound` names which ("rows" or "decoded_bytes")."""

    def __init__(self, message: str, bound: str):
        super().__init__(message)
        self.bound = bound


@dataclass(frozen=True)
class ReadLimits:
    """What reading one file may cost (None: no bound): data rows, and bytes once decoded
    (decompressed, and text expanded from any dictionary encoding)."""

    rows: int | None = None
    decoded_bytes: int | None = None


def _column_words(name: str) -> str:
    """A column as a message may name it: the contract's by name, a file's own not at all."""
    return f"column {name}" if name in CONTRACT_COLUMNS else "a column the claims contract does not define"


def _checked_columns(path: Path, columns: list[str]) -> list[str]:
    """Columns within MAX_COLUMNS, each named once (counted in one pass: the check is linear)."""
    if len(columns) > MAX_COLUMNS:
        raise ClaimsFileError(f"{path}: {len(columns):,} columns; a claims file may have at most {MAX_COLUMNS}")
    repeated = sorted(name for name, count in Counter(columns).items() if count > 1)
    if repeated:
        raise ClaimsFileError(f"{path}: column(s) appear more than once: {', '.join(repeated)}")
    return columns


class _ReadBudget:
    """Rows, decoded bytes and cell lengths of one file, charged a table at a time while it is read."""

    def __init__(self, path: Path, limits: ReadLimits):
        self.path, self.limits = path, limits
        self.rows = self.decoded_bytes = 0

    def charge(self, table: pa.Table) -> None:
        """Count `table` (its text columns may still be dictionaries: measured without expanding them)."""
        self.rows += table.num_rows
        if self.limits.rows is not None and self.rows > self.limits.rows:
            raise ClaimsFileTooLarge(f"{self.path}: more than {self.limits.rows:,} data rows", "rows")
        for name, column in zip(table.column_names, table.columns):
            for array in column.chunks:
                longest, size = _text_measure(array)
                if longest > MAX_CELL_CHARS and name in CONTRACT_COLUMNS:  # an extra column's text is only counted
                    raise ClaimsFileError(f"{self.path}: column {name} holds a value longer than "
                                          f"{MAX_CELL_CHARS:,} characters, past what a claims file may hold")
                self.decoded_bytes += size
        self.check_decoded(self.decoded_bytes)

    def check_decoded(self, size: int) -> None:
        if self.limits.decoded_bytes is not None and size > self.limits.decoded_bytes:
            raise ClaimsFileTooLarge(f"{self.path}: more than {self.limits.decoded_bytes:,} bytes once decoded",
                                     "decoded_bytes")


def _text_measure(array: pa.Array) -> tuple[int, int]:
    """(longest text cell in characters, bytes once decoded) of an array; a dictionary's cells are
    measured through its indices, and a list's through its values."""
    kind = array.type
    if pa.types.is_dictionary(kind):
        lengths = pc.take(pc.utf8_length(array.dictionary), array.indices) \
            if pa.types.is_string(kind.value_type) or pa.types.is_large_string(kind.value_type) else None
        if lengths is None:
            return 0, array.nbytes
        sizes = pc.take(pc.binary_length(array.dictionary), array.indices)
        return pc.max(lengths).as_py() or 0, (pc.sum(sizes).as_py() or 0) + array.indices.nbytes
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        longest, size = _text_measure(array.flatten())
        return longest, size + array.offsets.nbytes
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return pc.max(pc.utf8_length(array)).as_py() or 0, array.nbytes
    return 0, array.nbytes


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


def open_claims_file(path, chunk: int | None = None, limits: ReadLimits = ReadLimits()) -> RawClaims:
    """Open a claims file; `chunk` rows per frame, or the whole file in one frame when None.

    The columns are known before any row is read (for JSON lines: after the first chunk). A file
    past `limits` raises ClaimsFileTooLarge, at open when its metadata says so, else while read.
    """
    path = Path(path)
    if chunk is not None and chunk < 1:
        raise ValueError("chunk must be a positive number of rows, or None")
    if not path.is_file():
        raise ClaimsFileError(f"{path}: no such file")
    opener = {"csv": _open_csv, "parquet": _open_parquet, "jsonl": _open_jsonl}[claims_file_format(path)]
    columns, chunks = opener(path, chunk, _ReadBudget(path, limits))
    return RawClaims(path, tuple(_checked_columns(path, columns)), _at_least_one(chunks, columns))


def _at_least_one(chunks: Iterator[pd.DataFrame], columns: list[str]) -> Iterator[pd.DataFrame]:
    """A file with a header and no rows still yields one (empty) chunk."""
    empty = True
    for frame in chunks:
        empty = False
        yield frame
    if empty:
        yield pd.DataFrame({name: pd.Series(dtype="str") for name in columns})


def _open_csv(path: Path, chunk: int | None, budget: _ReadBudget):
    header = _csv_header(path)
    columns = _checked_columns(path, [name.strip() for name in header])
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
            table = table.rename_columns(columns)
            budget.charge(table)
            yield table.to_pandas()

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
    """pyarrow streams blocks of bytes (or batches of rows); regroup them into tables of `rows` rows."""
    pending, count, schema = [], 0, None
    for batch in reader:
        schema = batch.schema
        pending.append(batch)
        count += batch.num_rows
        while count >= rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, rows)
            rest = table.slice(rows)
            pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(pending, schema=schema)


def _open_parquet(path: Path, chunk: int | None, budget: _ReadBudget):
    try:
        metadata = pq.read_metadata(path)
    except (pa.ArrowException, OSError) as error:
        raise ClaimsFileError(f"{path}: not readable as Parquet") from error
    if metadata.num_columns > MAX_COLUMNS:  # before the schema is built column by column
        raise ClaimsFileError(f"{path}: {metadata.num_columns:,} columns; a claims file may have at most {MAX_COLUMNS}")
    _check_parquet_metadata(path, metadata, budget)
    _check_parquet_types(path, metadata.schema.to_arrow_schema())
    text_leaves = [metadata.schema.column(index).path for index in range(metadata.num_columns)
                   if metadata.schema.column(index).physical_type == "BYTE_ARRAY"]
    try:  # text read as dictionaries: each batch's cells are measured before they are expanded
        parquet = pq.ParquetFile(path, read_dictionary=text_leaves)
    except (pa.ArrowException, OSError) as error:
        raise ClaimsFileError(f"{path}: not readable as Parquet") from error
    columns = _checked_columns(path, list(parquet.schema_arrow.names))

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for batch in parquet.iter_batches(batch_size=min(chunk or _PARQUET_BATCH_ROWS, _PARQUET_BATCH_ROWS)):
                budget.charge(pa.Table.from_batches([batch]))
                yield _expanded(batch)
        except (pa.ArrowException, OSError) as error:  # a sound footer over damaged data pages
            raise ClaimsFileError(f"{path}: not readable as Parquet (its data is damaged)") from error

    def frames() -> Iterator[pd.DataFrame]:
        if chunk is None:
            decoded = list(batches())
            tables = [pa.Table.from_batches(decoded, schema=decoded[0].schema if decoded else None)] if decoded else []
        else:
            tables = _rebatch(batches(), chunk)
        for table in tables:
            yield typed_frame(table)

    return columns, frames()


def _check_parquet_metadata(path: Path, metadata: pq.FileMetaData, budget: _ReadBudget) -> None:
    """The row count and the column chunks' uncompressed sizes from the footer, before any decoding."""
    limits = budget.limits
    if limits.rows is not None and metadata.num_rows > limits.rows:
        raise ClaimsFileTooLarge(f"{path}: more than {limits.rows:,} data rows", "rows")
    budget.check_decoded(sum(metadata.row_group(group).column(index).total_uncompressed_size
                             for group in range(metadata.num_row_groups) for index in range(metadata.num_columns)))


def _scalar(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        return _scalar(kind.value_type)
    return any(test(kind) for test in (pa.types.is_null, pa.types.is_boolean, pa.types.is_integer,
                                       pa.types.is_floating, pa.types.is_decimal, pa.types.is_string,
                                       pa.types.is_large_string, pa.types.is_date, pa.types.is_timestamp))


def _check_parquet_types(path: Path, schema: pa.Schema) -> None:
    """One value per cell, as the contract has it; diagnosis_codes may also be a list of them.
    A list of lists, a struct or a list in a scalar field is refused naming the column."""
    for field in schema:
        kind = field.type
        if field.name == CODES_FIELD and (pa.types.is_list(kind) or pa.types.is_large_list(kind)):
            kind = kind.value_type
            allowed = f"a list of codes (text) or one text of codes joined by '{CODE_SEPARATOR}'"
        else:
            allowed = "one value per row (text, a number, a boolean or a date)"
        if not _scalar(kind):
            raise ClaimsFileError(f"{path}: {_column_words(field.name)} holds Parquet values of type "
                                  f"{_type_words(field.type)}; it must hold {allowed}")


def _type_words(kind: pa.DataType) -> str:
    if pa.types.is_dictionary(kind):
        return _type_words(kind.value_type)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return f"list of {_type_words(kind.value_type)}"
    if pa.types.is_struct(kind):
        return "struct"
    if pa.types.is_map(kind):
        return "map"
    return str(kind)


def _expanded(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch with its dictionary-read text columns as plain text again (measured already)."""
    arrays = []
    for array in batch.columns:
        kind = array.type
        if pa.types.is_dictionary(kind):
            array = array.dictionary_decode()
        elif (pa.types.is_list(kind) or pa.types.is_large_list(kind)) and pa.types.is_dictionary(kind.value_type):
            array = array.cast(pa.list_(kind.value_type.value_type) if pa.types.is_list(kind)
                               else pa.large_list(kind.value_type.value_type))
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


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


def _open_jsonl(path: Path, chunk: int | None, budget: _ReadBudget):
    """Arrow's typed reader first (2 s and little memory for a million rows); pandas when it refuses."""
    try:
        table = pj.read_json(path)
    except (pa.ArrowInvalid, OSError):
        # One field with two JSON types ("age": 44 here, "age": "forty" there) defeats arrow's
        # typed reader; pandas reads Python objects, more slowly, in bounded chunks.
        return _open_jsonl_with_pandas(path, chunk or _PANDAS_JSON_ROWS)
    if not table.num_columns:
        raise ClaimsFileError(f"{path}: empty file; expected one JSON object per line")
    columns = _checked_columns(path, list(table.column_names))
    tables = [table] if chunk is None else [table.slice(start, chunk) for start in range(0, table.num_rows, chunk)]
    return columns, (typed_frame(part) for part in _charged(tables, budget))


def _charged(tables, budget: _ReadBudget) -> Iterator[pa.Table]:
    for table in tables:
        budget.charge(table)
        yield table


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
    return _checked_columns(path, list(first.columns)), frames(chain([first], reader))
