"""Hand labelling of pattern candidates that have no label yet (`data/mined_labels.jsonl`).

Candidates come from `train.mining.iter_candidates`; clauses of exhaustively labelled documents
are labelled there already and are skipped. Sheets use the same `k.i<TAB>text` layout and answer
codes as document labelling; a git-ignored map ties each sheet id to its reference.
Clauses of whole documents (corpus, 2026 documents) are labelled for every label; records of the
labelled sources (ToS;DR, CLAUDETTE, OPP-115) only for the labels their pattern asks about
(`ai_training` and `content_license`; in CLAUDETTE `terms_change` for its terms-change candidates
and the four data labels for its data-practice candidates), so their own annotations of the other
labels stand. A second, independent pass over a batch is kept beside the labels for the agreement
in the dataset card.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from itertools import chain
from pathlib import Path

from train.dataset import BuildConfig, sampled_clause_candidates
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
    MASKED_PATTERNS,
    MINED_LABELS,
    PATTERN_LABELS,
    iter_candidates,
    load_mined_labels,
    write_mined_labels,
)
from train.services import canonical_service
from train.sources import DOCUMENT_SOURCES
from train.splits import SERVICE_SPLITS, load_service_splits
from train.taxonomy import Taxonomy


def write_candidate_sheets(
    raw_dir: Path,
    taxonomy: Taxonomy,
    folder: Path,
    batch_size: int = 300,
    pattern: str | None = None,
    labels_path: Path = MINED_LABELS,
    manifest_path: Path = LABELLED_DOCUMENTS,
    split: str | None = None,
    splits_path: Path = SERVICE_SPLITS,
) -> dict[str, int]:
    """Write `<prefix>-NN.sheet.txt` and `<prefix>-NN.map.json` for every candidate that still
    lacks a hand label for a label it asks about (`Candidate.labels_to_decide`); with `pattern`
    (`ai`, `license`, `terms_change`, `data`) only that pattern's candidates, in batches named
    after it; with `split` only candidates of services in that split (`splits_path`, the
    committed assignment), so that test documents can be labelled whole first."""
    known = load_mined_labels(labels_path, taxonomy)
    in_split = None
    if split is not None:
        assignment = load_service_splits(splits_path)
        in_split = {service for service, s in assignment.items() if s == split}
    exhaustive = {d.document for d in load_manifest(manifest_path)}
    codes = {name: code for code, name in LABEL_CODES.items()}
    todo = []
    # Whole documents are mined for the AI pattern only: skip segmenting them for the others.
    found = iter_candidates(raw_dir, taxonomy, with_documents=pattern in (None, "ai"))
    if pattern in (None, *MASKED_PATTERNS):
        # The build's sampled sentences of whole documents, for the masked patterns.
        cfg = BuildConfig(
            raw_dir=raw_dir, mined_labels_path=labels_path, labelled_documents_path=manifest_path
        )
        found = chain(found, sampled_clause_candidates(cfg, exhaustive))
    for c in found:
        if c.ref.document in exhaustive or (pattern and pattern not in c.patterns):
            continue
        if in_split is not None and canonical_service(c.service) not in in_split:
            continue
        done = known[c.ref.key].checked if c.ref.key in known else ()
        wanted = tuple(n for n in c.labels_to_decide(taxonomy) if n not in done)
        if pattern and c.ref.source not in DOCUMENT_SOURCES:
            # A sheet for one pattern asks only for its labels; the others wait for their own.
            wanted = tuple(n for n in wanted if n in PATTERN_LABELS[pattern])
        if wanted:
            todo.append((c, wanted))
    prefix = "cand" if pattern is None else f"cand-{pattern.replace('_', '')}"
    if split is not None:
        prefix += f"-{split}"
    folder.mkdir(parents=True, exist_ok=True)
    batches: dict[str, int] = {}
    # New batches are numbered after the ones in `folder`: an earlier batch's sheet, map and
    # answers are never overwritten.
    numbered = re.compile(rf"{re.escape(prefix)}-(\d+)\.")
    start = 1 + max(
        (int(m.group(1)) for p in folder.iterdir() if (m := numbered.match(p.name))), default=0
    )
    for b, first in enumerate(range(0, len(todo), batch_size), start=start):
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


def _label_rows(labels_path: Path, taxonomy: Taxonomy) -> dict[tuple[str, str, str], dict]:
    load_mined_labels(labels_path, taxonomy)  # validates; the rows below keep their notes
    return {
        (r["source"], r["document"], r["locator"]): r
        for _, r in (iter_jsonl(labels_path) if labels_path.is_file() else ())
    }


def import_candidate_answers(
    folder: Path,
    batch: str,
    answers_path: Path,
    taxonomy: Taxonomy,
    labels_path: Path = MINED_LABELS,
    second: bool = False,
) -> int:
    """Merge the labels of a candidate batch into `mined_labels.jsonl` (references only): a new
    reference is added; one labelled before for other labels gains the newly decided ones. A
    label decided already for a reference is an error (that would be relabelling).

    With `second`, `answers_path` is an independent second pass over a batch imported before:
    both passes (the first read again from `<batch>.answers.txt` in `folder`, before any
    adjudication) are kept under `double` for the agreement in the dataset card, and the labels
    stay as they are."""
    mapping = json.loads((folder / f"{batch}.map.json").read_text(encoding="utf-8"))
    answers = parse_answers(answers_path, set(mapping))
    first = parse_answers(folder / f"{batch}.answers.txt", set(mapping)) if second else {}
    rows = _label_rows(labels_path, taxonomy)
    for cid, ref in mapping.items():
        key = (ref["source"], ref["document"], ref["locator"])
        # Maps written before sheets named their labels: every label for a whole document's
        # clause, the AI and licence labels for a record of a labelled source.
        checked = ref.get("checked") or list(
            taxonomy.names if ref["source"] in DOCUMENT_SOURCES else PATTERN_LABELS["ai"]
        )
        names, note = answers[cid]
        if second:
            row = rows.get(key)
            if row is None or not set(checked) <= set(row["checked"]):
                raise DataError(answers_path, f"{key}: import the first pass before the second")
            double = row.setdefault("double", {"checked": [], "a": [], "b": []})
            if set(checked) & set(double["checked"]):
                raise DataError(answers_path, f"{key} has a second pass for these labels already")
            double["checked"] = [n for n in taxonomy.names if n in {*double["checked"], *checked}]
            for side, got in (("a", first[cid][0]), ("b", names)):
                double[side] = [
                    n for n in taxonomy.names if n in double[side] or (n in got and n in checked)
                ]
            continue
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


def adjudicate_candidates(
    decisions_path: Path, taxonomy: Taxonomy, labels_path: Path = MINED_LABELS
) -> int:
    """Settle hand labels of candidates: lines `source<TAB>document<TAB>locator<TAB>EDITS[<TAB>note]`
    where EDITS is a comma-separated list of `+CODE` (make the label positive) and `-CODE`
    (negative), each a label the reference was checked for; the note is appended. Returns the
    number of references changed."""
    rows = _label_rows(labels_path, taxonomy)
    n = 0
    for line_no, line in enumerate(decisions_path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("//"):
            continue
        parts = line.split("\t")
        if len(parts) < 4:
            raise DataError(decisions_path, "expected source, document, locator, EDITS", line_no)
        key = (parts[0], parts[1], parts[2])
        row = rows.get(key)
        if row is None:
            raise DataError(decisions_path, f"no hand-labelled reference {key}", line_no)
        labels = set(row["labels"])
        for edit in parts[3].strip().split(","):
            sign, code = edit[:1], edit[1:].upper()
            name = LABEL_CODES.get(code)
            if not sign or sign not in "+-" or name is None:
                raise DataError(decisions_path, f"expected +CODE or -CODE, got {edit!r}", line_no)
            if name not in row["checked"]:
                raise DataError(decisions_path, f"{key} was not labelled for {name}", line_no)
            (labels.add if sign == "+" else labels.discard)(name)
        row["labels"] = [name for name in taxonomy.names if name in labels]
        note = parts[4].strip() if len(parts) > 4 else ""
        row["note"] = "; ".join(x for x in (row["note"], note) if x)
        n += 1
    write_mined_labels(list(rows.values()), labels_path)
    return n
