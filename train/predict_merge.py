"""Merging the committed parts of a predict run, in input order, into `clauses.jsonl`,
`documents.csv`, `skipped.csv` and `report.html` (each written to a temporary file and
renamed into place)."""

from __future__ import annotations

import csv
import json
import logging
import os
from collections import Counter, OrderedDict
from collections.abc import Sequence
from pathlib import Path

from train.documents import InputDocument, skip_row
from train.language import summarise_language
from train.outputs import (
    CLAUSES_FILE,
    DOCUMENTS_FILE,
    PARTS_DIR,
    REPORT_FILE,
    SKIPPED_FILE,
    temp_path_beside,
    write_atomic,
)
from train.predict_parts import completed_blocks, is_complete, load_done
from train.predict_report import _ReportBuilder
from train.predict_units import file_stamp

logger = logging.getLogger("clausewatch.batch")


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
    done = load_done(parts_dir)
    cache = _PartCache(parts_dir, cache_size)
    skipped = list(input_skipped)
    totals = {"documents": 0, "clauses": 0, "flagged_clauses": 0, "non_english_documents": 0}
    per_label = {name: {"clauses": 0, "documents": 0} for name in labels}
    report = _ReportBuilder(labels, report_max_docs, report_max_clauses)
    doc_columns = ["doc_id", "format", "clauses", "flagged_clauses", *labels]
    doc_columns += ["language", "english_share", "mostly_non_english", "encoding", "note"]
    clauses_tmp = temp_path_beside(output_dir / CLAUSES_FILE)
    docs_tmp = temp_path_beside(output_dir / DOCUMENTS_FILE)
    try:
        with (
            clauses_tmp.open("w", encoding="utf-8") as out,
            docs_tmp.open("w", encoding="utf-8", newline="") as docs_fh,
        ):
            writer = csv.DictWriter(docs_fh, fieldnames=doc_columns)
            writer.writeheader()
            for doc in docs:
                blocks = completed_blocks(done, doc.key, file_stamp(doc.path))
                entries = [blocks[b] for b in sorted(blocks)]
                if not is_complete(doc, blocks):
                    logger.warning(
                        "%s: no results (changed during the run?); rerun to score it", doc.doc_id
                    )
                    skipped.append(
                        skip_row(doc.doc_id, "not scored (file changed during the run); rerun")
                    )
                    continue
                if entries[0][1].get("skip_reason"):
                    skipped.append(skip_row(doc.doc_id, entries[0][1]["skip_reason"]))
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
