"""Where the project lives: the checkout (or installed tree) every default path is under."""
from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
VAR_DIR = PROJECT_ROOT / "var"  # what the project generates: stores, demo data, jobs (owner-only, 0700)
