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

This module runs a corpus (`predict_corpus`) and holds the command line of `scripts/predict.py`;
the pieces live beside it: `train.documents` (finding and reading inputs), `train.predict_units`
(documents and clause files as blocks of clauses), `train.predict_scoring`, `train.predict_parts`
(committed parts, resume), `train.distributed` (the split across processes),
`train.predict_merge` and `train.predict_report` (the final outputs), `train.outputs` (atomic
writes, the folder lock) and `train.predictor` (loading the model).
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from train.cli import configure_logging
from train.distributed import DistInfo, dist_context, rank_marker, wait_for_workers
from train.documents import MAX_DOCUMENT_BYTES, InputDocument, expand_inputs
from train.errors import RunError
from train.inference import CPU_BATCH_SIZE, GPU_BATCH_SIZE, MAX_BATCH_TOKENS
from train.language import summarise_language
from train.outputs import (
    CLAUSES_FILE,
    DOCUMENTS_FILE,
    PARTS_DIR,
    REPORT_FILE,
    SKIPPED_FILE,
    check_output_path,
    lock_output,
)
from train.predict_merge import merge_outputs
from train.predict_parts import (
    Done,
    commit_part,
    completed_blocks,
    is_complete,
    iter_pending_units,
    load_done,
    prepare_run,
)
from train.predict_scoring import score_isolated, scoring_chunks
from train.predict_units import CLAUSE_BLOCK, WorkUnit, file_stamp
from train.predictor import load_predictor, max_chars_for, model_fingerprint

logger = logging.getLogger("clausewatch.batch")


RUN_FORMAT = 1


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------


def predict_corpus(
    model_dir: str | Path,
    inputs: Sequence[str | Path],
    output_dir: str | Path,
    backend: str = "auto",
    batch_size: int | None = None,
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
    check_output_path(output_dir)
    dist = dist_context()
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
            outcome = prepare_run(output_dir, run_info, overwrite)
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
        done = load_done(parts)
        pending = [
            d for d in mine if not is_complete(d, completed_blocks(done, d.key, file_stamp(d.path)))
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
                rank_marker(parts, session, dist.index, "failed").write_text(
                    repr(err), encoding="utf-8"
                )
            raise
        if not dist.is_main:
            rank_marker(parts, session, dist.index, "finished").write_text("ok", encoding="utf-8")
            return {**stats, "process_index": dist.index, "merged": False}
        wait_for_workers(parts, session, dist)

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
    dist: DistInfo,
    stats: dict,
    *,
    total: int,
    progress: bool,
    batch_size: int | None,
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
    units = iter_pending_units(pending, done, min_words, max_chars, block_size, max_bytes)
    started = time.time()
    bar = tqdm(
        total=total,
        initial=total - len(pending),
        unit="doc",
        disable=not progress,
        dynamic_ncols=True,
    )
    with bar, logging_redirect_tqdm():
        for seq, chunk in enumerate(scoring_chunks(units, docs_per_chunk, max_chunk_clauses)):
            records, summaries = score_isolated(predictor, chunk, batch_size)
            commit_part(parts, f"{prefix}-{seq:06d}", records, summaries)
            for unit, summary in zip(chunk, summaries, strict=True):
                _log_unit(unit, summary)
            finished = sum(1 for unit in chunk if unit.last)
            stats["documents_scored"] += finished
            stats["clauses_scored"] += len(records)
            bar.update(finished)
            elapsed = max(time.time() - started, 1e-9)
            bar.set_postfix_str(f"{stats['clauses_scored'] / elapsed:.1f} clauses/s", refresh=False)


def _log_unit(unit: WorkUnit, summary: dict) -> None:
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
        default=None,
        help=f"clauses per forward pass at most (default {CPU_BATCH_SIZE} on CPU, {GPU_BATCH_SIZE} with PyTorch on a GPU; on CPU long clauses go fewer at a time: {MAX_BATCH_TOKENS:,} padded tokens a pass)",
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
