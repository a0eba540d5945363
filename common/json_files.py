"""Strict JSON files: NaN and infinities become null, numpy scalars plain numbers, so every
report, evaluation and manifest the project writes is readable by any JSON parser."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


def write_json(payload, path: Path) -> Path:
    """Strict JSON (NaN and infinities become null; numpy scalars plain numbers)."""
    path.write_text(json_text(payload))
    return path


def json_text(payload) -> str:
    """`payload` as strict JSON text, as write_json writes it."""
    return json.dumps(_plain(payload), indent=2, allow_nan=False)


def _plain(value):
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)
