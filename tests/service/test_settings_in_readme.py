"""The README's settings table is the service's: every setting, with the same meaning and default."""
from pathlib import Path

from service.settings import default_settings

ROOT = Path(__file__).resolve().parents[2]


def _table_rows(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines() if line.strip().startswith("| `")}


def test_every_setting_is_in_the_readme_table_as_in_settings_py():
    readme = (ROOT / "README.md").read_text()
    documented = (ROOT / "service" / "settings.py").read_text().split('"""')[1]
    assert _table_rows(documented) <= _table_rows(readme)
    for name in default_settings():
        assert f"| `{name}` |" in readme, name
