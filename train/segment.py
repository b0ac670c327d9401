"""Split a document into clauses with character offsets.

Blocks come from the document's layout (lines, blank lines, headings, list items, numbered
sections); sentences inside a block come from pysbd, a maintained rule-based sentence splitter
that returns character spans. Every clause satisfies `text[start:end] == clause.text` on the
prepared text, so offsets round-trip to the source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pysbd
from bs4 import BeautifulSoup

# Leading list markers and section numbers that belong to layout, not to the clause:
# "- ", "* ", "1. ", "1.2.3 ", "(a) ", "a) ", "iv. ", "Section 4. ", "§ 2 ", and the escaped
# forms Markdown converters write ("\- ", "1\. ").
_LEADING_MARKER = re.compile(
    r"(?:\\?[-*+\u2022\u25aa\u25cf\u2013>]+\s+"
    r"|(?:section|article|clause|§)\s*\d+(?:\.\d+)*[.:)]?[*_]*\s+"
    r"|\(?(?:\d+(?:\.\d+)*|[a-z]|[ivxlc]+)\\?[.)][*_]*\s+"
    r"|\d+(?:\.\d+)+[*_]*\s+)",
    re.IGNORECASE,
)
_HTML_BLOCKS = [
    "p",
    "div",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "td",
    "th",
    "table",
    "section",
    "article",
    "blockquote",
    "pre",
    "dd",
    "dt",
    "header",
    "main",
]
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s")
_MD_DECORATION = "*_`#>|"
_LETTERS = re.compile(r"[^\W\d_]{2,}")

DEFAULT_MIN_WORDS = 4
DEFAULT_MAX_CHARS = 1000


@dataclass(frozen=True)
class Clause:
    """A span of the prepared document text."""

    start: int
    end: int
    text: str


_MD_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_MD_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_MD_TABLE_RULE = re.compile(r"^[\s|:\-]+$")
_MD_CELL_SEP = re.compile(r"(?<!\\)\|")


def prepare_markdown(raw: str) -> str:
    """Markdown as converted from web pages: every table cell becomes a paragraph of its own
    (rows of a cookie or data-category table are not one sentence), table rules disappear, and
    `<br>` inside a list item or cell is a line break, so items stay separate clauses."""
    out: list[str] = []
    for line in raw.splitlines():
        if _MD_TABLE_ROW.match(line):
            if _MD_TABLE_RULE.match(line):
                continue
            cells = _MD_CELL_SEP.split(line.strip())[1:-1]
            for cell in cells:
                if cell.strip():
                    out.append(cell.strip())
                    out.append("")
            continue
        out.append(line)
    return _MD_BR.sub("\n", "\n".join(out) + ("\n" if raw.endswith("\n") else ""))


def prepare_text(raw: str, fmt: str = "txt") -> str:
    """Return the text that clause offsets refer to: HTML is reduced to its visible text, one block
    element per line; Markdown tables are cut into cells and `<br>` becomes a line break (see
    `prepare_markdown`); plain text is used as it is."""
    if fmt in {"md", "markdown"}:
        return prepare_markdown(raw)
    if fmt in {"html", "htm"}:
        soup = BeautifulSoup(raw, "html.parser")
        for tag in soup(["script", "style", "noscript", "head", "nav", "footer", "template"]):
            tag.decompose()
        for tag in soup.find_all("br"):
            tag.replace_with("\n")
        # Inline tags (<b>, <a>) join their neighbours; block tags end a line.
        for tag in soup.find_all(_HTML_BLOCKS):
            tag.insert_after("\n")
        return soup.get_text()
    return raw


@lru_cache(maxsize=1)
def _sentence_splitter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def _iter_blocks(text: str):
    """Yield (start, end) of layout blocks: non-empty lines, soft-wrapped lines joined."""
    pos = 0
    block_start = None
    block_end = 0
    for line in text.splitlines(keepends=True):
        start, end = pos, pos + len(line.rstrip("\r\n"))
        pos += len(line)
        stripped = line.strip()
        if not stripped:
            if block_start is not None:
                yield block_start, block_end
                block_start = None
            continue
        # A line that starts in lower case continues a sentence wrapped by a hard line break.
        continues = (
            block_start is not None
            and stripped[0].islower()
            and not _LEADING_MARKER.match(stripped)
            and not text[block_start:block_end].rstrip().endswith((".", ":", ";", "!", "?"))
        )
        if block_start is not None and not continues:
            yield block_start, block_end
            block_start = None
        if block_start is None:
            block_start = start
        block_end = end
    if block_start is not None:
        yield block_start, block_end


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop surrounding whitespace, list markers and Markdown decoration from a span."""
    while start < end and (text[start].isspace() or text[start] in _MD_DECORATION):
        start += 1
    while True:
        m = _LEADING_MARKER.match(text, start, end)
        if not m or m.end() == start:
            break
        start = m.end()
        while start < end and (text[start].isspace() or text[start] in _MD_DECORATION):
            start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in _MD_DECORATION):
        end -= 1
    return start, end


