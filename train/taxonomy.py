"""The label taxonomy: names, definitions and their order, defined once in `data/taxonomy.yaml`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from train.errors import DataError
from train.paths import REPO_ROOT

DEFAULT_TAXONOMY = REPO_ROOT / "data" / "taxonomy.yaml"


@dataclass(frozen=True)
class Taxonomy:
    """Ordered label names with their definitions and a version string."""

    version: str
    names: tuple[str, ...]
    definitions: tuple[str, ...]

    def index(self, name: str) -> int:
        """Position of `name` in every label vector; raises KeyError naming the known labels."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(
                f"unknown label {name!r}; known labels: {', '.join(self.names)}"
            ) from None

    def __len__(self) -> int:
        return len(self.names)


def load_taxonomy(path: str | Path = DEFAULT_TAXONOMY) -> Taxonomy:
    """Read a taxonomy YAML (`version`, `labels: [{name, definition}]`) and check it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "taxonomy file not found")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    labels = raw.get("labels")
    if not isinstance(labels, list) or not labels:
        raise DataError(path, "expected a non-empty list under the key `labels:`")
    names, definitions = [], []
    for i, item in enumerate(labels):
        if not isinstance(item, dict) or not item.get("name"):
            raise DataError(path, f"label #{i + 1} needs a `name` (and a `definition`)")
        if item["name"] in names:
            raise DataError(path, f"label {item['name']!r} appears twice")
        names.append(str(item["name"]))
        definitions.append(str(item.get("definition", "")).strip())
    return Taxonomy(str(raw.get("version", "0")), tuple(names), tuple(definitions))
