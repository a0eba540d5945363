"""Claims worlds the project did not generate from its own tables, each with its own payer, its
own truth file and a statement of where that payer disagrees with our rules and catalog.

    from tests.training.worlds import WORLDS
    WORLDS["managed_care"].write("claims.parquet", rows=50_000, seed=0)
    WORLDS["managed_care"].disagreements   # (rule_id, treatment, diagnosis category, paid share), ...
    WORLDS["managed_care"].confirmed       # (rule_id, treatment or None), ...

world.py holds what every world shares (drawing, settling, the statement); commercial.py (the
"alt" world), managed_care.py and regional.py (the hardest: plan-specific behaviour, quirks in
sparse cells, a policy change mid-history) are the three payers; codebook.py the ICD-10-CM codes
they write.
"""
from __future__ import annotations

from tests.training.worlds import commercial, managed_care, regional

WORLDS = {world.name: world for world in (commercial.WORLD, managed_care.WORLD, regional.WORLD)}
