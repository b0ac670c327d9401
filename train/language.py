"""Language of a document's clauses (py3langid on an evenly spaced sample): a mostly
non-English document is scored anyway and flagged in `documents.csv`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

# A document is flagged "mostly non-English" when under this share of its sampled clauses is English.
MOSTLY_NON_ENGLISH = 0.5
LANGUAGE_SAMPLE = 25  # clauses per document (or clause-file block) sent to language detection


def language_counts(texts: Sequence[str], sample: int = LANGUAGE_SAMPLE) -> dict[str, int]:
    """Detected language (py3langid) of up to `sample` evenly spaced texts, counted."""
    if not texts:
        return {}
    step = max(1, len(texts) / sample)
    picked = [texts[int(i * step)] for i in range(min(sample, len(texts)))]
    return dict(Counter(detect_language(t[:2000]) for t in picked))


def summarise_language(counts: dict[str, int]) -> tuple[str, float | None, bool]:
    """(main language, share of English samples, mostly non-English?)."""
    total = sum(counts.values())
    if not total:
        return "", None, False
    language = max(sorted(counts), key=counts.get)
    share = counts.get("en", 0) / total
    return language, share, share < MOSTLY_NON_ENGLISH


# A clause counts as "in another language" only when the identifier is this sure: short or
# all-capitals English clauses get low-confidence guesses (Italian, Lingala) that must not count.
OTHER_LANGUAGE_MIN_PROB = 0.99
# Not languages: py3langid's "zxx" covers URLs, hashes and encoded blobs.
_NOT_A_LANGUAGE = frozenset({"zxx"})


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> str:
    """py3langid's language code for `text` (one identifier for the whole process)."""
    return _identifier().classify(text)[0]


def is_other_language(text: str) -> bool:
    """True when `text` is confidently in a language other than English (the guideline: text in
    another language carries no label, and the model reads English only)."""
    language, prob = _identifier().classify(text[:2000])
    return language != "en" and language not in _NOT_A_LANGUAGE and prob >= OTHER_LANGUAGE_MIN_PROB
