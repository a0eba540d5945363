"""The examples in features.encoders' docstrings run and show what they print.

Run here rather than with --doctest-modules so that `make test` (testpaths = tests) covers them.
"""
import doctest
import importlib
import inspect
import pkgutil

import pytest

import features.encoders
from features.encoders.base import BaseClaimsEncoder

MODULES = [name for _, name, _ in pkgutil.iter_modules(features.encoders.__path__, "features.encoders.")]


def defines_an_encoder(module) -> bool:
    return any(issubclass(value, BaseClaimsEncoder) and value is not BaseClaimsEncoder
               for _, value in inspect.getmembers(module, inspect.isclass) if value.__module__ == module.__name__)


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_pass(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module)  # prints each failing example, which pytest shows
    assert result.failed == 0
    if defines_an_encoder(module):
        assert result.attempted > 0, f"{module_name}: the encoder's docstring has no example"
