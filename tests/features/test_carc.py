"""CARC descriptions: every code the rules and the catalog deny with is described; others describe themselves."""
import pytest

from features.carc import carc_descriptions, carc_group_code, describe_carc
from features.catalog import load_catalog
from features.rules import load_rules


def test_every_code_the_rules_and_the_catalog_deny_with_has_a_description():
    used = {rule.carc for rule in load_rules().rules}
    used |= {treatment.never_covered_carc for treatment in load_catalog().treatments.values()
             if treatment.never_covered}
    assert used and used <= set(carc_descriptions())


def test_the_table_holds_numeric_codes_with_one_line_descriptions():
    descriptions = carc_descriptions()
    assert len(descriptions) >= 20
    for code, description in descriptions.items():
        assert code.isdigit(), code
        assert description.strip() and "\n" not in description, code


@pytest.mark.parametrize("code, expected", [
    ("96", "Non-covered charge"),
    ("197", "Precertification / authorization absent"),
    ("202", "Non-covered personal comfort or convenience services"),
    ("9999", "Claim adjustment reason code 9999"),  # a code the table lacks names itself
])
def test_describe_carc(code, expected):
    assert describe_carc(code) == expected


def test_every_code_has_a_group_code_and_every_rule_carries_its_code_s_group():
    assert all(carc_group_code(code) in ("CO", "PR") for code in carc_descriptions())
    for rule in load_rules().rules:
        assert rule.group_code == carc_group_code(rule.carc) and rule.to_dict()["group_code"], rule.rule_id


@pytest.mark.parametrize("code, group", [
    ("96", "PR"),  # a cosmetic service the patient chose
    ("204", "PR"),  # not a benefit of the plan
    ("55", "CO"),  # investigational: the provider should have known
    ("50", "CO"),  # medical necessity without a signed notice
    ("9999", None),
])
def test_carc_group_code(code, group):
    assert carc_group_code(code) == group
