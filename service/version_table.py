"""The plain-text table the serving monitor and the outcomes report print: one row per figure, one
column per served model version."""
from __future__ import annotations


def version_table(label: str, keys, columns: list[dict], heads: list[str], counts: set[str],
                  large_decimals: int = 1) -> list[str]:
    """The header line and a line per key; a key in `counts` prints as a whole number, a figure of
    100 or more with `large_decimals` decimals, a smaller one with four, a missing one as '-'."""
    keys = list(keys)
    width = max(len(key) for key in [label, *keys])
    lines = [f"{label:<{width}}  " + "  ".join(f"{head:>12}" for head in heads)]
    for key in keys:
        cells = (_cell(column.get(key), key in counts, large_decimals) for column in columns)
        lines.append(f"{key:<{width}}  " + "  ".join(f"{cell:>12}" for cell in cells))
    return lines


def _cell(value, count: bool, large_decimals: int) -> str:
    if value is None:
        return "-"
    if count:
        return f"{int(value):,}"
    return f"{value:.4f}" if abs(value) < 100 else f"{value:,.{large_decimals}f}"
