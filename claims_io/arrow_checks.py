"""The request checks on Arrow record batches, for engines that hand claims over that way (Spark's
`mapInArrow`, scoring.spark_batch). Each batch is read as the local engine reads a Parquet file
(claims_files.typed_frame) and checked by the local engine's checks (requests.check_request_chunk),
so the engines cannot disagree on what a valid claim is.

This module runs on Spark's executors. It travels in the model's `code/` folder with the rest of
training.data (scoring.model_environment), so executors need nothing of ours installed, and it
imports neither pyspark nor mlflow.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa

from claims_io.files import typed_frame
from claims_io.requests import REJECTED_COLUMNS, check_request_chunk, scoring_form

PROBLEMS = "__problems"  # a row's rejected lines; empty when the row is valid
SCORING_PREFIX = "__scoring_"  # the valid claim in the form the model's signature types


def problems_type() -> pa.DataType:
    """A row's rejected lines: REJECTED_COLUMNS, row_number a whole number, the rest text."""
    return pa.list_(pa.struct([(name, pa.int64() if name == "row_number" else pa.string())
                               for name in REJECTED_COLUMNS]))


def check_batches(batches: Iterable[pa.RecordBatch], input_columns: list[str], row_column: str,
                  scoring_types: dict[str, pa.DataType], today: pd.Timestamp) -> Iterator[pa.RecordBatch]:
    """Each batch with two kinds of columns added: PROBLEMS (a row's rejected lines, numbered by
    `row_column`, the row's 0-based index in its file) and, for a valid row, its claim as
    `scoring_types` type it (SCORING_PREFIX + field; null on a rejected row)."""
    for batch in batches:
        table = pa.Table.from_batches([batch])
        raw = typed_frame(table.select(input_columns))
        clean, valid, rejected = check_request_chunk(raw, 1, today)
        file_rows = table[row_column].to_numpy()
        problems = [[] for _ in range(len(raw))]
        for line in rejected.itertuples(index=False):  # only the rejected rows' lines: few
            position = int(line.row_number) - 1
            problems[position].append({"row_number": int(file_rows[position]) + 1, "claim_id": line.claim_id,
                                       "field": line.field, "reason": line.reason})
        form = scoring_form(raw[valid], clean)
        valid_positions = np.flatnonzero(valid)
        arrays = [*table.columns, pa.array(problems, type=problems_type())]
        names = [*table.column_names, PROBLEMS]
        for name, arrow_type in scoring_types.items():
            arrays.append(_spread(form[name].to_numpy(), valid_positions, len(raw), arrow_type))
            names.append(SCORING_PREFIX + name)
        yield pa.RecordBatch.from_arrays([_combined(array) for array in arrays], names=names)


def _spread(values: np.ndarray, positions: np.ndarray, rows: int, arrow_type: pa.DataType) -> pa.Array:
    """`values` placed at `positions` of a column of `rows`, null elsewhere (a rejected row)."""
    text = not (pa.types.is_boolean(arrow_type) or pa.types.is_integer(arrow_type)
                or pa.types.is_floating(arrow_type))
    full = np.empty(rows, dtype=object) if text else np.zeros(rows, dtype=values.dtype)
    full[positions] = values
    mask = np.ones(rows, dtype=bool)
    mask[positions] = False
    if text:  # absent text is None already; pyarrow reads None as null
        return pa.array(full, type=arrow_type)
    return pa.array(full, type=arrow_type, mask=mask)


def _combined(array) -> pa.Array:
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
