"""Each fact lives in one module and is imported: every constant below is defined in its home
and nowhere else (an AST scan of every module of the rooms, class bodies included), no module
spells the decision values or the approved outcomes as a literal list of its own, and the page's
script and templates hold no decision value (the server renders them into the page)."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from features.contract import APPROVED_OUTCOMES
from scoring.decisions import DECISION_BANDS

ROOT = Path(__file__).resolve().parents[1]
ROOMS = ("common", "features", "claims_io", "scoring", "training", "service")

# name -> the one module that assigns it. The last five once meant different things in different
# modules; each kept the name only where it means what it says.
HOMES = {
    "LIKELY_APPROVED": "scoring.decisions",
    "UNCERTAIN": "scoring.decisions",
    "LIKELY_DENIED": "scoring.decisions",
    "EXCLUDED": "scoring.decisions",
    "DECISION_BANDS": "scoring.decisions",
    "DENYING_BANDS": "scoring.decisions",
    "APPROVED_OUTCOMES": "features.contract",
    "MONOTONIC_FLAGS": "features.contract",
    "MONOTONIC_INCREASING_FEATURES": "features.pipeline",
    "MONOTONIC_DECREASING_FEATURES": "features.pipeline",
    "TRACKING_URI_HELP": "scoring.mlflow_store",
    "HISTORY_COLUMNS": "claims_io.fields",
    "QUARANTINE_COLUMNS": "claims_io.quarantine",
    "SLICE_COLUMNS": "training.evaluation",
    "BENEFIT_REMAINING": "features.contract",
}
# Names that meant several things and are gone: each holder now says what it holds.
RETIRED = ("DECISIONS",)


def _modules() -> dict[str, ast.Module]:
    found = {}
    for room in ROOMS:
        for path in sorted((ROOT / room).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[name] = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return found


MODULES = _modules()


def _assigned_names(tree: ast.Module) -> set[str]:
    """Names bound by assignment at module level or in a class body (not inside functions)."""
    names: set[str] = set()

    def targets(node) -> list[str]:
        if isinstance(node, ast.Name):
            return [node.id]
        if isinstance(node, (ast.Tuple, ast.List)):
            return [name for element in node.elts for name in targets(element)]
        return []

    def visit(body) -> None:
        for node in body:
            if isinstance(node, ast.Assign):
                names.update(name for target in node.targets for name in targets(target))
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                names.update(targets(node.target))
            elif isinstance(node, ast.ClassDef):
                visit(node.body)

    visit(tree.body)
    return names


def _string_collections(tree: ast.Module):
    """Every tuple, list or set literal and its string elements."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            yield node, {element.value for element in node.elts
                         if isinstance(element, ast.Constant) and isinstance(element.value, str)}


@pytest.mark.parametrize("name", sorted(HOMES))
def test_each_fact_is_defined_in_its_home_only(name):
    home = HOMES[name]
    assert hasattr(importlib.import_module(home), name), f"{home} does not define {name}"
    defining = sorted(module for module, tree in MODULES.items() if name in _assigned_names(tree))
    assert defining == [home], f"{name} is assigned in {defining}; import it from {home}"


@pytest.mark.parametrize("name", RETIRED)
def test_names_that_meant_several_things_are_gone(name):
    assert not [module for module, tree in MODULES.items() if name in _assigned_names(tree)]


@pytest.mark.parametrize("values, home", [(set(DECISION_BANDS), "scoring.decisions"),
                                          (set(APPROVED_OUTCOMES), "features.contract")],
                         ids=["decision values", "approved outcomes"])
def test_no_module_lists_the_values_itself(values, home):
    # two of the values together in one literal is a copy of the list (one alone names a thing)
    copies = [f"{module}:{node.lineno}" for module, tree in MODULES.items() if module != home
              for node, strings in _string_collections(tree) if len(strings & values) >= 2]
    assert not copies, f"literal copies of {sorted(values)}: {copies}; import them from {home}"


def test_the_page_holds_no_decision_value_of_its_own():
    service = ROOT / "service"
    for path in [service / "static" / "page.js", *sorted((service / "templates").glob("*.html"))]:
        text = path.read_text(encoding="utf-8")
        for decision in DECISION_BANDS:
            for quoted in (f'"{decision}"', f"'{decision}'", f"{decision}:"):
                assert quoted not in text, f"{path.name} names the decision {decision}: render it from the server"


def test_the_tracking_uri_option_is_described_once():
    help_text = importlib.import_module("scoring.mlflow_store").TRACKING_URI_HELP
    copies = [module for module, tree in MODULES.items() if module != "scoring.mlflow_store"
              for node in ast.walk(tree) if isinstance(node, ast.Constant) and node.value == help_text]
    assert not copies, f"the --tracking-uri help is copied in {copies}: use scoring.mlflow_store.TRACKING_URI_HELP"
