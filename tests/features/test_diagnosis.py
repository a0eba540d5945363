"""ICD-10-CM codes: normalised, validated against the real table, header codes kept."""
import gzip
from importlib import resources

import pytest

from features.diagnosis import (TABLE_FILE, DiagnosisCodeError, load_table, normalise_code,
                                validate_codes, with_dot)


@pytest.mark.parametrize("raw, expected", [
    ("G43.709", "G43709"), ("g43709", "G43709"), (" z68.35 ", "Z6835"), ("T45.1X5A", "T451X5A"),
])
def test_codes_are_normalised_whatever_dots_and_case(raw, expected):
    assert validate_codes([raw]) == [expected]
    assert normalise_code(raw) == expected


def test_header_code_is_valid_but_not_billable():
    assert validate_codes(["G43.7"]) == ["G437"]
    assert not load_table().is_billable("G437")
    assert load_table().is_billable("G43709")


@pytest.mark.parametrize("raw", ["Z41.0", "G43.799", "XYZ", "", "12345", None])
def test_unknown_or_malformed_codes_are_errors_that_do_not_echo_the_code(raw):
    with pytest.raises(DiagnosisCodeError) as error:
        validate_codes(["L57.0", raw])
    assert error.value.position == 1
    if raw:
        assert raw not in str(error.value)


def test_with_dot_is_the_readable_form():
    assert with_dot("G43709") == "G43.709" and with_dot("G24") == "G24"


@pytest.mark.slow
def test_committed_table_equals_the_simple_icd_10_cm_release():
    import simple_icd_10_cm as icd

    committed = load_table().codes
    expected = {code for code in icd.get_all_codes(with_dots=False) if not icd.is_chapter_or_block(code)}
    assert set(committed) == expected
    for code in ("G43709", "G437", "Z411", "L570", "T451X5A"):
        assert committed[code][0] == icd.is_leaf(code)
    with resources.files("features.data").joinpath(TABLE_FILE).open("rb") as raw:
        assert gzip.decompress(raw.read())  # readable, not an LFS pointer
