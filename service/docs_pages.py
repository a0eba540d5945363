"""The pages of docs/ that the code writes, so they cannot drift from it:

- `docs/contract.md`, the claims data contract, from `features.contract` (`features.contract_page`);
- the settings table of `docs/operations.md`, from `service/settings.py`'s own table, between the
  page's `<!-- settings -->` and `<!-- /settings -->` marks (the prose around it is written by hand);
- the numbers the code sets for the data team (the split, the minimums and the outcomes alarm's
  limits), between `docs/data-team.md`'s `<!-- numbers -->` and `<!-- /numbers -->` marks.

    python -m service.docs_pages          # write them
    python -m service.docs_pages --check  # exit 1 and name the stale pages (what `make test` checks)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common.paths import PROJECT_ROOT
from features import contract_page
from scoring import params, profile, realised
from service import settings
from training.data import split

DOCS = PROJECT_ROOT / "docs"
CONTRACT_PAGE = DOCS / "contract.md"
OPERATIONS_PAGE = DOCS / "operations.md"
DATA_TEAM_PAGE = DOCS / "data-team.md"


def settings_table() -> str:
    """The table of service/settings.py's docstring, the one place every setting is listed."""
    return "\n".join(line for line in settings.__doc__.splitlines() if line.startswith("|"))


def numbers_table() -> str:
    """The numbers readers of the data-team page act on, each with the name the code gives it."""
    train = 1 - split.DEFAULT_VALIDATION_FRACTION - split.DEFAULT_TEST_FRACTION
    rows = [
        ("the split by service date (train, validation, test)",
         f"the oldest {train:.0%}, the next {split.DEFAULT_VALIDATION_FRACTION:.0%}, "
         f"the newest {split.DEFAULT_TEST_FRACTION:.0%}",
         f"`DEFAULT_VALIDATION_FRACTION`, `DEFAULT_TEST_FRACTION` (`{split.__name__}`)"),
        ("held out of train and validation, from every period, for early stopping and calibration",
         f"a random {params.ModelParams().holdout_fraction:.0%}", f"`ModelParams.holdout_fraction` (`{params.__name__}`)"),
        ("served claims per model version before `monitor` calls drift",
         f"{profile.PSI_MIN_CLAIMS:,}", f"`PSI_MIN_CLAIMS` (`{profile.__name__}`)"),
        ("adjudicated claims per model version before `outcomes report` calls the alarm",
         f"{realised.ALARM_MIN_CLAIMS:,}", f"`ALARM_MIN_CLAIMS` (`{realised.__name__}`)"),
        ("the alarm: realised Brier above the training run's test Brier by more than",
         f"{realised.MAX_BRIER_RISE}", f"`MAX_BRIER_RISE` (`{realised.__name__}`)"),
        ("the alarm: realised ECE above the training run's test ECE by more than",
         f"{realised.MAX_ECE_RISE}", f"`MAX_ECE_RISE` (`{realised.__name__}`)"),
    ]
    return "\n".join(["| what | value | in the code |", "|---|---|---|"]
                     + [f"| {what} | {value} | {name} |" for what, value, name in rows])


def with_section(page: Path, name: str, table: str) -> str:
    """`page`'s text with its `<!-- name -->` ... `<!-- /name -->` section replaced by `table`."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    text = page.read_text(encoding="utf-8")
    if start not in text or end not in text:
        raise ValueError(f"{page.name} has no {start} ... {end} section")
    before, rest = text.split(start, 1)
    after = rest.split(end, 1)[1]
    return f"{before}{start}\n{table}\n{end}{after}"


def expected_pages() -> dict[Path, str]:
    """Each generated page and the text it should have now."""
    return {
        CONTRACT_PAGE: contract_page.render(),
        OPERATIONS_PAGE: with_section(OPERATIONS_PAGE, "settings", settings_table()),
        DATA_TEAM_PAGE: with_section(DATA_TEAM_PAGE, "numbers", numbers_table()),
    }


def stale_pages() -> list[Path]:
    return [path for path, text in expected_pages().items()
            if not path.is_file() or path.read_text(encoding="utf-8") != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.docs_pages", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say which pages are stale (exit 1 if any)")
    if parser.parse_args(argv).check:
        stale = stale_pages()
        for path in stale:
            print(f"{path.relative_to(PROJECT_ROOT)} is stale: run python -m service.docs_pages", file=sys.stderr)
        return 1 if stale else 0
    for path, text in expected_pages().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
