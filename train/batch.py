"""Batch inference over a corpus of documents: resumable, streamed, atomic, and splittable across
processes with accelerate.

Inputs are files, folders (recursive) or globs of `.txt`, `.md`, `.html` documents, which are
segmented into clauses with offsets into the prepared text (`train.segment`), and `.jsonl` / `.csv`
files of clauses (`id`, `text`), whose records are scored as they are.

The work is streamed in chunks: read and segment a few documents, score their clauses together
(`ClausePredictor` sorts them by length and pads each batch dynamically), then commit the chunk as
two files under `OUT/parts/`: the clause records, then a `.done.json` marker listing the finished
documents. A part without its marker does not count, so a kill loses at most the chunk in flight,
and a rerun skips every committed document. Only when every document is done are the parts merged
into `clauses.jsonl`, `documents.csv`, `skipped.csv` and `report.html` (each written to a temporary
file and renamed into place).

A large document is streamed too: its prepared text is segmented a window at a time (cut at
paragraph breaks, so the clauses are the same) and scored and committed in blocks of at most
`CLAUSE_BLOCK` clauses, like a clause file, so memory does not grow with the clause count.

Nothing about one bad document stops the run: binary, empty, unreadable or oversized files, earlier
output folders found among the inputs and bad clause records (malformed CSV, duplicate ids) are
listed in `skipped.csv`; UTF-8 with a few invalid bytes keeps its text (only those bytes are
replaced, with a warning), other non-UTF-8 text is decoded with a fallback and a warning; mostly
non-English documents are scored and flagged in `documents.csv`. Only a bad model, a bad output path
or an output folder in use by another run (a lock file) ends the run (`RunError`, exit status 2
from the command line).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import re
import shutil
import sys
import time
import traceback
import uuid
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from train.cli import configure_logging
from train.documents import (
    MAX_DOCUMENT_BYTES,
    InputDocument,
    SkipDocument,
    _binary_reason,
    _guess_encoding,
    _iter_csv_records,
    _iter_jsonl_records,
    _skip_row,
    expand_inputs,
    read_document,
)
from train.errors import RunError
from train.language import language_counts, summarise_language
from train.outputs import (
    CLAUSES_FILE,
    DOCUMENTS_FILE,
    PARTS_DIR,
    REPORT_FILE,
    RUN_FILE,
    SKIPPED_FILE,
    _check_output_path,
    _tmp_path,
    lock_output,
    write_atomic,
)
from train.predict_report import CONTEXT_CHARS, _ReportBuilder
from train.predictor import load_predictor, max_chars_for, model_fingerprint

logger = logging.getLogger("clausewatch.batch")


CLAUSE_BLOCK = 1024  # clauses (of a document or clause file) scored and committed together
SEGMENT_WINDOW = 1 << 16  # characters of a document's text segmented at a time
# Padded tokens (clauses x length) per forward pass at most: ONNX Runtime's activation memory grows
# with batch x length (64 clauses of 256 tokens take ~1.5 GB), so long clauses go in smaller batches.
MAX_BATCH_TOKENS = 4096
RUN_FORMAT = 1


# ---------------------------------------------------------------------------------------------
# Units of work
# ---------------------------------------------------------------------------------------------


@dataclass
class _Unit:
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


def _stamp(path: Path) -> str:
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


def _text_units(
    doc: InputDocument,
    stamp: str,
    done_blocks: set[int],
    min_words: int,
    max_chars: int,
    max_bytes: int,
    block_size: int,
    window: int | None = None,
) -> Iterator[_Unit]:
    """A document as blocks of at most `block_size` clauses, segmented as they are needed (one
    window of text at a time) so a huge document is never held as one list of clauses or scored in
    one call; blocks in `done_blocks` are segmented (to know where the next block starts) but not
    yielded. A document that cannot be read, or whose segmentation fails before its first clause,
    is one unit with a `skip_reason`."""
    from train.segment import prepare_text

    head = _Unit(doc, 0, stamp)
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

    def new_unit(block: int) -> _Unit:
        unit = _Unit(doc, block, stamp, last=False, text=prepared, encoding=encoding)
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
                _skip_row(
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


def _clause_file_units(
    doc: InputDocument, stamp: str, done_blocks: set[int], block_size: int, max_bytes: int
) -> Iterator[_Unit]:
    """Blocks of `block_size` records of a `.jsonl` / `.csv` clause file, streamed; blocks in
    `done_blocks` are read (for duplicate-id checks) but not yielded."""
    head = _Unit(doc, 0, stamp)
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
        head.skip_reason = _binary_reason(sample)
    if head.skip_reason:
        yield head
        return
    encoding, warning = _guess_encoding(sample, complete=len(sample) >= size)
    if warning:
        logger.warning("%s: %s", doc.doc_id, warning)

    def new_unit(block: int) -> _Unit:
        unit = _Unit(doc, block, stamp, last=False, encoding=encoding)
        if warning and block == 0:
            unit.warnings.append(warning)
        return unit

    seen: dict[str, int] = {}
    unit = new_unit(0)
    index = 0
    try:
        with doc.path.open(encoding=encoding, errors="replace", newline="") as fh:
            records = _iter_jsonl_records(fh) if doc.fmt == "jsonl" else _iter_csv_records(fh)
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
                    unit.skipped.append(_skip_row(doc.doc_id, error, line_no))
                else:
                    unit.clauses.append((rid, 0, len(text), text))
    except SkipDocument as err:
        head.skip_reason = str(err)
        yield head
        return
    except OSError as err:
        unit.skipped.append(_skip_row(doc.doc_id, f"read error, rest of file not read: {err}"))
    unit.last = True
    if index == 0:
        unit.note = "no records"
    if unit.block not in done_blocks:
        yield unit


# ---------------------------------------------------------------------------------------------
# Parts: the committed, resumable results
# ---------------------------------------------------------------------------------------------


def _unit_summary(unit: _Unit, flags: list[list[int]], lang: dict[str, int]) -> dict:
    counts = [int(sum(col)) for col in zip(*flags, strict=True)] if flags else []
    return {
        "key": unit.doc.key,
        "block": unit.block,
        "last": unit.last,
        "stamp": unit.stamp,
        "fmt": unit.doc.fmt,
        "clauses": len(unit.clauses),
        "flagged": sum(1 for row in flags if any(row)),
        "counts": counts,
        "lang": lang,
        "encoding": unit.encoding,
        "warnings": unit.warnings,
        "note": unit.note,
        "skipped": unit.skipped,
        "skip_reason": unit.skip_reason,
    }


def _commit_part(parts_dir: Path, name: str, records: list[dict], units: list[dict]) -> None:
    """Clause records first, then the marker that makes them count."""
    write_atomic(
        parts_dir / f"{name}.jsonl",
        lambda fh: fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
    )
    write_atomic(parts_dir / f"{name}.done.json", lambda fh: json.dump({"units": units}, fh))


Done = dict[str, dict[int, tuple[str, dict]]]  # doc key -> block -> (part name, unit summary)


def _load_done(parts_dir: Path) -> Done:
    """Every committed unit, by document and block; when a unit was committed twice, the newest
    part (names start with a timestamp) wins."""
    done: Done = {}
    for marker in sorted(parts_dir.glob("*.done.json")):
        name = marker.name[: -len(".done.json")]
        try:
            units = json.loads(marker.read_text(encoding="utf-8"))["units"]
        except (OSError, ValueError, KeyError):
            logger.warning("%s: unreadable part marker, its documents will be scored again", marker)
            continue
        for u in units:
            done.setdefault(u["key"], {})[u["block"]] = (name, u)
    return done


def _done_blocks(done: Done, key: str, stamp: str) -> dict[int, tuple[str, dict]]:
    """The committed blocks of one document that match its current contents."""
    return {b: e for b, e in done.get(key, {}).items() if e[1]["stamp"] == stamp}


def _is_complete(doc: InputDocument, blocks: dict[int, tuple[str, dict]]) -> bool:
    """All of a document is committed: a skip, or every block up to the last one (a document
    committed whole by an earlier version is one block, marked last)."""
    if 0 in blocks and blocks[0][1].get("skip_reason"):
        return True
    last = [b for b, (_, u) in blocks.items() if u["last"]]
    return bool(last) and all(b in blocks for b in range(last[0] + 1))


def _remove_orphans(parts_dir: Path) -> None:
    """Parts whose marker never got written (killed in between), stray temporary files and
    process markers of earlier sessions."""
    for path in parts_dir.iterdir():
        name = path.name
        if (name.startswith(".") and name.endswith(".tmp")) or name.startswith(
            ("_failed-", "_finished-")
        ):
            path.unlink(missing_ok=True)
        elif path.suffix == ".jsonl" and not path.with_name(path.stem + ".done.json").exists():
            path.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# Model, output folder, run record
# ---------------------------------------------------------------------------------------------


def _prepare_run(output_dir: Path, run_info: dict, overwrite: bool) -> dict:
    """Create the output folder and check that an earlier partial run used the same model,
    backend and segmentation; returns the run record (with a fresh session id)."""
    parts = output_dir / PARTS_DIR
    run_path = output_dir / RUN_FILE
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        if overwrite:
            shutil.rmtree(parts, ignore_errors=True)
            for name in (CLAUSES_FILE, DOCUMENTS_FILE, SKIPPED_FILE, REPORT_FILE, RUN_FILE):
                (output_dir / name).unlink(missing_ok=True)
        elif run_path.exists():
            previous = json.loads(run_path.read_text(encoding="utf-8"))
            keys = (
                "fingerprint",
                "backend",
                "labels",
                "thresholds",
                "min_words",
                "max_chars",
                "format",
            )
            changed = [k for k in keys if previous.get(k) != run_info.get(k)]
            if changed:
                raise RunError(
                    f"{output_dir} holds results of another run (different {', '.join(changed)}: "
                    f"was {previous.get('model')} with backend {previous.get('backend')}); "
                    "pass --overwrite to start again, or choose another --output"
                )
        parts.mkdir(exist_ok=True)
        _remove_orphans(parts)
        for stray in output_dir.glob(".*.tmp"):  # a merge killed half-way (this run holds the lock)
            stray.unlink(missing_ok=True)
        record = {**run_info, "session": uuid.uuid4().hex}
        write_atomic(run_path, lambda fh: json.dump(record, fh, indent=2))
    except OSError as err:
        raise RunError(f"output path {output_dir}: {err}") from err
    except ValueError as err:
        raise RunError(f"{run_path}: unreadable ({err}); pass --overwrite to start again") from err
    return record


# ---------------------------------------------------------------------------------------------
# Distributed
# ---------------------------------------------------------------------------------------------


@dataclass
class _Dist:
    index: int = 0
    world: int = 1
    state: object | None = None

    @property
    def is_main(self) -> bool:
        return self.index == 0

    @property
    def device(self) -> str | None:
        device = getattr(self.state, "device", None)
        return str(device) if device is not None and device.type == "cuda" else None

    def broadcast(self, obj):
        """The main process's `obj`, on every process."""
        if self.state is None:
            return obj
        from accelerate.utils import broadcast_object_list

        box = [obj]
        broadcast_object_list(box, from_process=0)
        return box[0]


