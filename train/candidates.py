"""Hand labelling of AI-pattern candidates that have no label yet (`data/mined_labels.jsonl`).

Candidates come from `train.mining.iter_candidates`; clauses of exhaustively labelled documents
are labelled there already and are skipped. Sheets use the same `k.i<TAB>text` layout and answer
codes as document labelling; a git-ignored map ties each sheet id to its reference.
Clauses of whole documents (corpus, 2026 documents) are labelled for every label; records of the
labelled sources (ToS;DR, CLAUDETTE, OPP-115) only for `ai_training` and `content_license`, so
their own annotations of the other labels stand.
"""

from __future__ import annotations

import json
from pathlib import Path

from train.doc_labels import load_manifest, parse_answers
from train.errors import DataError
from train.mining import MINED_LABELS, iter_candidates, load_mined_labels
from train.sources import DOCUMENT_SOURCES
from train.taxonomy import Taxonomy

RECORD_SOURCE_LABELS = ("ai_training", "content_license")


def write_candidate_sheets(
    raw_dir: Path, taxonomy: Taxonomy, folder: Path, batch_size: int = 300
) -> dict[str, int]:
    """Write `cand-NN.sheet.txt` and `cand-NN.map.json` for every unlabelled candidate."""
    known = load_mined_labels(MINED_LABELS, taxonomy)
    exhaustive = {d.document for d in load_manifest()}
    todo = [
        c
        for c in iter_candidates(raw_dir, taxonomy)
        if c.ref.key not in known and c.ref.document not in exhaustive
    ]
    folder.mkdir(parents=True, exist_ok=True)
    batches: dict[str, int] = {}
    for b, first in enumerate(range(0, len(todo), batch_size), start=1):
        name = f"cand-{b:02d}"
        chunk = todo[first : first + batch_size]
        mapping = {}
        with (folder / f"{name}.sheet.txt").open("w", encoding="utf-8") as fh:
            fh.write(f"### 1 AI-pattern candidates ({len(chunk)} clauses, each on its own)\n")
            for i, c in enumerate(chunk):
                text = " / ".join(part.strip() for part in c.text.splitlines())
                fh.write(f"1.{i}\t[{c.service}] {text}\n")
                mapping[f"1.{i}"] = {
                    "source": c.ref.source,
                    "document": c.ref.document,
                    "locator": c.ref.locator,
                    "sha1": c.ref.sha1,
                }
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
    """Append the labels of a candidate batch to `mined_labels.jsonl` as references."""
    mapping = json.loads((folder / f"{batch}.map.json").read_text(encoding="utf-8"))
    answers = parse_answers(answers_path, set(mapping))
    known = load_mined_labels(labels_path, taxonomy)
    rows = []
    for cid, ref in mapping.items():
        key = (ref["source"], ref["document"], ref["locator"])
        if key in known:
            raise DataError(answers_path, f"{key} is labelled already")
        names, note = answers[cid]
        checked = (
            list(taxonomy.names)
            if ref["source"] in DOCUMENT_SOURCES
            else list(RECORD_SOURCE_LABELS)
        )
        rows.append(
            {
                **ref,
                "labels": [n for n in names if n in checked],
                "checked": checked,
                "note": note,
            }
        )
    with labels_path.open("a", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(rows)
