"""Text normalisation and hashing shared by the builder, the leakage checks and label references."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalize_text(text: str) -> str:
    """Case-, whitespace- and punctuation-insensitive form used to decide that two clauses are "the same"."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _NON_WORD.sub(" ", text).strip()


def text_sha1(text: str) -> str:
    """Hash of the exact text (used in label references to detect a changed source file)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def repair_text(text: str) -> str:
    """Undo mojibake (UTF-8 read as cp1252/latin-1: `donâ€™t` -> `don’t`) with ftfy's encoding
    fixer, leaving everything else (quotes, widths, normalisation) as it is. Applied to clause
    text after label references are checked, which hash the raw text."""
    from ftfy import fix_encoding

    return fix_encoding(text)