def _split_long(text: str, start: int, end: int, max_chars: int):
    """Cut a span longer than `max_chars` at the last clause-like boundary before the limit."""
    while end - start > max_chars:
        window = text[start : start + max_chars]
        cut = None
        for pattern in (r"[;:]\s", r",\s", r"\s"):
            hits = [m.end() for m in re.finditer(pattern, window) if m.end() > max_chars // 3]
            if hits:
                cut = start + hits[-1]
                break
        cut = cut or start + max_chars
        yield start, cut
        start = cut
    yield start, end


def _is_heading(block: str) -> bool:
    """Markdown headings, and short title-like lines ("Terms of Service", "3. DATA RETENTION").
    A list item is never a heading: "- We sell your data to brokers" is exactly what must be kept."""
    stripped = block.strip()
    if _MD_HEADING.match(block):
        return True
    marker = _LEADING_MARKER.match(stripped)
    if marker and not stripped[: marker.end()].strip()[0].isdigit():
        return False  # bullet item
    body = stripped[marker.end() :] if marker else stripped
    body = body.strip(_MD_DECORATION + " ")
    words = body.split()
    if not words or len(words) > 8 or body.endswith((".", ";", ":", "!", "?")):
        return False
    if body.isupper():
        return True
    capitalised = sum(w[0].isupper() for w in words if w[0].isalpha())
    # Title case: most words capitalised ("Your Content", "How We Use Information").
    return capitalised / len(words) >= 0.6


def segment_text(
    text: str, min_words: int = DEFAULT_MIN_WORDS, max_chars: int = DEFAULT_MAX_CHARS
) -> list[Clause]:
    """Split prepared text into clauses. Headings and fragments under `min_words` words are
    dropped; sentences over `max_chars` characters are cut so they fit the model."""
    clauses: list[Clause] = []
    splitter = _sentence_splitter()
    for b_start, b_end in _iter_blocks(text):
        block = text[b_start:b_end]
        if _is_heading(block):
            continue
        # Newlines inside a block are soft wraps: hide them from the sentence splitter (same
        # length, so the spans still index `text`).
        for span in splitter.segment(block.replace("\r", " ").replace("\n", " ")):
            s, e = _trim(text, b_start + span.start, b_start + span.end)
            for s2, e2 in _split_long(text, s, e, max_chars):
                s2, e2 = _trim(text, s2, e2)
                piece = text[s2:e2]
                if len(piece.split()) >= min_words and _LETTERS.search(piece):
                    clauses.append(Clause(s2, e2, piece))
    return clauses


def segment_document(
    raw: str,
    fmt: str = "txt",
    min_words: int = DEFAULT_MIN_WORDS,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> tuple[str, list[Clause]]:
    """Prepare a raw document (`txt`, `md` or `html`) and segment it; returns the prepared text
    (which the offsets index) and its clauses."""
    text = prepare_text(raw, fmt)
    return text, segment_text(text, min_words=min_words, max_chars=max_chars)
