"""ICD-10-CM codes: normalised, validated against the real table, header codes kept."""
import gzip
import re
from importlib import resources

import pytest

from features.diagnosis import (DESCRIPTIONS_FILE, TABLE_FILE, DiagnosisCodeError, describe_code, load_descriptions,
                                load_table, normalise_code, search_diagnoses, validate_codes, with_dot)


@pytest.mark.parametrize("raw, expected", [
    ("G43.709", "G43709"), ("g43709", "G43709"), (" z68.35 ", "Z6835"), ("T45.1X5A", "T451X5A"),
])
def test_codes_are_normalised_whatever_dots_and_case(raw, expected):
    assert validate_codes([raw]) == [expected]
    assert normalise_code(raw) == expected


@pytest.mark.parametrize("raw, billable, chapter", [
    # categories the package also lists as one-category blocks
    ("B20", True, 1),  # HIV disease: Medicare NCD 250.5 asks for it for dermal filler
    ("F99", True, 5),
    ("R99", True, 18),
    ("Z66", True, 21),
    ("C50", False, 2),
    ("Z68", False, 21),
    # a header code is valid (payers deny it, the claim is still read), its leaf is billable
    ("G43.7", False, 6),
    ("G43.709", True, 6),
    ("G35", False, 6),  # a header since FY2026
])
def test_codes_are_known_with_their_billable_flag_and_chapter(raw, billable, chapter):
    [code] = validate_codes([raw])
    assert (load_table().is_billable(code), load_table().chapter(code)) == (billable, chapter)


@pytest.mark.parametrize("raw", ["Z41.0", "G43.799", "XYZ", "", "12345", None])
def test_unknown_or_malformed_codes_are_errors_that_do_not_echo_the_code(raw):
    with pytest.raises(DiagnosisCodeError) as error:
        validate_codes(["L57.0", raw])
    assert error.value.position == 1
    if raw:
        assert raw not in str(error.value)


def test_with_dot_is_the_readable_form():
    assert with_dot("G43709") == "G43.709" and with_dot("G24") == "G24"


@pytest.fixture(scope="module")
def icd():
    import simple_icd_10_cm  # slow to import: only this test module pays for it

    return simple_icd_10_cm


# A block's name is a range such as A00-A09, except for a category that is its own block (B20).
_BLOCK_RANGE = re.compile(r"^[A-Z][0-9][0-9A-Z]-[A-Z][0-9][0-9A-Z]$")


@pytest.mark.slow
def test_committed_table_equals_the_simple_icd_10_cm_release(icd):
    # Enumerated apart from the rebuild's filter, so a code that the rebuild drops shows up here.
    described = {code for code in icd.get_all_codes(with_dots=False)
                 if not icd.is_chapter(code) and not _BLOCK_RANGE.match(code)}
    expected = {
        code: (icd.is_valid_item(code) and icd.is_leaf(code),
               int(next(a for a in icd.get_ancestors(code) if icd.is_chapter(a))))
        for code in described
    }
    assert load_table().codes == expected
    descriptions = load_descriptions()
    assert {code: descriptions.description(index) for index, code in enumerate(descriptions.codes)} == {
        code: " ".join(icd.get_description(code).split()) for code in described}
    for name in (TABLE_FILE, DESCRIPTIONS_FILE):
        with resources.files("features.data").joinpath(name).open("rb") as raw:
            assert gzip.decompress(raw.read())  # readable, not an LFS pointer


@pytest.mark.parametrize("query, first", [
    ("migraine", ("G43", "Migraine", False)), ("Bell's PALSY", ("G51.0", "Bell's palsy", True)),
    ("hyperhidrosis axilla", ("L74.510", "Primary focal hyperhidrosis, axilla", True)),
    ("l74.51", ("L74.51", "Primary focal hyperhidrosis", False)), ("Z411", ("Z41.1", "Encounter for cosmetic surgery", True)),
])
def test_codes_are_found_by_words_or_code_prefix(query, first):
    found = search_diagnoses(query, 3)
    assert (found[0]["code"], found[0]["description"], found[0]["billable"]) == first and len(found) <= 3


def test_every_word_must_appear_and_the_limit_holds():
    assert search_diagnoses("palsy bell's", 10) == search_diagnoses("bell's palsy", 10)
    assert search_diagnoses("migraine nonsenseword", 10) == []
    assert len(search_diagnoses("fracture", 7)) == 7


def test_words_match_where_a_word_of_the_description_starts():
    assert search_diagnoses("aging", 50) == []  # "imaging" holds "aging", but no word starts with it
    assert search_diagnoses("imaging", 3)[0]["description"].lower().count("imaging")
    assert search_diagnoses("hyperhidro axil", 1)[0]["code"] == "L74.510"  # word starts, not whole words
    assert search_diagnoses("age-related", 3)  # a word after a dash starts too


@pytest.mark.parametrize("code, description", [
    ("G43.709", "Chronic migraine without aura, not intractable, without status migrainosus"),
    ("Z683", "Body mass index [BMI] 30-39, adult"), ("L70", "Acne"), ("Z99.99", ""),
])
def test_a_code_is_described_by_the_release(code, description):
    assert describe_code(code) == description
