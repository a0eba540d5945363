"""The pages of docs/ that the code writes, so they cannot drift from it:

- `docs/contract.md`, the claims data contract, from `features.contract` (`features.contract_page`);
- the settings table of `docs/operations.md`, from `service/settings.py`'s own table, between the
  page's `<!-- settings -->` and `<!-- /settings -->` marks (the prose around it is written by hand).

    python -m service.docs_pages          # write them
    python -m service.docs_pages --check  # exit 1 and name the stale pages (what `make test` checks)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common.paths import PROJECT_ROOT
from features import contract_page
from service import settings

DOCS = PROJECT_ROOT / "docs"
CONTRACT_PAGE = DOCS / "contract.md"
OPERATIONS_PAGE = DOCS / "operations.md"
SETTINGS_START, SETTINGS_END = "<!-- settings -->", "<!-- /settings -->"


def settings_table() -> str:
    """The table of service/settings.py's docstring, the one place every setting is listed."""
    return "\n".join(line for line in settings.__doc__.splitlines() if line.startswith("|"))


def with_settings_table(page: str) -> str:
    """The operations page with its marked section replaced by the current settings table."""
    if SETTINGS_START not in page or SETTINGS_END not in page:
        raise ValueError(f"{OPERATIONS_PAGE.name} has no {SETTINGS_START} ... {SETTINGS_END} section")
    before, rest = page.split(SETTINGS_START, 1)
    after = rest.split(SETTINGS_END, 1)[1]
    return f"{before}{SETTINGS_START}\n{settings_table()}\n{SETTINGS_END}{after}"


def expected_pages() -> dict[Path, str]:
    """Each generated page and the text it should have now."""
    return {
        CONTRACT_PAGE: contract_page.render(),
        OPERATIONS_PAGE: with_settings_table(OPERATIONS_PAGE.read_text(encoding="utf-8")),
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
