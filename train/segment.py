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
# Chinese and Japanese write no spaces between words and end sentences with full-width 。！？
# (closing brackets or quotes may follow). Hangul is spaced like English and needs nothing.
_CJK_CHAR = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]")
_CJK_SENTENCE_END = re.compile(
    "[\u3002\uff01\uff1f]+[\u300d\u300f\uff09\u3011\u3015\u201d\u2019\"')]*"
)
_CJK_END_PUNCT = ("\u3002", "\uff01", "\uff1f", "\uff1b", "\uff1a")  # 。！？；：

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


# pysbd passes pattern strings to `re.sub` / `re.findall` on every call (over 1,700 distinct
# patterns on a large document: one per abbreviation it checks), and the `re` module keeps only
# 512 compiled patterns, so most of them were compiled again for every block (a third of the
# time spent segmenting). A larger cache (a few MB at most) keeps them compiled.
RE_CACHE_SIZE = 4096


@lru_cache(maxsize=1)
def _sentence_splitter() -> pysbd.Segmenter:
    if getattr(re, "_MAXCACHE", RE_CACHE_SIZE) < RE_CACHE_SIZE:
        re._MAXCACHE = RE_CACHE_SIZE
    return pysbd.Segmenter(language="en", clean=False, char_span=True)


@dataclass(frozen=True)
class _Span:
    start: int
    end: int


_SENTENCE_PUNCT = frozenset(".!?\u2026)\u2022")
# The splitter also ends a sentence at a closing quote followed by a space ('"term" Meaning ...').
_QUOTE_THEN_SPACE = re.compile("[\"'\u201c\u201d\u2018\u2019\u00ab\u00bb]\\s")


def _one_sentence(block: str) -> bool:
    """True when no sentence can end inside the block (no . ! ? ellipsis, closing bracket or
    bullet before its last character, no quote followed by a space; the splitter also cuts
    before "(ii)"): the sentence splitter, the slowest step of segmentation, would return it
    whole. Checked against the splitter on every block of the training sources."""
    body = block.rstrip()
    return not any(ch in _SENTENCE_PUNCT for ch in body[:-1]) and not _QUOTE_THEN_SPACE.search(
        body[:-1]
    )


_SENTENCE_END_CHARS = (".", ":", ";", "!", "?")
# A document "double-spaced" by its conversion from PDF puts a blank line after every wrapped
# line ("... from an AI" / "" / "Feature (as defined ...) to train our models" / "" / "unless you
# direct us to do so."), so a blank line no longer ends a paragraph there. Measured over the
# 2026 collection, the ToS;DR corpus and the AI-change pairs: in 23 documents at least 40% of the
# lines before a single blank line end mid-sentence and the next starts in lower case; in an
# ordinary document almost none do.
DOUBLE_SPACED_SHARE = 0.4
DOUBLE_SPACED_MIN = 5
# In such a document a line continues across one blank line when it is a wrapped line: this long
# against the document's long lines (the 90th percentile of line lengths), with no sentence end.
WRAPPED_LINE_SHARE = 0.6


def _double_spaced(stripped: list[str]) -> bool:
    """True when the document (its lines, stripped) is hard-wrapped with a blank line after every
    line."""
    breaks = wrapped = 0
    for a, b, c in zip(stripped, stripped[1:], stripped[2:], strict=False):
        if a and not b and c:
            breaks += 1
            wrapped += not a.endswith(_SENTENCE_END_CHARS) and c[0].islower()
    return wrapped >= DOUBLE_SPACED_MIN and wrapped >= DOUBLE_SPACED_SHARE * breaks


