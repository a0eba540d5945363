"""The independent "alt" world under its first name. It now lives in tests/training/worlds/
(commercial.py: a PPO-heavy commercial payer that disagrees with our tables in places; beside it
managed_care.py, a second payer); `write_alt_history` stays for the places that name it."""
from __future__ import annotations

from tests.training.worlds.commercial import write_history as write_alt_history

__all__ = ["write_alt_history"]
