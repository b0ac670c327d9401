"""Language of a document's clauses (py3langid on an evenly spaced sample): a mostly
non-English document is scored anyway and flagged in `documents.csv`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

# A document is flagged "mostly non-English" when under this share of its sampled clauses is English.
MOSTLY_NON_ENGLISH = 0.5
LANGUAGE_SAMPLE = 25  # clauses per document (or clause-file block) sent to language detection


def language_counts(texts: Sequence[str], sample: int = LANGUAGE_SAMPLE) -> dict[str, int]:
    """Detected language (py3langid) of up to `sample` evenly spaced texts, counted."""
    if not texts:
        return {}
    import py3langid

    step = max(1, len(texts) / sample)
    picked = [texts[int(i * step)] for i in range(min(sample, len(texts)))]
    return dict(Counter(py3langid.classify(t[:2000])[0] for t in picked))


def summarise_language(counts: dict[str, int]) -> tuple[str, float | None, bool]:
    """(main language, share of English samples, mostly non-English?)."""
    total = sum(counts.values())
    if not total:
        return "", None, False
    language = max(sorted(counts), key=counts.get)
    share = counts.get("en", 0) / total
    return language, share, share < MOSTLY_NON_ENGLISH
