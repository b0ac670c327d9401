"""Service names: every source spells them differently; one canonical name decides the split."""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from pathlib import Path

from train.errors import DataError
from train.paths import REPO_ROOT

DEFAULT_ALIASES = REPO_ROOT / "data" / "service_aliases.csv"
_TLD = re.compile(r"\.(com|org|net|io|co|us|de|fr|uk|co\.uk|com\.au|app|tv|me|ai|gg|info|eu)$")
_SEP = re.compile(r"[\s_\-]+")


def _key(name: str) -> str:
    key = name.strip().casefold()
    key = re.sub(r"^https?://", "", key)
    key = re.sub(r"^www\.", "", key)
    return _SEP.sub(" ", key).strip()


@lru_cache(maxsize=4)
def load_aliases(path: str | Path = DEFAULT_ALIASES) -> dict[str, str]:
    """Read the committed alias table (`alias,service`); aliases compare case-insensitively."""
    path = Path(path)
    table: dict[str, str] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for line_no, row in enumerate(csv.DictReader(fh), start=2):
            alias, service = (row.get("alias") or "").strip(), (row.get("service") or "").strip()
            if not alias or not service:
                raise DataError(path, "each row needs `alias` and `service`", line_no)
            key = _key(alias)
            if key in table and table[key] != service:
                raise DataError(path, f"alias {alias!r} maps to two services", line_no)
            table[key] = service
    return table


def canonical_service(name: str, aliases: dict[str, str] | None = None) -> str:
    """One name per real-world service: the alias table first, then a normalised form
    (lower case, no `www.`, no common top-level domain, separators folded)."""
    aliases = load_aliases() if aliases is None else aliases
    key = _key(name)
    stripped = _TLD.sub("", key)
    found = aliases.get(key) or aliases.get(stripped) or stripped or key
    # Slugs ("westernunion") and display names ("Western Union") must meet: drop the spaces.
    return found.replace(" ", "")
