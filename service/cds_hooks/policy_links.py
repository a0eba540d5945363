"""Links to the public policies the catalog and the rules cite, for the cards' `links`.

Only citations whose address follows a stable public pattern become links: Medicare LCDs in the
Medicare Coverage Database (`LCD L33646`) and Aetna clinical policy bulletins (`Aetna CPB 0113`).
The others (NCDs, whose database ids are not their section numbers; UnitedHealthcare, Anthem,
Independence, Cigna policies) stay text in the card's detail.
"""
from __future__ import annotations

import re

_LCD = re.compile(r"\bLCD L(\d{5})\b")
_AETNA_CPB = re.compile(r"\bAetna CPB (\d{4})\b")


def citation_links(sources: str) -> list[dict]:
    """CDS Hooks links for the citations of a `;`-separated source text, each once, in order."""
    links: dict[str, dict] = {}
    for citation in (part.strip() for part in sources.split(";") if part.strip()):
        if match := _LCD.search(citation):
            url = f"https://www.cms.gov/medicare-coverage-database/view/lcd.aspx?lcdid={int(match.group(1))}"
        elif match := _AETNA_CPB.search(citation):
            number = int(match.group(1))
            low = number // 100 * 100
            url = f"https://www.aetna.com/cpb/medical/data/{max(low, 1)}_{low + 99}/{match.group(1)}.html"
        else:
            continue
        links.setdefault(url, {"label": citation[:80], "url": url, "type": "absolute"})
    return list(links.values())
