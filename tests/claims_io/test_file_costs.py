"""Reading a claims file costs what its size says (claims_io.files): the column and cell limits,
ReadLimits' rows and decoded bytes, checked from a Parquet file's metadata and while it is read,
and the Parquet types a claims file may hold. Each file is one an attacker could send."""
from __future__ import annotations

import resource
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from claims_io.files import (MAX_CELL_CHARS, MAX_COLUMNS, ClaimsFileError, ClaimsFileTooLarge, ReadLimits,
                             open_claims_file)
from tests.claims_io.claim_rows import good_row
from training.cli import commands

BOMB_ROWS = 100_000


def _read_all(path, limits=ReadLimits(), chunk=20_000) -> int:
    claims = open_claims_file(path, chunk, limits)
    return sum(len(frame) for frame in claims.chunks)


def _parquet(path, columns: dict, compression="zstd"):
    pq.write_table(pa.table(columns), path, compression=compression)
    return path


def _claims_columns(rows: int, **replaced) -> dict:
    """The columns of `rows` copies of a good row (CSV text), some replaced by a value or an array."""
    columns = {name: _repeated(value, rows) for name, value in good_row().items()}
    columns.update({name: value if isinstance(value, pa.Array) else _repeated(value, rows)
                    for name, value in replaced.items()})
    return columns


