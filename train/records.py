"""The clause record every source adapter produces, and its checks."""

from __future__ import annotations

from dataclasses import dataclass, field

from train.taxonomy import Taxonomy


@dataclass
class ClauseRecord:
    """One clause with the labels its source really annotates.

    `labels` maps a label name to 0/1 for annotated labels only; a label that is absent is masked
    (unknown), never negative.
    """

    id: str
    text: str
    source: str
    service: str
    document: str
    license: str
    labels: dict[str, int] = field(default_factory=dict)
    origin: str = "real"  # "real" text from a public source, or "team" (written for this project)

    def to_row(self, taxonomy: Taxonomy, split_service: str) -> dict:
        """Flatten into the dataset schema: multi-hot `labels` and `label_mask` in taxonomy order."""
        return {
            "id": self.id,
            "text": self.text,
            "labels": [int(self.labels.get(n, 0)) for n in taxonomy.names],
            "label_mask": [int(n in self.labels) for n in taxonomy.names],
            "source": self.source,
            "service": split_service,
            "document": self.document,
            "license": self.license,
            "origin": self.origin,
        }
