"""The prior-authorization table: the plan, the setting and the service decide, each row sourced."""
import csv
from importlib import resources

import pytest

from features.catalog import load_catalog
from features.prior_authorization import (TABLE_FILE, AuthorizationTableError, load_authorization_table,
                                          parse_table)


def required(plan, treatment, code="", place="11"):
    return load_authorization_table().requirement(plan, treatment, code, place).required


@pytest.mark.parametrize("plan, treatment, code, place, expected", [
    # traditional Medicare: no prior authorization in an office or clinic, whatever the catalog says
    ("medicare", "botulinum_toxin", "64615", "11", False),
    ("medicare", "photodynamic_therapy", "96567", "11", False),
    ("medicare", "sclerotherapy", "36471", "11", False),
    ("medicare", "dermal_filler", "G0429", "11", False),
    ("medicare", "weight_management", "G0447", "11", False),
    # ... but its hospital outpatient department program (42 CFR 419.83) at POS 19/22
    ("medicare", "botulinum_toxin", "64615", "22", True),
    ("medicare", "botulinum_toxin", "64612", "19", True),
    ("medicare", "botulinum_toxin", "64650", "22", False),  # not an injection code of the list
    ("medicare", "blepharoplasty", "15823", "22", True),
    ("medicare", "blepharoplasty", "", "19", True),
    ("medicare", "sclerotherapy", "36470", "22", True),
    ("medicare", "blepharoplasty", "15823", "24", False),  # an ambulatory surgery center is not the program's
    # Medicare Advantage, commercial plans and Medicaid: the catalog's list, wherever the visit is
    ("medicare_advantage", "botulinum_toxin", "64615", "11", True),
    ("ppo", "blepharoplasty", "15823", "24", True),
    ("medicaid", "sclerotherapy", "36471", "11", True),
    ("hmo", "photodynamic_therapy", "96567", "11", False),
    ("ppo", "massage_therapy", "97124", "11", False),
])
def test_the_plan_and_the_setting_decide(plan, treatment, code, place, expected):
    assert required(plan, treatment, code, place) is expected


def test_a_blank_place_of_service_follows_the_facility():
    table = load_authorization_table()
    assert table.requirement("medicare", "blepharoplasty", "15823", None, "hospital_outpatient").required is True
    assert table.requirement("medicare", "blepharoplasty", "15823", None, "physician_office").required is False


def test_an_unresolved_shared_code_depends_on_the_treatment_only_where_its_candidates_disagree():
    assert required("ppo", "laser_hair_removal|tattoo_removal") is None
    assert required("ppo", "acne_treatment|scar_treatment") is False
    assert required("medicare", "laser_hair_removal|tattoo_removal") is False  # Medicare asks for neither
    assert required("ppo", "unlisted") is None


def test_every_answer_names_the_source_it_rests_on():
    table = load_authorization_table()
    assert "419.83" in table.requirement("medicare", "blepharoplasty", "15823", "22").source
    assert "catalog" in table.requirement("ppo", "blepharoplasty", "15823", "22").source
    # the ASC demonstration states are named where traditional Medicare is answered
    assert "AZ, CA, FL, GA, MD, NY, OH, PA, TN, TX" in table.requirement("medicare", "blepharoplasty", "", "24").source


def test_the_commercial_answer_is_the_catalog_s_for_every_treatment():
    for treatment in load_catalog().treatments.values():
        assert required("ppo", treatment.key) is treatment.requires_prior_authorization


def test_the_version_is_declared_and_hashed():
    declared, digest = load_authorization_table().version.split("+")
    assert declared and len(digest) == 8


def _rows():
    return list(csv.DictReader(resources.files("features.data").joinpath(TABLE_FILE).read_text().splitlines()))


@pytest.mark.parametrize("column, value, message", [
    ("requires", "maybe", "requires"),
    ("plan_types", "tricare", "plan_types"),
    ("treatments", "botox", "treatments"),
    ("source", "", "source"),
])
def test_a_malformed_row_is_refused_naming_its_column(column, value, message):
    rows = _rows()
    rows[0] = {**rows[0], column: value}
    with pytest.raises(AuthorizationTableError, match=message):
        parse_table(rows, "test", "text")


def test_the_last_row_must_answer_every_claim():
    with pytest.raises(AuthorizationTableError, match="last row"):
        parse_table(_rows()[:-1], "test", "text")
