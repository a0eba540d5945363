"""Coverage.type and the place of service in the contract's words, and the policy links: codes a
table names are read, the rest stay unmapped rather than guessed."""
from __future__ import annotations

import pytest

from service.cds_hooks.coverage_types import ACT_CODE_SYSTEM, facility_of_place, facility_of_role, plan_type_of
from service.cds_hooks.policy_links import citation_links
from tests.service.cds_hooks.crd_examples import SOPT


@pytest.mark.parametrize("codings, text, plan_type", [
    ([(SOPT, "111")], None, "medicare_advantage"),
    ([(SOPT, "121")], None, "medicare"),
    ([(SOPT, "1")], None, None),  # Medicare, not said which: traditional and Advantage are judged apart
    ([(SOPT, "5")], None, None),
    ([(SOPT, "514")], None, "epo"),
    ([(SOPT, "213")], None, "medicaid"),
    ([(ACT_CODE_SYSTEM, "HMO")], None, "hmo"),
    ([(SOPT, "511"), (ACT_CODE_SYSTEM, "PPO")], None, None),  # two plan types named: none
    ([(SOPT, "111"), (ACT_CODE_SYSTEM, "HMO")], "anything", None),
    ([], "  Medicare   Advantage ", "medicare_advantage"),
    ([], "High Deductible Health Plan", "hdhp"),
    ([], "Gold plan", None),
    ([("http://example.org/local-plans", "111")], None, None),  # a code of a system we do not know
])
def test_the_plan_type_comes_from_a_known_code_or_a_plans_plain_name(codings, text, plan_type):
    assert plan_type_of(codings, text) == plan_type


@pytest.mark.parametrize("code, facility", [("11", "physician_office"), ("22", "hospital_outpatient"),
                                            ("19", "hospital_outpatient"), ("24", "ambulatory_surgery_center"),
                                            ("02", None), ("99", None)])
def test_place_of_service_codes_name_the_contracts_facilities(code, facility):
    assert facility_of_place(code) == facility


def test_role_codes_name_clinics_and_nothing_else():
    assert facility_of_role("derm") == "dermatology_clinic" and facility_of_role("HOSP") is None


def test_policy_citations_with_a_stable_address_become_links_the_others_stay_text():
    links = citation_links("Aetna CPB 0084; LCD L34411; Medicare NCD 250.5; UHC CDG.007; LCD L34411")
    assert [link["url"] for link in links] == [
        "https://www.aetna.com/cpb/medical/data/1_99/0084.html",
        "https://www.cms.gov/medicare-coverage-database/view/lcd.aspx?lcdid=34411"]
    assert all(link["type"] == "absolute" for link in links)
