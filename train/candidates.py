"""Hand labelling of pattern candidates that have no label yet (`data/mined_labels.jsonl`).

Candidates come from `train.mining.iter_candidates`; clauses of exhaustively labelled documents
are labelled there already and are skipped. Sheets use the same `k.i<TAB>text` layout and answer
codes as document labelling; a git-ignored map ties each sheet id to its reference.
Clauses of whole documents (corpus, 2026 documents) are labelled for every label; records of the
labelled sources (ToS;DR, CLAUDETTE, OPP-115) only for the labels their pattern asks about
(`ai_training` and `content_license`; `terms_change` for CLAUDETTE's terms-change candidates), so
their own annotations of the other labels stand.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from train.doc_labels import (
    LABEL_CODES,
    LABELLED_DOCUMENTS,
    load_manifest,
    parse_answers,
    sheet_text,
)
from train.errors import DataError
from train.jsonio import iter_jsonl
from train.mining import (
    MINED_LABELS,
    PATTERN_LABELS,
    iter_candidates,
    load_mined_labels,
    write_mined_labels,
)
from train.sources import DOCUMENT_SOURCES
from train.taxonomy import Taxonomy


def write_candidate_sheets(
    raw_dir: Path,
    taxonomy: Taxonomy,
    folder: Path,
    batch_size: int = 300,
    pattern: str | None = None,
    labels_path: Path = MINED_LABELS,
    manifest_path: Path = LABELLED_DOCUMENTS,
) -> dict[str, int]:
    """Write `<prefix>-NN.sheet.txt` and `<prefix>-NN.map.json` for every candidate that still
    lacks a hand label for a label it asks about (`Candidate.labels_to_decide`); with `pattern`
    (`ai`, `license`, `terms_change`) only that pattern's candidates, in batches named after it."""
    known = load_mined_labels(labels_path, taxonomy)
    exhaustive = {d.document for d in load_manifest(manifest_path)}
    codes = {name: code for code, name in LABEL_CODES.items()}
    todo = []
    # Whole documents are mined for the AI pattern only: skip segmenting them for the others.
    for c in iter_candidates(raw_dir, taxonomy, with_documents=pattern in (None, "ai")):
        if c.ref.document in exhaustive or (pattern and pattern not in c.patterns):
            continue
        done = known[c.ref.key].checked if c.ref.key in known else ()
        wanted = tuple(n for n in c.labels_to_decide(taxonomy) if n not in done)
        if wanted:
            todo.append((c, wanted))
    prefix = "cand" if pattern is None else f"cand-{pattern.replace('_', '')}"
    folder.mkdir(parents=True, exist_ok=True)
    batches: dict[str, int] = {}
    for b, first in enumerate(range(0, len(todo), batch_size), start=1):
        name = f"{prefix}-{b:02d}"
        chunk = todo[first : first + batch_size]
        mapping = {}
        with (folder / f"{name}.sheet.txt").open("w", encoding="utf-8") as fh:
            fh.write(
                f"### 1 pattern candidates ({len(chunk)} clauses, each on its own; "
                "decide only the labels in braces; `before:` is the sentence before, context only)\n"
            )
            for i, (c, wanted) in enumerate(chunk):
                ask = ",".join(codes[n] for n in wanted)
                before = f" (before: {sheet_text(c.context)})" if c.context else ""
                fh.write(f"1.{i}\t[{c.service}] {{{ask}}}{before} {sheet_text(c.text)}\n")
                mapping[f"1.{i}"] = {**asdict(c.ref), "checked": list(wanted)}
        (folder / f"{name}.map.json").write_text(json.dumps(mapping), encoding="utf-8")
        batches[name] = len(chunk)
    return batches


def import_candidate_answers(
    folder: Path,
    batch: str,
    answers_path: Path,
    taxonomy: Taxonomy,
    labels_path: Path = MINED_LABELS,
) -> int:
    """Merge the labels of a candidate batch into `mined_labels.jsonl` (references only): a new
    reference is added; one labelled before for other labels gains the newly decided ones. A
    label decided already for a reference is an error (that would be relabelling)."""
    mapping = json.loads((folder / f"{batch}.map.json").read_text(encoding="utf-8"))
    answers = parse_answers(answers_path, set(mapping))
    load_mined_labels(labels_path, taxonomy)  # validates; the rows below keep their notes
    rows = {
        (r["source"], r["document"], r["locator"]): r
        for _, r in (iter_jsonl(labels_path) if labels_path.is_file() else ())
    }
    for cid, ref in mapping.items():
        key = (ref["source"], ref["document"], ref["locator"])
        # Maps written before sheets named their labels: every label for a whole document's
        # clause, the AI and licence labels for a record of a labelled source.
        checked = ref.get("checked") or list(
            taxonomy.names if ref["source"] in DOCUMENT_SOURCES else PATTERN_LABELS["ai"]
        )
        names, note = answers[cid]
        fresh = {k: ref[k] for k in ("source", "document", "locator", "sha1")}
        row = rows.setdefault(key, {**fresh, "labels": [], "checked": [], "note": ""})
        if row["sha1"] != ref["sha1"]:
            raise DataError(answers_path, f"{key}: text changed since the sheet was written")
        again = sorted(set(checked) & set(row["checked"]))
        if again:
            raise DataError(answers_path, f"{key} is labelled already for {again}")
        row["checked"] = [n for n in taxonomy.names if n in {*row["checked"], *checked}]
        row["labels"] = [
            n for n in taxonomy.names if n in row["labels"] or (n in names and n in checked)
        ]
        row["note"] = "; ".join(x for x in (row["note"], note) if x)
    write_mined_labels(list(rows.values()), labels_path)
    return len(mapping)
