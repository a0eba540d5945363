"""The example answer is what a fresh `make serve` gives: the bootstrap's own champion (its demo
history of DEMO_ROWS claims from its seed, its default training) answers the curl request of the
README's first request, and every value each page's abridged answer shows (the README's short cut,
docs/answers.md's longer one) is in that answer, in order.

This is the one test that trains at full size (a couple of minutes), because nothing smaller is
the champion a newcomer meets.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from service.bootstrap import ensure_champion
from tests.service.service_testing import API_KEY

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# Each page that shows the example: its file, and the headings its section starts at and ends before
# (the section's first code block is the curl request, its second the abridged answer).
EXAMPLE_SECTIONS = {
    "README": (ROOT / "README.md", "## The first request", "\n## "),
    "answers": (ROOT / "docs" / "answers.md", "## An example", "## What the numbers of an answer mean"),
}
# Training's float sums follow the SIMD kernels numpy and OpenBLAS pick for the CPU (AVX-512 or
# AVX2 ...), so another CPU trains a champion a hair apart: against the README's numbers, an
# AVX2 AMD EPYC's fresh champion differed by up to 0.0084 (log-odds,
# probabilities, gains) and $0.44 in the expected amount (2026-12-02). Numbers are compared within
# these, a little over twice that; keys, order, decisions, codes and wording must match exactly.
CROSS_CPU_TOLERANCE = 0.02
CROSS_CPU_DOLLARS = 1.0  # amounts in dollars: the probability's difference times the billed amount
PAIR = re.compile(r'"(\w+)": ("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|true|false|null|\[\])')


def example_section(page: str = "README") -> str:
    path, start, end = EXAMPLE_SECTIONS[page]
    text = path.read_text(encoding="utf-8")
    begin = text.index(start)
    return text[begin:text.index(end, begin + len(start))]


def readme_request(page: str = "README") -> dict:
    curl = re.findall(r"```\n(.*?)```", example_section(page), flags=re.S)[0]
    return json.loads(curl[curl.index("-d '") + 4:curl.rindex("'")])


def readme_answer_pairs(page: str = "README") -> list[tuple[str, str]]:
    """(key, value as printed) in the page's order."""
    block = re.findall(r"```\n(.*?)```", example_section(page), flags=re.S)[1]
    return [(match[1], match[2]) for match in PAIR.finditer(block)]


def tolerance_for(key: str) -> float:
    return CROSS_CPU_DOLLARS if key in ("amount", "payable_if_approved") else CROSS_CPU_TOLERANCE


def flattened(value, key: str | None = None):
    """(key, value) of every scalar in document order, lists of scalars as one value."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from flattened(item, name)
    elif isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        for item in value:
            yield from flattened(item, key)
    else:
        yield key, value


def agrees(printed: str, actual, tolerance: float = 0.0) -> bool:
    if printed.startswith('"'):
        fragments = json.loads(printed).split("...")  # an abridged string: its parts, in order
        position = 0
        for fragment in (part.strip() for part in fragments):
            position = str(actual).find(fragment, position) if isinstance(actual, str) else -1
            if position < 0:
                return False
        return True
    if printed in ("true", "false", "null", "[]"):
        return actual == json.loads(printed)
    if isinstance(actual, bool) or not isinstance(actual, (int, float)):
        return False
    decimals = len(printed.partition(".")[2])
    return abs(actual - float(printed)) <= tolerance + 10 ** -decimals + 1e-12


@pytest.fixture(scope="module")
def bootstrap_store(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("readme-bootstrap")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    version, trained = ensure_champion(uri, history_path=folder / "claims.parquet", models_dir=folder / "models",
                                       progress=False, echo=lambda line: None)
    assert (version, trained) == ("1", True)
    return uri


@pytest.fixture
def fresh_answer(bootstrap_store, make_app) -> list:
    app = make_app(TRACKING_URI=bootstrap_store)
    response = app.test_client().post("/v1/predict", json=readme_request(), headers={"X-API-Key": API_KEY})
    assert response.status_code == 200, response.get_json()
    return list(flattened(response.get_json()))


@pytest.mark.parametrize("page", EXAMPLE_SECTIONS)
def test_the_readme_example_is_the_fresh_champions_answer(page, fresh_answer):
    actual, position = fresh_answer, 0
    for key, printed in readme_answer_pairs(page):
        found = next((index for index in range(position, len(actual))
                      if actual[index][0] == key and agrees(printed, actual[index][1], tolerance_for(key))), None)
        shown = [value for name, value in actual[position:] if name == key][:3]
        assert found is not None, f"{page} says {key}: {printed}; the answer has {shown} from there on"
        position = found + 1


@pytest.mark.parametrize("page", EXAMPLE_SECTIONS)
def test_the_readme_example_parses_into_the_values_the_test_compares(page):
    pairs = readme_answer_pairs(page)
    keys = [key for key, _ in pairs]
    # what a front desk reads (summary, reasons in points, the patient's cost) and what decides it
    assert {"decision", "summary", "start_percent", "points", "approval_probability", "probability_after", "carc",
            "plan_pays"} <= set(keys)
    assert readme_request(page) == readme_request("README")
    assert readme_request(page)["claim_id"] == "A-17"
