"""Which types a model file may name: skops loads nothing outside this allow-list."""
from __future__ import annotations

import importlib

# skops loads only types from these packages; anything else in a model file is refused. Not
# "builtins.": a model file naming builtins.exec or builtins.getattr (as a FunctionTransformer's func,
# say) would pass, and no model we save holds a builtins type.
TRUSTED_MODULE_PREFIXES = ("sklearn.", "numpy.", "scipy.", "features.")


class UntrustedTypesError(ValueError):
    """A model file names a type outside the allow-list (`trusted_type`); nothing of it was loaded."""


def trusted_type(name: str) -> bool:
    """A class from a trusted package. Functions are refused even there: `numpy.load` as a
    FunctionTransformer's func would unpickle whatever file a model names, and no model we
    save holds a function."""
    if not name.startswith(TRUSTED_MODULE_PREFIXES):
        return False
    module, _, attribute = name.rpartition(".")
    try:
        found = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError):
        return False
    return isinstance(found, type)
