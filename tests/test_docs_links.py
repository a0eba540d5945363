"""Every relative link of the README, SECURITY.md and docs/ resolves inside the repository: its file
exists, and its #anchor is a heading of that file (as GitHub names headings). A clone has nothing
beside the repository, so a link out of it (../shared/...) fails too."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "SECURITY.md", *sorted((ROOT / "docs").glob("*.md"))]
# Pages other branches add, linked before they are merged. The lead empties this list once they are in.
NOT_YET_MERGED = {
}
FENCE = re.compile(r"^```.*?^```", flags=re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def prose(text: str) -> str:
    """The page without its code: a link or a heading in a code block is neither."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def anchors(page: Path) -> set[str]:
    """GitHub's ids for the page's headings: lower case, punctuation dropped, spaces as hyphens,
    a repeated heading numbered -1, -2, ..."""
    seen: Counter[str] = Counter()
    ids = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", FENCE.sub("", page.read_text(encoding="utf-8")), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        ids.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)
        seen[slug] += 1
    return ids


def links() -> list[tuple[Path, str]]:
    return [(page, target) for page in PAGES
            for target in LINK.findall(prose(page.read_text(encoding="utf-8")))
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target)]  # https:, mailto: ... are not ours to check


@pytest.mark.parametrize("page, target", links(), ids=lambda value: value.name if isinstance(value, Path) else value)
def test_the_link_resolves_inside_the_repository(page, target):
    path_part, _, anchor = target.partition("#")
    path = (page.parent / unquote(path_part)).resolve() if path_part else page
    assert path == ROOT or ROOT in path.parents, f"{page.name} links {target}, outside the repository"
    relative = path.relative_to(ROOT).as_posix()
    if relative in NOT_YET_MERGED:
        pytest.skip(f"{relative} is not merged yet")
    assert path.exists(), f"{page.name} links {target}: no {relative}"
    if anchor and path.suffix == ".md":
        assert anchor in anchors(path), f"{page.name} links {target}: {relative} has no heading #{anchor}"


def test_the_pages_have_links_to_check():
    assert len(links()) > 20
