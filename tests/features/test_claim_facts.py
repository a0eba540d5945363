"""Diagnosis facts against the treatment, for one claim or many at once, and the column views of claims."""
import numpy as np
import pandas as pd
import pytest

from features.claim_facts import (
    FACT_NAMES,
    columns_facts,
    diagnosis_facts,
    facts_of_rows,
    frame_to_columns,
    join_codes,
    split_codes,
)
from features.contract import CLEAN_COLUMNS

NO_FACTS = {"covered_diagnosis": False, "primary_diagnosis_covered": False, "header_code": False,
            "header_may_be_covered": False, "cosmetic_encounter": False}


@pytest.mark.parametrize("treatment, codes, facts", [
    ("botulinum_toxin", "G43709", {"covered_diagnosis": True, "primary_diagnosis_covered": True,
                                   "diagnosis_count": 1}),
    ("botulinum_toxin", "Z411;G43709", {"covered_diagnosis": True, "cosmetic_encounter": True,
                                        "diagnosis_count": 2}),  # covered, but not as the primary code
    ("botulinum_toxin", "G437", {"header_code": True, "header_may_be_covered": True, "diagnosis_count": 1}),
    ("botulinum_toxin", "L908", {"diagnosis_count": 1}),
    ("facial", "G43709", {"diagnosis_count": 1}),  # a code that covers another treatment
    ("unlisted", "G43709", {"diagnosis_count": 1}),  # no catalog row: nothing is covered
    ("botulinum_toxin", "", {"diagnosis_count": 0}),
])
def test_the_facts_of_one_claim(treatment, codes, facts):
    found = diagnosis_facts([treatment], [codes])
    assert {name: found[name].tolist() for name in FACT_NAMES} == {
        name: [value] for name, value in {**NO_FACTS, **facts}.items()}


def test_many_claims_at_once_get_the_facts_of_each_alone(varied_frame):
    treatments, codes = varied_frame["treatment"].to_numpy(), varied_frame["diagnosis_codes"].to_numpy()
    together = diagnosis_facts(treatments, codes)
    assert together["diagnosis_count"].dtype == np.int64
    assert all(together[name].dtype == bool for name in FACT_NAMES if name != "diagnosis_count")
    for row in range(0, len(varied_frame), 7):
        alone = diagnosis_facts(treatments[row:row + 1], codes[row:row + 1])
        assert {name: together[name][row] for name in FACT_NAMES} == {name: alone[name][0] for name in FACT_NAMES}


def test_frame_to_columns_gives_one_array_per_contract_column_the_frame_has(varied_frame):
    frame = varied_frame.drop(columns=["benefit_limit"]).assign(approved=True)
    columns = frame_to_columns(frame)
    assert list(columns) == [name for name in CLEAN_COLUMNS if name != "benefit_limit"]
    for name, values in columns.items():
        # category and string columns stay pandas arrays (read by their codes), the others are numpy arrays
        is_text = isinstance(frame[name].dtype, (pd.CategoricalDtype, pd.StringDtype))
        assert isinstance(values, pd.api.extensions.ExtensionArray if is_text else np.ndarray), name
        pd.testing.assert_series_equal(pd.Series(values), frame[name].reset_index(drop=True), check_names=False)


def test_columns_facts_are_the_facts_of_the_treatment_and_code_columns(varied_frame):
    columns = frame_to_columns(varied_frame)
    expected = diagnosis_facts(varied_frame["treatment"], varied_frame["diagnosis_codes"])
    found = columns_facts(columns)
    for name in FACT_NAMES:
        np.testing.assert_array_equal(found[name], expected[name])


def test_facts_of_rows_are_the_facts_of_those_rows_in_that_order(varied_frame):
    columns = frame_to_columns(varied_frame)
    rows = np.array([5, 0, 5, 42])
    picked = facts_of_rows(columns_facts(columns), rows)
    expected = columns_facts({name: values[rows] for name, values in columns.items()})
    for name in FACT_NAMES:
        np.testing.assert_array_equal(picked[name], expected[name])


@pytest.mark.parametrize("codes, joined", [(["G43709", "Z6835"], "G43709;Z6835"), (["G43709"], "G43709"), ([], "")])
def test_codes_join_into_the_frame_form_and_split_back(codes, joined):
    assert join_codes(codes) == joined
    assert split_codes(joined) == codes
