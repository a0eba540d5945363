"""CARC descriptions: every code the rules and the catalog deny with is described; others describe themselves."""
import pytest

from features.carc import carc_descriptions, describe_carc
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
