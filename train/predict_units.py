"""Units of work of a predict run: a document read, prepared and segmented a window of text at
a time into blocks of at most `CLAUSE_BLOCK` clauses, or a clause file read in blocks of
records, so memory does not grow with a document's size. A document that cannot be read is
one unit with a `skip_reason`."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from train.documents import (
    InputDocument,
    SkipDocument,
    binary_reason,
    guess_encoding,
    iter_csv_records,
    iter_jsonl_records,
    read_document,
    skip_row,
)

logger = logging.getLogger("clausewatch.batch")


CLAUSE_BLOCK = 1024  # clauses (of a document or clause file) scored and committed together
SEGMENT_WINDOW = 1 << 16  # characters of a document's text segmented at a time


@dataclass
class WorkUnit:
    """A committed piece of work: a whole document, or one block of a clause file."""

    doc: InputDocument
    block: int
    stamp: str
    last: bool = True
    # (id, start, end, text); id is None for documents, the record id for clause files
    clauses: list[tuple[str | None, int, int, str]] = field(default_factory=list)
    text: str | None = None  # prepared document text (for report context); None for clause files
    encoding: str = ""
    warnings: list[str] = field(default_factory=list)
    note: str = ""
    skipped: list[dict] = field(default_factory=list)  # bad records of a clause file
    skip_reason: str | None = None  # the whole document was skipped


def file_stamp(path: Path) -> str:
    """Size and modification time: a changed file is scored again on resume."""
    try:
        st = path.stat()
    except OSError:
        return "missing"
    return f"{st.st_size}:{st.st_mtime_ns}"


_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n")
_LINE_START = re.compile(r"\n[ \t]*(\S)")
_SENTENCE_GAP = re.compile(r"[.!?\u3002\uff01\uff1f]\s+")
_SPACE = re.compile(r"\s+")


def _cut(text: str, start: int, window: int) -> int:
    """Where to end the next window of `text` (from `start`) so that segmenting the windows one by
    one gives the clauses of the whole text: after the first newline of a paragraph break past
    `start + window`, else before a line that cannot continue the one above (one not starting in
    lower case), else (one huge line) at a sentence end or a space, else anywhere."""
    target = start + window
    if target >= len(text):
        return len(text)
    limit = min(len(text), target + window)
    m = _PARAGRAPH_BREAK.search(text, target, limit)
    if m:
        return m.start() + 1
    for m in _LINE_START.finditer(text, target, limit):
        if not m.group(1).islower():
            return m.start() + 1
    for pattern in (_SENTENCE_GAP, _SPACE):
        m = pattern.search(text, target, limit)
        if m:
            return m.end()
    return target


def _iter_clauses(text: str, min_words: int, max_chars: int, window: int):
    """`segment_text` over `text` a window at a time (see `_cut`), offsets into the whole text."""
    from train.segment import segment_text

    start = 0
    while start < len(text):
        end = _cut(text, start, window)
        for c in segment_text(text[start:end], min_words=min_words, max_chars=max_chars):
            yield start + c.start, start + c.end, c.text
        start = end


def text_units(
    doc: InputDocument,
    stamp: str,
    done_blocks: set[int],
    min_words: int,
    max_chars: int,
    max_bytes: int,
    block_size: int,
    window: int | None = None,
) -> Iterator[WorkUnit]:
    """A document as blocks of at most `block_size` clauses, segmented as they are needed (one
    window of text at a time) so a huge document is never held as one list of clauses or scored in
    one call; blocks in `done_blocks` are segmented (to know where the next block starts) but not
    yielded. A document that cannot be read, or whose segmentation fails before its first clause,
    is one unit with a `skip_reason`."""
    from train.segment import prepare_text

    head = WorkUnit(doc, 0, stamp)
    try:
        decoded = read_document(doc.path, max_bytes=max_bytes)
    except SkipDocument as err:
        head.skip_reason = str(err)
        yield head
        return
    if decoded.warning:
        logger.warning("%s: %s", doc.doc_id, decoded.warning)
    try:
        prepared = prepare_text(decoded.text, doc.fmt)
    except Exception as err:  # a parser failure on one odd document must not end the run
        head.skip_reason = f"could not be segmented: {type(err).__name__}: {err}"
        yield head
        return
    encoding, warning = decoded.encoding, decoded.warning
    del decoded  # the raw text of a large document is not needed any more

    def new_unit(block: int) -> WorkUnit:
        unit = WorkUnit(doc, block, stamp, last=False, text=prepared, encoding=encoding)
        if warning and block == 0:
            unit.warnings.append(warning)
        return unit

    unit = new_unit(0)
    clauses = _iter_clauses(prepared, min_words, max_chars, window or SEGMENT_WINDOW)
    while True:
        try:
            start, end, text = next(clauses)
        except StopIteration:
            break
        except Exception as err:  # noqa: BLE001 - one odd document must not end the run
            reason = f"could not be segmented: {type(err).__name__}: {err}"
            if unit.block == 0 and not unit.clauses:
                head.skip_reason = reason
                yield head
                return
            where = unit.clauses[-1][2] if unit.clauses else ""
            unit.skipped.append(
                skip_row(
                    doc.doc_id, f"{reason}; rest of the document (after offset {where}) not scored"
                )
            )
            break
        if len(unit.clauses) >= block_size:
            if unit.block not in done_blocks:
                yield unit
            unit = new_unit(unit.block + 1)
        unit.clauses.append((None, start, end, text))
    unit.last = True
    if unit.block == 0 and not unit.clauses:
        unit.note = "no clauses found (only headings or short fragments)"
    if unit.block not in done_blocks:
        yield unit


def clause_file_units(
    doc: InputDocument, stamp: str, done_blocks: set[int], block_size: int, max_bytes: int
) -> Iterator[WorkUnit]:
    """Blocks of `block_size` records of a `.jsonl` / `.csv` clause file, streamed; blocks in
    `done_blocks` are read (for duplicate-id checks) but not yielded."""
    head = WorkUnit(doc, 0, stamp)
    try:
        size = doc.path.stat().st_size
        with doc.path.open("rb") as fh:
            sample = fh.read(65536)
    except OSError as err:
        head.skip_reason = f"unreadable: {err.strerror or err}"
        yield head
        return
    if not sample.strip():
        head.skip_reason = "empty file" if not sample else "empty file (whitespace only)"
    elif size > max_bytes * 20:  # clause files stream, so they may be much larger than documents
        head.skip_reason = f"too large ({size / 1e6:.1f} MB)"
    else:
        head.skip_reason = binary_reason(sample)
    if head.skip_reason:
        yield head
        return
    encoding, warning = guess_encoding(sample, complete=len(sample) >= size)
    if warning:
        logger.warning("%s: %s", doc.doc_id, warning)

    def new_unit(block: int) -> WorkUnit:
        unit = WorkUnit(doc, block, stamp, last=False, encoding=encoding)
        if warning and block == 0:
            unit.warnings.append(warning)
        return unit

    seen: dict[str, int] = {}
    unit = new_unit(0)
    index = 0
    try:
        with doc.path.open(encoding=encoding, errors="replace", newline="") as fh:
            records = iter_jsonl_records(fh) if doc.fmt == "jsonl" else iter_csv_records(fh)
            for line_no, rid, text, error in records:
                block = index // block_size
                index += 1
                if block != unit.block:
                    if unit.block not in done_blocks:
                        yield unit
                    unit = new_unit(block)
                if error is None:
                    if rid is None:
                        # A generated id says where the record is and cannot be confused with an
                        # explicit id "8"; an explicit "line-8" seen before gets a suffix.
                        rid, n = f"line-{line_no}", 1
                        while rid in seen:
                            n += 1
                            rid = f"line-{line_no}-{n}"
                    if rid in seen:
                        error = f"duplicate id {rid!r} (first on line {seen[rid]})"
                    else:
                        seen[rid] = line_no
                if error is not None:
                    unit.skipped.append(skip_row(doc.doc_id, error, line_no))
                else:
                    unit.clauses.append((rid, 0, len(text), text))
    except SkipDocument as err:
        head.skip_reason = str(err)
        yield head
        return
    except OSError as err:
        unit.skipped.append(skip_row(doc.doc_id, f"read error, rest of file not read: {err}"))
    unit.last = True
    if index == 0:
        unit.note = "no records"
    if unit.block not in done_blocks:
        yield unit
