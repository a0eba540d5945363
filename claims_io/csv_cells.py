"""CSV cells a spreadsheet would run, made inert before a file with claims in it is written.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read as a formula by
Excel, LibreOffice and Google Sheets (`=HYPERLINK(...)`, `+cmd|' /C calc'!A0`). Following
OWASP's CSV-injection guidance such a cell gets a leading single quote, which spreadsheets show
as text and do not run. A cell that is a plain number (`-12.5`, `+3`, `1e-3`) is left as it is:
a spreadsheet reads it as the number it is, and a negative amount must stay a number. Column
names are cells too. Parquet and JSON-lines outputs are data formats, not spreadsheets: they keep
every value as given.
"""
from __future__ import annotations

import re

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

FORMULA_STARTS = "=+-@\t\r"
INERT_PREFIX = "'"
_STARTS_A_FORMULA = r"^[=+\-@\t\r]"
_PLAIN_NUMBER = r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?"


def inert_cell(value):
    """`value` with a leading quote when a spreadsheet would run it; anything else unchanged."""
    if (isinstance(value, str) and value and value[0] in FORMULA_STARTS
            and re.fullmatch(_PLAIN_NUMBER, value) is None):
        return INERT_PREFIX + value
    return value


def inert_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells and column names a spreadsheet would not run."""
    columns = {}
    for name in frame.columns:
        column = frame[name]
        if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            text = column.astype("string")
            runnable = (text.str.match(_STARTS_A_FORMULA) & ~text.str.fullmatch(_PLAIN_NUMBER)).fillna(False)
            if runnable.any():
                column = column.astype(object).where(~runnable.to_numpy(), INERT_PREFIX + text.astype(object))
        columns[inert_cell(str(name))] = column
    return pd.DataFrame(columns, index=frame.index)


def inert_table(table: pa.Table) -> pa.Table:
    """The same for an Arrow table of text columns (what the CSV writer writes)."""
    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            runnable = pc.and_(pc.match_substring_regex(column, _STARTS_A_FORMULA),
                               pc.invert(pc.match_substring_regex(column, f"^{_PLAIN_NUMBER}$")))
            runnable = pc.fill_null(runnable, False)
            if pc.any(runnable).as_py():
                column = pc.if_else(runnable, pc.binary_join_element_wise(INERT_PREFIX, column, ""), column)
        columns.append(column)
    return pa.table(columns, names=[inert_cell(name) for name in table.column_names])
