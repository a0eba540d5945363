"""Where the project lives: the checkout (or installed tree) every default path is under."""
from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
