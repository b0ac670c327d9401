"""Scoring the units of a predict run: chunks of documents (the backends batch their clauses by
length, long ones in smaller batches: `train.inference.MAX_BATCH_TOKENS`), and a failure narrowed
down to the document, then the clause, that caused it so it lands in `skipped.csv` instead of
stopping the corpus."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from train.documents import skip_row
from train.language import language_counts
from train.predict_parts import unit_summary
from train.predict_report import CONTEXT_CHARS
from train.predict_units import WorkUnit

logger = logging.getLogger("clausewatch.batch")


def scoring_chunks(
    units: Iterable[WorkUnit], docs_per_chunk: int, max_clauses: int
) -> Iterator[list[WorkUnit]]:
    chunk: list[WorkUnit] = []
    n_clauses = 0
    for unit in units:
        chunk.append(unit)
        n_clauses += len(unit.clauses)
        if len(chunk) >= docs_per_chunk or n_clauses >= max_clauses:
            yield chunk
            chunk, n_clauses = [], 0
    if chunk:
        yield chunk


def score_isolated(
    predictor, chunk: list[WorkUnit], batch_size: int | None
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
                r, s = score_isolated(predictor, [unit], batch_size)
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
            unit.skipped.append(skip_row(unit.doc.doc_id, reason))
            logger.warning("%s: %s", unit.doc.doc_id, reason)
        else:
            kept.append(clause)
    unit.clauses = kept
    return _score_chunk(predictor, [unit], batch_size)


def _score_chunk(
    predictor, chunk: list[WorkUnit], batch_size: int | None
) -> tuple[list[dict], list[dict]]:
    """Score every clause of a chunk -> (records, units)."""
    texts = [c[3] for unit in chunk for c in unit.clauses]
    probs = predictor.predict_proba(texts, batch_size=batch_size)
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
        summaries.append(unit_summary(unit, unit_flags, lang))
        row += n
    return records, summaries
