"""The demo suites' shared sample history (tests/training/demo/sample_history.py), written once."""
from __future__ import annotations

import pytest

from tests.training.demo.sample_history import first_rule_hits, write_sample_history


@pytest.fixture(scope="package")
def history(tmp_path_factory):
    """One 20k-row CSV history: the generation summary, the raw text, its truth file and the loader's clean frame."""
    return write_sample_history(tmp_path_factory.mktemp("history"))


@pytest.fixture(scope="package")
def rule_hits(history):
    _, _, _, clean = history
    return first_rule_hits(clean)
