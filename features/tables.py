"""The domain's versioned data tables (features/data/): read with their declared version, and the
version that travels with answers, the declared one plus a hash of the table, so that an edit
that forgets to bump the declared version still shows."""
from __future__ import annotations

import csv
import hashlib
from importlib import resources


def read_table(table_file: str, version_file: str) -> tuple[list[dict], str, str]:
    """(rows as dicts of strings, declared version, the table's text) of a table in features/data."""
    data = resources.files("features.data")
    text = data.joinpath(table_file).read_text(encoding="utf-8")
    declared = data.joinpath(version_file).read_text(encoding="utf-8").strip()
    return list(csv.DictReader(text.splitlines())), declared, text


def table_version(declared_version: str, table_text: str) -> str:
    return f"{declared_version}+{hashlib.sha256(table_text.encode('utf-8')).hexdigest()[:8]}"