def _repeated(value: str, rows: int) -> pa.Array:
    """`rows` copies of one text, dictionary-encoded: built and written without ever expanding it."""
    return pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), pa.array([value], pa.string()))


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_million_column_csv_is_refused_at_its_header_in_linear_time(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{number}" for number in range(1_000_000)) + "\n")
    assert path.stat().st_size > 7_000_000
    started = time.monotonic()
    with pytest.raises(ClaimsFileError, match=f"1,000,000 columns; a claims file may have at most {MAX_COLUMNS}"):
        open_claims_file(path, 1000)
    assert time.monotonic() - started < 10  # the quadratic check took minutes here


def test_repeated_columns_are_found_in_one_pass_and_named(tmp_path):
    path = tmp_path / "repeated.csv"
    names = [f"extra_{number}" for number in range(MAX_COLUMNS - 2)] + ["plan_type", "plan_type"]
    path.write_text(",".join(names) + "\n")
    with pytest.raises(ClaimsFileError, match="more than once: plan_type$"):
        open_claims_file(path)


def test_a_parquet_file_of_too_many_columns_is_refused_from_its_metadata(tmp_path):
    path = _parquet(tmp_path / "wide.parquet", {f"c{number}": [1] for number in range(MAX_COLUMNS + 1)})
    with pytest.raises(ClaimsFileError, match=f"{MAX_COLUMNS + 1} columns"):
        open_claims_file(path)


def test_a_dictionary_bomb_of_long_claim_ids_is_refused_before_it_is_expanded(tmp_path):
    """100,000 rows of one 20,000-character claim_id: ~1 KB of zstd Parquet, 2 GB once expanded."""
    path = _parquet(tmp_path / "bomb.parquet", _claims_columns(BOMB_ROWS, claim_id="7" * 20_000))
    assert path.stat().st_size < 50_000
    before = _peak_rss_mib()
    with pytest.raises(ClaimsFileError, match=f"column claim_id holds a value longer than {MAX_CELL_CHARS:,}"):
        _read_all(path)
    assert _peak_rss_mib() - before < 300  # one batch of dictionary indices, not 2 GB of text


def test_a_bomb_in_a_list_of_diagnosis_codes_is_refused_too(tmp_path):
    codes = pa.ListArray.from_arrays(pa.array(range(BOMB_ROWS + 1), pa.int32()), _repeated("A" * 5_000, BOMB_ROWS))
    path = _parquet(tmp_path / "codes.parquet", _claims_columns(BOMB_ROWS, diagnosis_codes=codes))
    with pytest.raises(ClaimsFileError, match="column diagnosis_codes holds a value longer"):
        _read_all(path)


def test_ids_within_the_cell_limit_still_count_against_the_decoded_size(tmp_path):
    """100,000 rows of a 900-character id: 90 MB once decoded from a few KB."""
    path = _parquet(tmp_path / "ids.parquet", _claims_columns(BOMB_ROWS, claim_id="8" * 900))
    with pytest.raises(ClaimsFileTooLarge, match="64,000,000 bytes once decoded") as error:
        _read_all(path, ReadLimits(decoded_bytes=64_000_000))
    assert error.value.bound == "decoded_bytes"
    assert _read_all(path) == BOMB_ROWS  # without limits (predict, training) it is a file like any other


def test_rows_and_uncompressed_size_are_refused_from_the_metadata_before_decoding(tmp_path):
    path = _parquet(tmp_path / "rows.parquet", _claims_columns(1_001), compression="none")
    with pytest.raises(ClaimsFileTooLarge, match="more than 1,000 data rows") as error:
        open_claims_file(path, 100, ReadLimits(rows=1_000))  # at open: no chunk read yet
    assert error.value.bound == "rows"
    with pytest.raises(ClaimsFileTooLarge, match="bytes once decoded"):
        open_claims_file(path, 100, ReadLimits(decoded_bytes=1_000))
    assert _read_all(path, ReadLimits(rows=1_001, decoded_bytes=10_000_000)) == 1_001


def test_a_csv_cell_past_the_limit_refuses_the_file_and_rows_are_counted_while_read(tmp_path):
    row = good_row()
    path = tmp_path / "long.csv"
    path.write_text(",".join(row) + "\n" + ",".join({**row, "claim_id": "9" * (MAX_CELL_CHARS + 1)}.values()) + "\n")
    with pytest.raises(ClaimsFileError, match="column claim_id holds a value longer") as error:
        _read_all(path)
    assert "999" not in str(error.value)  # never the value
    many = tmp_path / "many.csv"
    many.write_text(",".join(row) + "\n" + (",".join(row.values()) + "\n") * 30)
    with pytest.raises(ClaimsFileTooLarge, match="more than 20 data rows"):
        _read_all(many, ReadLimits(rows=20), chunk=10)


@pytest.mark.parametrize("column, values, words", [
    ("diagnosis_codes", pa.array([[["G43.709"]]], pa.list_(pa.list_(pa.string()))), "list of list of string"),
    ("patient_age", pa.array([[44]], pa.list_(pa.int64())), "list of int64"),
    ("plan_type", pa.array([{"name": "ppo"}]), "struct"),
])
def test_unusual_parquet_types_are_refused_naming_the_column(tmp_path, column, values, words):
    path = _parquet(tmp_path / "typed.parquet", _claims_columns(1, **{column: values}))
    with pytest.raises(ClaimsFileError, match=f"column {column} holds Parquet values of type {words}"):
        open_claims_file(path)


def test_a_list_of_codes_is_still_a_claims_file(tmp_path):
    codes = pa.array([["G43.709", "Z68.35"]] * 3, pa.list_(pa.string()))
    path = _parquet(tmp_path / "codes.parquet", _claims_columns(3, diagnosis_codes=codes))
    frame = next(open_claims_file(path).chunks)
    assert frame["diagnosis_codes"].tolist() == ["G43.709;Z68.35"] * 3 and frame["claim_id"].tolist() == ["C1"] * 3


def test_predict_refuses_an_unusual_parquet_type_cleanly(tmp_path):
    path = _parquet(tmp_path / "typed.parquet", _claims_columns(1, patient_age=pa.array([[44]], pa.list_(pa.int64()))))
    result = CliRunner().invoke(commands, ["predict", "--input", str(path), "--output", str(tmp_path / "out.csv"),
                                           "--quiet"])
    assert result.exit_code == 2 and "column patient_age holds Parquet values of type list of int64" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_an_extra_columns_long_text_counts_only_towards_the_decoded_size(tmp_path):
    row = {**good_row(), "note": "n" * (MAX_CELL_CHARS * 3)}
    path = tmp_path / "notes.csv"
    path.write_text(",".join(row) + "\n" + (",".join(row.values()) + "\n") * 10)
    assert _read_all(path) == 10  # ignored columns are the contract's way; their cells are not refused
    with pytest.raises(ClaimsFileTooLarge, match="10,000 bytes once decoded"):
        _read_all(path, ReadLimits(decoded_bytes=10_000))
