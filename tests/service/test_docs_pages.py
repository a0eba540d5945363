"""The generated pages of docs/ are current, and the contract page says what the shared contract says."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from features import contract
from features.contract_page import FIELD_NOTES, render
from scoring.realised import ALARM_MIN_CLAIMS
from service.docs_pages import (CONTRACT_PAGE, DATA_TEAM_PAGE, OPERATIONS_PAGE, main, numbers_table, settings_table,
                                stale_pages)
from service.settings import default_settings

SHARED_CONTRACT = Path(__file__).resolve().parents[3] / "shared" / "specs" / "claims-contract.md"


def test_the_committed_pages_are_what_the_code_writes():
    assert stale_pages() == [], "run python -m service.docs_pages"
    assert main(["--check"]) == 0


def test_the_settings_section_lists_every_setting():
    page = OPERATIONS_PAGE.read_text(encoding="utf-8")
    for name in default_settings():
        assert f"| `{name}` |" in settings_table(), name
        assert f"| `{name}` |" in page, name


def test_the_data_team_page_shows_the_numbers_the_code_sets():
    table = numbers_table()
    assert table in DATA_TEAM_PAGE.read_text(encoding="utf-8")
    assert f"| {ALARM_MIN_CLAIMS:,} | `ALARM_MIN_CLAIMS`" in table  # each number beside the name the code gives it


def test_a_field_without_words_cannot_be_rendered(monkeypatch):
    monkeypatch.delitem(FIELD_NOTES, "patient_age")
    with pytest.raises(KeyError, match="patient_age"):
        render()


def test_the_contract_page_lists_every_field_the_code_checks_in_order():
    page = CONTRACT_PAGE.read_text(encoding="utf-8")
    listed = re.findall(r"^\| `(\w+)` \|", page.split("## Treatment keys")[0], flags=re.M)
    assert listed == list(contract.VISIT_FIELDS)
    assert f"({contract.CONTRACT_VERSION})" in page.splitlines()[0]


def test_the_contract_page_agrees_with_the_shared_contract():
    """The code's fields and their requirements are the shared specification's (when it is beside the checkout)."""
    if not SHARED_CONTRACT.is_file():
        pytest.skip("shared/ is not beside this checkout")
    spec = SHARED_CONTRACT.read_text(encoding="utf-8")
    visit_table = spec.split("## Visit fields")[1].split("\n\n")[1]
    spec_fields = {}
    for line in visit_table.splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        spec_fields[cells[0]] = cells[2]
    assert list(spec_fields) == list(contract.VISIT_FIELDS)
    for name, (_, history, request, _) in contract.VISIT_FIELDS.items():
        required = spec_fields[name]
        assert required.startswith("yes") == (history and request), name
        assert required.startswith("history: yes") == (history and not request), name
    assert f"({contract.CONTRACT_VERSION})" in spec.splitlines()[0]


def test_the_coverage_facts_page_is_the_shared_one():
    """docs/coverage-facts.md is the repository's copy of the facts the catalog cites, so a clone can read them."""
    shared = SHARED_CONTRACT.parents[1] / "domain" / "coverage-facts.md"
    if not shared.is_file():
        pytest.skip("shared/ is not beside this checkout")
    copy = CONTRACT_PAGE.parent / "coverage-facts.md"
    assert copy.read_text(encoding="utf-8") == shared.read_text(encoding="utf-8"), (
        "copy ../shared/domain/coverage-facts.md to docs/coverage-facts.md")