def _dist_context() -> _Dist:
    """Process index and count under `accelerate launch` (or torchrun); one process otherwise.
    accelerate (and torch.distributed) is only imported when there are several processes."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist()
    import torch
    from accelerate import PartialState

    # Without cpu=True accelerate leaves CPU-only processes undistributed, and every process
    # would then score (and merge) the whole corpus.
    state = PartialState(cpu=not torch.cuda.is_available())
    if state.num_processes != world:
        raise RunError(
            f"WORLD_SIZE is {world} but accelerate set up {state.num_processes} process(es)"
        )
    return _Dist(state.process_index, state.num_processes, state)


def _marker(parts: Path, session: str, index: int, kind: str) -> Path:
    return parts / f"_{kind}-{session}-r{index:03d}"


def _wait_for_workers(parts: Path, session: str, dist: _Dist, poll_s: float = 1.0) -> None:
    """The main process waits for the others through marker files rather than a collective
    barrier, which would time out when one process has hours more work than another."""
    pending = set(range(1, dist.world))
    while pending:
        for i in sorted(pending):
            failed = _marker(parts, session, i, "failed")
            if failed.exists():
                raise RunError(f"process {i} failed: {failed.read_text(encoding='utf-8').strip()}")
            if _marker(parts, session, i, "finished").exists():
                pending.discard(i)
        if pending:
            time.sleep(poll_s)
    for i in range(1, dist.world):
        _marker(parts, session, i, "finished").unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# Scoring loop
# ---------------------------------------------------------------------------------------------


def _chunks(units: Iterable[_Unit], docs_per_chunk: int, max_clauses: int) -> Iterator[list[_Unit]]:
    chunk: list[_Unit] = []
    n_clauses = 0
    for unit in units:
        chunk.append(unit)
        n_clauses += len(unit.clauses)
        if len(chunk) >= docs_per_chunk or n_clauses >= max_clauses:
            yield chunk
            chunk, n_clauses = [], 0
    if chunk:
        yield chunk


def _score_isolated(
    predictor, chunk: list[_Unit], batch_size: int
) -> tuple[list[dict], list[dict]]:
    """Score a chunk; when that fails, score its documents one by one, and inside a failing
    document its clauses one by one, so one bad document or record lands in `skipped.csv` with
    its reason and never blocks the rest of the corpus (or every rerun)."""
    try:
        return _score_chunk(predictor, chunk, batch_size)
    except Exception:  # noqa: BLE001 - any failure is narrowed down below, then reported
        if len(chunk) > 1:
            records, summaries = [], []
            for unit in chunk:
                r, s = _score_isolated(predictor, [unit], batch_size)
                records += r
                summaries += s
            return records, summaries
    unit = chunk[0]
    kept = []
    for clause in unit.clauses:
        try:
            predictor.predict_proba([clause[3]], batch_size=1)
        except Exception as err:  # noqa: BLE001
            where = f"record {clause[0]}" if clause[0] is not None else f"offset {clause[1]}"
            reason = f"scoring failed at {where}: {type(err).__name__}: {str(err)[:200]}"
            unit.skipped.append(_skip_row(unit.doc.doc_id, reason))
            logger.warning("%s: %s", unit.doc.doc_id, reason)
        else:
            kept.append(clause)
    unit.clauses = kept
    return _score_chunk(predictor, [unit], batch_size)


def _predict_bounded(predictor, texts: list[str], batch_size: int):
    """`predictor.predict_proba(texts, batch_size)`, except that batches of long clauses are made
    smaller so no forward pass holds more than `MAX_BATCH_TOKENS` padded tokens (lengths estimated
    from UTF-8 bytes, 3 per token: generous for English, about right for Chinese)."""
    limit = int(getattr(getattr(predictor, "meta", None), "max_length", 0) or 512)
    tokens = [min(limit, len(t.encode("utf-8", "replace")) // 3 + 2) for t in texts]
    if not texts or max(tokens) * min(batch_size, len(texts)) <= MAX_BATCH_TOKENS:
        return predictor.predict_proba(texts, batch_size=batch_size)
    import numpy as np

    order = sorted(range(len(texts)), key=lambda i: (-tokens[i], i))
    probs = None
    start = 0
    while start < len(order):
        size = max(1, min(batch_size, MAX_BATCH_TOKENS // tokens[order[start]]))
        group = order[start : start + size]
        part = np.asarray(predictor.predict_proba([texts[i] for i in group], batch_size=size))
        if probs is None:
            probs = np.zeros((len(texts), part.shape[1]), dtype=part.dtype)
        probs[group] = part
        start += size
    return probs


def _score_chunk(predictor, chunk: list[_Unit], batch_size: int) -> tuple[list[dict], list[dict]]:
    """Score every clause of a chunk (length-sorted batches, long ones smaller) -> (records,
    units)."""
    texts = [c[3] for unit in chunk for c in unit.clauses]
    probs = _predict_bounded(predictor, texts, batch_size)
    flags = predictor.flag(probs).tolist() if len(texts) else []
    labels = list(predictor.labels)
    records, summaries = [], []
    row = 0
    for unit in chunk:
        n = len(unit.clauses)
        unit_flags = flags[row : row + n]
        for k, (rid, start, end, text) in enumerate(unit.clauses):
            p, f = probs[row + k], unit_flags[k]
            record = {"k": unit.doc.key, "b": unit.block}
            if rid is not None:
                record["id"] = rid
            record.update(
                start=start,
                end=end,
                text=text,
                scores={name: round(float(v), 8) for name, v in zip(labels, p, strict=True)},
                labels=[name for name, on in zip(labels, f, strict=True) if on],
            )
            if unit.text is not None and any(f):
                record["ctx"] = [
                    unit.text[max(0, start - CONTEXT_CHARS) : start],
                    unit.text[end : end + CONTEXT_CHARS],
                ]
            records.append(record)
        lang = {}
        if unit.skip_reason is None:
            sample = [c[3] for c in unit.clauses] or (
                [unit.text[:2000]] if unit.text and unit.text.strip() else []
            )
            lang = language_counts(sample)
        summaries.append(_unit_summary(unit, unit_flags, lang))
        row += n
    return records, summaries


def _iter_pending_units(
    docs: Sequence[InputDocument],
    done: Done,
    min_words: int,
    max_chars: int,
    block_size: int,
    max_bytes: int,
) -> Iterator[_Unit]:
    for doc in docs:
        stamp = _stamp(doc.path)
        blocks = _done_blocks(done, doc.key, stamp)
        if _is_complete(doc, blocks):
            continue
        if doc.is_clause_file:
            yield from _clause_file_units(doc, stamp, set(blocks), block_size, max_bytes)
        else:
            yield from _text_units(
                doc, stamp, set(blocks), min_words, max_chars, max_bytes, block_size
            )


# ---------------------------------------------------------------------------------------------
# Merge: clauses.jsonl, documents.csv, skipped.csv, report.html
# ---------------------------------------------------------------------------------------------


class _PartCache:
    """Parts loaded on demand, a few at a time: documents are merged in input order while their
    records are spread over the parts of several processes and runs."""

    def __init__(self, parts_dir: Path, size: int) -> None:
        self.parts_dir = parts_dir
        self.size = max(4, size)
        self.cache: OrderedDict[str, dict[tuple[str, int], list[dict]]] = OrderedDict()

    def records(self, part: str, key: str, block: int) -> list[dict]:
        if part not in self.cache:
            grouped: dict[tuple[str, int], list[dict]] = {}
            with (self.parts_dir / f"{part}.jsonl").open(encoding="utf-8") as fh:
                for line in fh:
                    rec = json.loads(line)
                    grouped.setdefault((rec["k"], rec["b"]), []).append(rec)
            self.cache[part] = grouped
            while len(self.cache) > self.size:
                self.cache.popitem(last=False)
        self.cache.move_to_end(part)
        return self.cache[part].get((key, block), [])


def _document_row(doc: InputDocument, units: list[dict], labels: list[str]) -> dict:
    counts = [0] * len(labels)
    lang: Counter = Counter()
    n_clauses = n_flagged = 0
    warnings, notes = [], []
    for u in units:
        n_clauses += u["clauses"]
        n_flagged += u["flagged"]
        for j, c in enumerate(u["counts"]):
            counts[j] += c
        lang.update(u["lang"])
        warnings += u["warnings"]
        if u["note"]:
            notes.append(u["note"])
    language, share, non_english = summarise_language(dict(lang))
    row = {
        "doc_id": doc.doc_id,
        "format": doc.fmt,
        "clauses": n_clauses,
        "flagged_clauses": n_flagged,
    }
    row.update(zip(labels, counts, strict=True))
    row.update(
        language=language,
        english_share="" if share is None else round(share, 3),
        mostly_non_english=int(non_english),
        encoding=units[0]["encoding"] if units else "",
        note="; ".join(dict.fromkeys(warnings + notes)),
    )
    return row


def merge_outputs(
    output_dir: Path,
    docs: Sequence[InputDocument],
    input_skipped: list[dict],
    labels: list[str],
    run_info: dict,
    report_max_docs: int = 500,
    report_max_clauses: int = 25,
    cache_size: int = 4,
) -> dict:
    """Merge the committed parts of the current inputs into the final outputs, in input order;
    returns the run summary."""
    parts_dir = output_dir / PARTS_DIR
    done = _load_done(parts_dir)
    cache = _PartCache(parts_dir, cache_size)
    skipped = list(input_skipped)
    totals = {"documents": 0, "clauses": 0, "flagged_clauses": 0, "non_english_documents": 0}
    per_label = {name: {"clauses": 0, "documents": 0} for name in labels}
    report = _ReportBuilder(labels, report_max_docs, report_max_clauses)
    doc_columns = ["doc_id", "format", "clauses", "flagged_clauses", *labels]
    doc_columns += ["language", "english_share", "mostly_non_english", "encoding", "note"]
    clauses_tmp = _tmp_path(output_dir / CLAUSES_FILE)
    docs_tmp = _tmp_path(output_dir / DOCUMENTS_FILE)
    try:
        with (
            clauses_tmp.open("w", encoding="utf-8") as out,
            docs_tmp.open("w", encoding="utf-8", newline="") as docs_fh,
        ):
            writer = csv.DictWriter(docs_fh, fieldnames=doc_columns)
            writer.writeheader()
            for doc in docs:
                blocks = _done_blocks(done, doc.key, _stamp(doc.path))
                entries = [blocks[b] for b in sorted(blocks)]
                if not _is_complete(doc, blocks):
                    logger.warning(
                        "%s: no results (changed during the run?); rerun to score it", doc.doc_id
                    )
                    skipped.append(
                        _skip_row(doc.doc_id, "not scored (file changed during the run); rerun")
                    )
                    continue
                if entries[0][1].get("skip_reason"):
                    skipped.append(_skip_row(doc.doc_id, entries[0][1]["skip_reason"]))
                    continue
                units = [u for _, u in entries]
                for u in units:
                    skipped.extend(u["skipped"])
                row = _document_row(doc, units, labels)
                writer.writerow(row)
                report.start_document(row)
                for part, u in entries:
                    for rec in cache.records(part, doc.key, u["block"]):
                        out_rec = {"doc_id": doc.doc_id}
                        out_rec.update({k: v for k, v in rec.items() if k not in ("k", "b", "ctx")})
                        out.write(json.dumps(out_rec, ensure_ascii=False) + "\n")
                        report.add_clause(rec)
                totals["documents"] += 1
                totals["clauses"] += row["clauses"]
                totals["flagged_clauses"] += row["flagged_clauses"]
                totals["non_english_documents"] += row["mostly_non_english"]
                for name in labels:
                    per_label[name]["clauses"] += row[name]
                    per_label[name]["documents"] += int(row[name] > 0)
            for fh in (out, docs_fh):
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(clauses_tmp, output_dir / CLAUSES_FILE)
        os.replace(docs_tmp, output_dir / DOCUMENTS_FILE)
    finally:
        clauses_tmp.unlink(missing_ok=True)
        docs_tmp.unlink(missing_ok=True)

    def write_skipped(fh) -> None:
        w = csv.DictWriter(fh, fieldnames=["path", "line", "reason"])
        w.writeheader()
        w.writerows(skipped)

    write_atomic(output_dir / SKIPPED_FILE, write_skipped)
    summary = {
        **totals,
        "skipped": len(skipped),
        "labels": per_label,
        "model": run_info.get("model"),
        "backend": run_info.get("backend"),
        "output_dir": str(output_dir),
    }
    html = report.render(summary)
    write_atomic(output_dir / REPORT_FILE, lambda fh: fh.write(html))
    return summary


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------


def predict_corpus(
    model_dir: str | Path,
    inputs: Sequence[str | Path],
    output_dir: str | Path,
    backend: str = "auto",
    batch_size: int = 64,
    docs_per_chunk: int = 32,
    progress: bool = True,
    *,
    overwrite: bool = False,
    predictor=None,
    min_words: int | None = None,
    max_chars: int | None = None,
    max_chunk_clauses: int = 4096,
    block_size: int = CLAUSE_BLOCK,
    max_document_bytes: int = MAX_DOCUMENT_BYTES,
    report_max_docs: int = 500,
) -> dict:
    """Score every clause of `inputs` with the model in `model_dir` and write `clauses.jsonl`,
    `documents.csv`, `skipped.csv` and `report.html` into `output_dir`.

    Resumes an interrupted run in the same `output_dir` (refusing one made with another model,
    backend or segmentation unless `overwrite`). Under `accelerate launch` the documents are split
    across processes and the main process merges the results. `predictor` reuses an already
    loaded `ClausePredictor` (it must come from `model_dir`). Returns a summary dict (on the main
    process; other processes return their own counts with `merged: False`)."""
    from train.segment import DEFAULT_MIN_WORDS

    started = time.time()
    output_dir = Path(output_dir)
    _check_output_path(output_dir)
    dist = _dist_context()
    if predictor is None:
        predictor = load_predictor(model_dir, backend, device=dist.device)
    backend_name = getattr(predictor, "backend_name", backend)
    min_words = DEFAULT_MIN_WORDS if min_words is None else min_words
    max_chars = max_chars or max_chars_for(predictor.meta.max_length)
    run_info = {
        "format": RUN_FORMAT,
        "model": str(Path(model_dir).resolve()),
        "backend": backend_name,
        "fingerprint": model_fingerprint(model_dir, backend_name),
        "labels": list(predictor.labels),
        "thresholds": [float(t) for t in predictor.thresholds],
        "min_words": min_words,
        "max_chars": max_chars,
    }
    # The main process prepares the folder; the others learn the outcome (and the session id)
    # from it, so a refusal stops every process instead of leaving them waiting.
    # The main process holds the folder's lock until the outputs are merged.
    outcome: dict = {}
    lock = None
    if dist.is_main:
        try:
            lock = lock_output(output_dir)
            outcome = _prepare_run(output_dir, run_info, overwrite)
        except RunError as err:
            outcome = {"error": str(err)}
    try:
        outcome = dist.broadcast(outcome)
        if "error" in outcome:
            raise RunError(outcome["error"])
        session = outcome["session"]
        parts = output_dir / PARTS_DIR

        docs, input_skipped = expand_inputs(inputs, exclude=output_dir)
        mine = [d for i, d in enumerate(docs) if i % dist.world == dist.index]
        done = _load_done(parts)
        pending = [
            d for d in mine if not _is_complete(d, _done_blocks(done, d.key, _stamp(d.path)))
        ]
        if dist.is_main:
            logger.info(
                "%d documents (%d of this process's %d already done), %d inputs not found or unsupported;"
                " model %s, backend %s, %d process(es)",
                len(docs),
                len(mine) - len(pending),
                len(mine),
                len(input_skipped),
                model_dir,
                backend_name,
                dist.world,
            )

        stats = {"documents_scored": 0, "clauses_scored": 0}
        try:
            _run_pending(
                predictor,
                pending,
                done,
                parts,
                dist,
                stats,
                total=len(mine),
                progress=progress and dist.is_main,
                batch_size=batch_size,
                docs_per_chunk=docs_per_chunk,
                max_chunk_clauses=max_chunk_clauses,
                min_words=min_words,
                max_chars=max_chars,
                block_size=block_size,
                max_bytes=max_document_bytes,
            )
        except BaseException as err:
            if not dist.is_main:
                _marker(parts, session, dist.index, "failed").write_text(
                    repr(err), encoding="utf-8"
                )
            raise
        if not dist.is_main:
            _marker(parts, session, dist.index, "finished").write_text("ok", encoding="utf-8")
            return {**stats, "process_index": dist.index, "merged": False}
        _wait_for_workers(parts, session, dist)

        summary = merge_outputs(
            output_dir,
            docs,
            input_skipped,
            list(predictor.labels),
            run_info,
            report_max_docs=report_max_docs,
            cache_size=2 * dist.world,
        )
        summary.update(
            stats,
            inputs_found=len(docs),
            processes=dist.world,
            seconds=round(time.time() - started, 2),
            merged=True,
        )
        if not docs:
            logger.error("no input document found in %s", " ".join(map(str, inputs)))
        return summary
    finally:
        if lock is not None:
            lock.release()


def _run_pending(
    predictor,
    pending: list[InputDocument],
    done: Done,
    parts: Path,
    dist: _Dist,
    stats: dict,
    *,
    total: int,
    progress: bool,
    batch_size: int,
    docs_per_chunk: int,
    max_chunk_clauses: int,
    min_words: int,
    max_chars: int,
    block_size: int,
    max_bytes: int,
) -> None:
    """Score the pending documents chunk by chunk, committing each chunk as a part."""
    from tqdm.auto import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    prefix = f"{int(time.time() * 1000):013d}-r{dist.index:03d}"
    units = _iter_pending_units(pending, done, min_words, max_chars, block_size, max_bytes)
    started = time.time()
    bar = tqdm(
        total=total,
        initial=total - len(pending),
        unit="doc",
        disable=not progress,
        dynamic_ncols=True,
    )
    with bar, logging_redirect_tqdm():
        for seq, chunk in enumerate(_chunks(units, docs_per_chunk, max_chunk_clauses)):
            records, summaries = _score_isolated(predictor, chunk, batch_size)
            _commit_part(parts, f"{prefix}-{seq:06d}", records, summaries)
            for unit, summary in zip(chunk, summaries, strict=True):
                _log_unit(unit, summary)
            finished = sum(1 for unit in chunk if unit.last)
            stats["documents_scored"] += finished
            stats["clauses_scored"] += len(records)
            bar.update(finished)
            elapsed = max(time.time() - started, 1e-9)
            bar.set_postfix_str(f"{stats['clauses_scored'] / elapsed:.1f} clauses/s", refresh=False)


def _log_unit(unit: _Unit, summary: dict) -> None:
    if unit.skip_reason:
        logger.warning("%s: skipped: %s", unit.doc.doc_id, unit.skip_reason)
        return
    if unit.note and not unit.clauses:
        logger.warning("%s: %s", unit.doc.doc_id, unit.note)
    for row in unit.skipped:
        logger.warning("%s:%s: skipped record: %s", row["path"], row["line"], row["reason"])
    language, share, non_english = summarise_language(summary["lang"])
    if non_english:
        where = (
            unit.doc.doc_id
            if unit.block == 0 and unit.last
            else f"{unit.doc.doc_id} (block {unit.block})"
        )
        logger.warning(
            "%s: mostly not English (detected %s, English share %.0f%%); scored anyway, flags may be unreliable",
            where,
            language,
            100 * share,
        )


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return number


def build_parser() -> argparse.ArgumentParser:
    """Command-line arguments of `scripts/predict.py`."""
    p = argparse.ArgumentParser(
        prog="predict.py",
        description="Flag the clauses of a corpus of Terms of Service / privacy policies.",
        epilog="Outputs in OUT/: clauses.jsonl, documents.csv, skipped.csv, report.html. "
        "Rerun the same command to resume after a kill. "
        "Exit status: 0 the run finished (whatever was flagged; bad files are listed in "
        "skipped.csv); 2 usage or input error (bad arguments, no input document found, model "
        "cannot be loaded, output folder unusable or in use by another run); 3 internal error "
        "(a bug: the traceback is printed); 130 interrupted (rerun to resume). "
        "Status 1 is reserved for a future --fail-on option.",
    )
    p.add_argument(
        "--model", required=True, help="trained model folder (run/model) or export folder"
    )
    p.add_argument("--output", required=True, help="output folder (created; reused to resume)")
    p.add_argument(
        "--backend",
        default="auto",
        choices=("auto", "torch", "onnx", "onnx-int8"),
        help="auto: PyTorch on a GPU, else ONNX int8, ONNX fp32, PyTorch (first available)",
    )
    p.add_argument(
        "--batch-size",
        type=_positive_int,
        default=64,
        help=f"clauses per forward pass at most (long clauses: fewer, {MAX_BATCH_TOKENS} tokens a pass)",
    )
    p.add_argument(
        "--docs-per-chunk",
        type=_positive_int,
        default=32,
        help="documents scored and committed together",
    )
    p.add_argument(
        "--min-words", type=_positive_int, default=None, help="drop fragments under this many words"
    )
    p.add_argument(
        "--max-chars",
        type=_positive_int,
        default=None,
        help="split clauses longer than this (default: 4 x the model's max length)",
    )
    p.add_argument(
        "--report-max-docs", type=_positive_int, default=500, help="documents listed in report.html"
    )
    p.add_argument("--overwrite", action="store_true", help="discard earlier results in --output")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="files, folders or globs: .txt .md .html documents, .jsonl/.csv clauses (id, text)",
    )
    return p


EXIT_OK = 0
EXIT_FOUND = 1  # reserved for a --fail-on option ("something was flagged"); predict has none yet
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130


def main(argv: list[str] | None = None) -> int:
    """`scripts/predict.py`: returns the exit status: 0 the run finished, 2 usage or input error
    (including no input document found), 3 internal error, 130 interrupted (see the epilog)."""
    args = build_parser().parse_args(argv)  # bad arguments: argparse exits with status 2
    configure_logging()
    try:
        summary = predict_corpus(
            args.model,
            args.inputs,
            args.output,
            backend=args.backend,
            batch_size=args.batch_size,
            docs_per_chunk=args.docs_per_chunk,
            progress=not args.no_progress,
            overwrite=args.overwrite,
            min_words=args.min_words,
            max_chars=args.max_chars,
            report_max_docs=args.report_max_docs,
        )
    except RunError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # noqa: BLE001 - a bug: the traceback, then one line and status 3
        traceback.print_exc(file=sys.stderr)
        print(f"internal error: {type(err).__name__}: {err}", file=sys.stderr)
        return EXIT_INTERNAL
    if not summary.get("merged"):
        return EXIT_OK
    print(format_summary(summary))
    if not summary["inputs_found"]:
        return EXIT_USAGE  # an input error ("no input document found" is logged)
    return EXIT_OK


def format_summary(summary: dict) -> str:
    """A few lines for the terminal."""
    out = io.StringIO()
    out.write(
        f"{summary['documents']} documents, {summary['clauses']} clauses, "
        f"{summary['flagged_clauses']} flagged, {summary['skipped']} skipped, "
        f"{summary['non_english_documents']} mostly non-English "
        f"({summary['clauses_scored']} clauses scored in this run"
        f"{' by the main process' if summary.get('processes', 1) > 1 else ''}, "
        f"{summary['seconds']} s)\n"
    )
    for name, c in summary["labels"].items():
        out.write(f"  {name:<16} {c['clauses']:>7} clauses in {c['documents']:>6} documents\n")
    out.write(
        f"outputs in {summary['output_dir']}/ ({CLAUSES_FILE}, {DOCUMENTS_FILE}, {SKIPPED_FILE}, {REPORT_FILE})"
    )
    return out.getvalue()