def _iter_blocks(text: str):
    """Yield (start, end) of layout blocks: non-empty lines, soft-wrapped lines joined (in a
    double-spaced document also across one blank line, see `_double_spaced`)."""
    lines = text.splitlines(keepends=True)
    stripped_lines = [line.strip() for line in lines]
    wrap_width = 0
    if _double_spaced(stripped_lines):
        lengths = sorted(len(s) for s in stripped_lines if s)
        wrap_width = lengths[int(0.9 * (len(lengths) - 1))] * WRAPPED_LINE_SHARE
    pos = 0
    block_start = None
    block_end = 0
    blanks = 0  # blank lines since the block's last line
    last_line = ""
    for line, stripped in zip(lines, stripped_lines, strict=True):
        start, end = pos, pos + len(line.rstrip("\r\n"))
        pos += len(line)
        if not stripped:
            blanks += 1
            continue
        # The block ends with its last line, so that line tells whether a sentence is still open.
        open_sentence = block_start is not None and not last_line.endswith(_SENTENCE_END_CHARS)
        # A line that starts in lower case continues a sentence wrapped by a hard line break.
        continues = (
            open_sentence
            and not blanks
            and stripped[0].islower()
            and not _LEADING_MARKER.match(stripped)
        )
        # In a double-spaced document, a wrapped line continues across one blank line.
        continues = continues or (
            open_sentence
            and wrap_width
            and blanks == 1
            and len(last_line) >= wrap_width
            and not _LEADING_MARKER.match(stripped)
            and not _MD_HEADING.match(line)
            and not is_heading(last_line)
        )
        if block_start is not None and not continues:
            yield block_start, block_end
            block_start = None
        if block_start is None:
            block_start = start
        block_end = end
        blanks = 0
        last_line = stripped
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
        # Full-width ；：，、 are Chinese/Japanese clause boundaries (no space follows them).
        for pattern in (r"[;:]\s|[\uff1b\uff1a]", r",\s|[\uff0c\u3001]", r"\s"):
            hits = [m.end() for m in re.finditer(pattern, window) if m.end() > max_chars // 3]
            if hits:
                cut = start + hits[-1]
                break
        cut = cut or start + max_chars
        yield start, cut
        start = cut
    yield start, end


def is_heading(block: str) -> bool:
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
    if _CJK_CHAR.search(body):
        # Chinese / Japanese: a short line without sentence-ending punctuation is a title.
        return len(body) <= 30 and not body.endswith(_CJK_END_PUNCT + (".", ";", ":", "!", "?"))
    words = body.split()
    if not words or len(words) > 8 or body.endswith(_SENTENCE_END_CHARS):
        return False
    if body.isupper():
        return True
    capitalised = sum(w[0].isupper() for w in words if w[0].isalpha())
    # Title case: most words capitalised ("Your Content", "How We Use Information").
    return capitalised / len(words) >= 0.6


_TITLE_SENTENCE_END = re.compile(r"[.!?;:)\]\"'\u201d\u2019]\s*$")
_TITLE_WORD = re.compile(r"[^\W\d_][\w'\u2019-]*")
_TITLE_MINOR_WORDS = frozenset(
    "a an and as at by for from in of on or our the to we with you your how what when why who "
    "do does this that is are".split()
)


def is_heading_or_navigation(text: str) -> bool:
    """A heading or navigation line, the wider rule the diff and watch use so that such text never
    counts as a change: at most 12 words, no sentence end, and its words (other than short
    function words) capitalised: "How We Use Your Information", "HOME | ABOUT US". Wider than
    `is_heading` (the segmenter's rule, which also decides the headings made negatives in the
    dataset), so changing either would change a different output."""
    stripped = text.strip().strip("*_#").strip()
    words = _TITLE_WORD.findall(stripped)
    if not words or len(words) > 12 or _TITLE_SENTENCE_END.search(stripped):
        return False
    content = [w for w in words if w.lower() not in _TITLE_MINOR_WORDS]
    return bool(content) and all(w[0].isupper() for w in content)


def _word_count(piece: str) -> int:
    """Words in a clause; Chinese and Japanese have no spaces, so every two CJK characters count
    as one word (their words are mostly one or two characters long)."""
    cjk = len(_CJK_CHAR.findall(piece))
    if not cjk:
        return len(piece.split())
    return len(_CJK_CHAR.sub(" ", piece).split()) + (cjk + 1) // 2


def _cjk_sentences(text: str, start: int, end: int):
    """Cut a span after each Chinese/Japanese sentence end (。！？), which the English sentence
    rules do not always see; a span without one is yielded whole."""
    for m in _CJK_SENTENCE_END.finditer(text, start, end):
        if m.end() < end:
            yield start, m.end()
            start = m.end()
    yield start, end


def segment_text(
    text: str, min_words: int = DEFAULT_MIN_WORDS, max_chars: int = DEFAULT_MAX_CHARS
) -> list[Clause]:
    """Split prepared text into clauses. Headings and fragments under `min_words` words are
    dropped; sentences over `max_chars` characters are cut so they fit the model."""
    clauses: list[Clause] = []
    splitter = _sentence_splitter()
    for b_start, b_end in _iter_blocks(text):
        block = text[b_start:b_end]
        if is_heading(block):
            continue
        # Newlines inside a block are soft wraps: hide them from the sentence splitter (same
        # length, so the spans still index `text`).
        flat = block.replace("\r", " ").replace("\n", " ")
        spans = [_Span(0, len(block))] if _one_sentence(flat) else splitter.segment(flat)
        for span in spans:
            for s1, e1 in _cjk_sentences(text, b_start + span.start, b_start + span.end):
                s, e = _trim(text, s1, e1)
                for s2, e2 in _split_long(text, s, e, max_chars):
                    s2, e2 = _trim(text, s2, e2)
                    piece = text[s2:e2]
                    if _word_count(piece) >= min_words and _LETTERS.search(piece):
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
