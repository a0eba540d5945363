from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def test_claims(better_split):
    """The `better` history's test split: the claims the reviews look at."""
    return better_split.test
