"""Exhaustively labelled real documents: every clause the segmenter cuts, every label.

Two committed files describe them, and neither holds raw text:
- `data/labelled_documents.csv`: one row per document (source, document id, service, clause
  count and a hash of the segmenter's clause list), so a later segmenter change cannot silently
  orphan labels: the build stops and names the document.
- `data/document_labels.jsonl`: one row per clause (source, document, `start:end`, text hash,
  labels, note). Double-labelled clauses also keep both independent passes (`labels_a`,
  `labels_b`); `labels` is the adjudicated answer.

The labelling round trip (`scripts/label_documents.py`): `sheet` writes a numbered reading sheet
of a batch's clauses (git-ignored), an annotator writes one line per clause id with short label
codes, and `import` turns those lines into references.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from train.errors import DataError
from train.jsonio import iter_jsonl
from train.paths import REPO_ROOT
from train.records import ClauseRecord
from train.sources import DOCUMENT_SOURCES, LICENSES
from train.taxonomy import Taxonomy
from train.textnorm import text_sha1

LABELLED_DOCUMENTS = REPO_ROOT / "data" / "labelled_documents.csv"
DOCUMENT_LABELS = REPO_ROOT / "data" / "document_labels.jsonl"
MANIFEST_COLUMNS = (
    "source",
    "document",
    "service",
    "split",
    "clauses",
    "clause_list_sha1",
    "batch",
)

# Short codes annotators write, one per label (taxonomy order).
LABEL_CODES = {
    "AI": "ai_training",
    "CL": "content_license",
    "DC": "data_collection",
    "DS": "data_sharing",
    "DR": "data_retention",
    "TC": "terms_change",
    "UC": "user_control",
}
_ANSWER = re.compile(r"^\s*(\d+\.\d+)\s+(\S+)(?:\s+#\s*(.*))?$")


@dataclass(frozen=True)
class LabelledDocument:
    source: str
    document: str
    service: str
    split: str
    clauses: int
    clause_list_sha1: str
    batch: str


@dataclass(frozen=True)
class DocumentClause:
    start: int
    end: int
    text: str

    @property
    def locator(self) -> str:
        return f"{self.start}:{self.end}"


def clause_list_sha1(clauses: list[DocumentClause]) -> str:
    """Identity of a segmentation: offsets and text hashes of every clause, in order."""
    digest = hashlib.sha1()
    for c in clauses:
        digest.update(f"{c.start}:{c.end}:{text_sha1(c.text)}\n".encode())
    return digest.hexdigest()


def document_clauses(raw_dir: Path, source: str, document: str) -> list[DocumentClause]:
    """The clauses of a document as the segmenter cuts them today."""
    if source not in DOCUMENT_SOURCES:
        raise DataError(LABELLED_DOCUMENTS, f"source {source!r} has no whole documents")
    kind = DOCUMENT_SOURCES[source]
    path = kind.path_of(raw_dir, document)
    if not path.is_file():
        raise DataError(path, f"labelled document {document!r} not found under {raw_dir}")
    _, clauses = kind.segment(path)
    return [DocumentClause(c.start, c.end, c.text) for c in clauses]


def load_manifest(path: Path = LABELLED_DOCUMENTS) -> list[LabelledDocument]:
    """Read `labelled_documents.csv`; an empty list when it does not exist."""
    if not path.is_file():
        return []
    docs: list[LabelledDocument] = []
    seen: set[tuple[str, str]] = set()
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = set(MANIFEST_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise DataError(path, f"missing column(s) {sorted(missing)}", 1)
        for line_no, row in enumerate(reader, start=2):
            key = (row["source"], row["document"])
            if key in seen:
                raise DataError(path, f"document {key} listed twice", line_no)
            seen.add(key)
            try:
                clauses = int(row["clauses"])
            except ValueError:
                raise DataError(
                    path, f"`clauses` is not a number: {row['clauses']!r}", line_no
                ) from None
            docs.append(
                LabelledDocument(
                    row["source"],
                    row["document"],
                    row["service"],
                    row["split"],
                    clauses,
                    row["clause_list_sha1"],
                    row["batch"],
                )
            )
    return docs


def write_manifest(docs: list[LabelledDocument], path: Path = LABELLED_DOCUMENTS) -> None:
    rows = sorted(docs, key=lambda d: (d.batch, d.source, d.document))
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(MANIFEST_COLUMNS)
        for d in rows:
            writer.writerow([getattr(d, c) for c in MANIFEST_COLUMNS])
    os.replace(tmp, path)


def load_document_labels(path: Path, taxonomy: Taxonomy) -> dict[tuple[str, str, str], dict]:
    """Rows of `document_labels.jsonl` keyed by (source, document, locator), checked."""
    table: dict[tuple[str, str, str], dict] = {}
    if not path.is_file():
        return table
    for line_no, item in iter_jsonl(path):
        if not isinstance(item, dict):
            raise DataError(path, "each line must be a JSON object", line_no)
        for key in ("source", "document", "locator", "sha1", "labels"):
            if key not in item:
                raise DataError(path, f"missing key {key!r}", line_no)
        for field in ("labels", "labels_a", "labels_b"):
            names = item.get(field, [])
            if not isinstance(names, list):
                raise DataError(path, f"`{field}` must be a list of label names", line_no)
            for name in names:
                if name not in taxonomy.names:
                    raise DataError(path, f"unknown label {name!r} in `{field}`", line_no)
        key = (item["source"], item["document"], item["locator"])
        if key in table:
            raise DataError(path, f"duplicate reference {key}", line_no)
        item["_line"] = line_no
        table[key] = item
    return table


def write_document_labels(rows: list[dict], path: Path = DOCUMENT_LABELS) -> None:
    """Write label rows sorted by document and offset (atomic)."""

    def order(row: dict):
        start = int(row["locator"].split(":")[0])
        return (row["source"], row["document"], start)

    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in sorted(rows, key=order):
            clean = {k: v for k, v in row.items() if not k.startswith("_")}
            fh.write(json.dumps(clean, ensure_ascii=False, sort_keys=True) + "\n")
    os.replace(tmp, path)


def record_id(source: str, document: str, start: int, end: int) -> str:
    """Id of the clause `start:end` of a whole document; every record built from a document
    source (labelled, mined or sampled) uses it, so the same clause always has the same id."""
    prefix = "corpus" if source == "tosdr_corpus_text" else "ota2026"
    return f"{prefix}-{text_sha1(document)[:10]}-{start}-{end}"


def load_labelled_document_records(
    raw_dir: Path,
    taxonomy: Taxonomy,
    manifest_path: Path = LABELLED_DOCUMENTS,
    labels_path: Path = DOCUMENT_LABELS,
) -> Iterator[ClauseRecord]:
    """One record per clause of every labelled document, with all labels annotated. Stops when a
    document's segmentation changed since it was labelled or a clause has no label row. A listed
    document with no label row at all is chosen but not labelled yet: it is left out."""
    labels = load_document_labels(labels_path, taxonomy)
    started = {(source, document) for source, document, _ in labels}
    used: set[tuple[str, str, str]] = set()
    for doc in load_manifest(manifest_path):
        if (doc.source, doc.document) not in started:
            continue
        clauses = document_clauses(raw_dir, doc.source, doc.document)
        if clause_list_sha1(clauses) != doc.clause_list_sha1:
            raise DataError(
                manifest_path,
                f"{doc.source}/{doc.document}: the segmenter now cuts {len(clauses)} clauses "
                f"(labelled: {doc.clauses}) or different ones; relabel the changed clauses and "
                "update the document's row (scripts/label_documents.py)",
            )
        kind = DOCUMENT_SOURCES[doc.source]
        for clause in clauses:
            key = (doc.source, doc.document, clause.locator)
            row = labels.get(key)
            if row is None:
                raise DataError(labels_path, f"no label for {doc.document} [{clause.locator}]")
            if row["sha1"] != text_sha1(clause.text):
                raise DataError(
                    labels_path,
                    f"text of {doc.document} [{clause.locator}] changed (hash mismatch)",
                    row["_line"],
                )
            used.add(key)
            yield ClauseRecord(
                id=record_id(doc.source, doc.document, clause.start, clause.end),
                text=clause.text,
                source=doc.source,
                service=kind.service(kind.path_of(raw_dir, doc.document)),
                document=doc.document,
                license=LICENSES[doc.source],
                labels={name: int(name in row["labels"]) for name in taxonomy.names},
            )
    orphans = sorted(set(labels) - used)
    if orphans:
        raise DataError(
            labels_path,
            f"{len(orphans)} label row(s) belong to no listed document clause (first: {orphans[0]})",
            labels[orphans[0]]["_line"],
        )


# ----------------------------------------------------------------------------- labelling sheets


def sheet_text(text: str) -> str:
    """A clause on one sheet line: its non-blank lines, stripped, joined with ` / `."""
    return " / ".join(part.strip() for part in text.splitlines() if part.strip())


def write_sheet(raw_dir: Path, docs: list[LabelledDocument], path: Path) -> int:
    """A reading sheet for annotators: `### <k> <document>` then one `k.i<TAB>text` line per
    clause (newlines inside a clause shown as ` / `). Returns the number of clauses."""
    n = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for k, doc in enumerate(docs, start=1):
            fh.write(f"### {k} {doc.source}: {doc.document}\n")
            for i, clause in enumerate(document_clauses(raw_dir, doc.source, doc.document)):
                fh.write(f"{k}.{i}\t{sheet_text(clause.text)}\n")
                n += 1
    return n


def parse_answers(
    path: Path, expected: set[str], allow_missing: bool = False
) -> dict[str, tuple[list[str], str]]:
    """Read an annotator's answer file: `k.i<space>CODES [# note]` per line, CODES comma-separated
    (`AI,CL,DC,DS,DR,TC,UC`) or `-` for none. Every expected id exactly once."""
    answers: dict[str, tuple[list[str], str]] = {}
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip() or line.lstrip().startswith("//"):
                continue
            m = _ANSWER.match(line.rstrip("\n"))
            if not m:
                raise DataError(path, "expected `<id> <CODES> [# note]`", line_no)
            cid, codes, note = m.group(1), m.group(2), (m.group(3) or "").strip()
            if cid not in expected:
                raise DataError(path, f"unknown clause id {cid}", line_no)
            if cid in answers:
                raise DataError(path, f"clause id {cid} answered twice", line_no)
            names: list[str] = []
            if codes != "-":
                for code in codes.upper().split(","):
                    if code not in LABEL_CODES:
                        raise DataError(path, f"unknown label code {code!r}", line_no)
                    names.append(LABEL_CODES[code])
            answers[cid] = (sorted(set(names)), note)
    missing = sorted(expected - set(answers), key=lambda x: tuple(map(int, x.split("."))))
    if missing and not allow_missing:
        raise DataError(path, f"{len(missing)} clause id(s) not answered (first: {missing[:5]})")
    return answers


def sheet_ids(
    raw_dir: Path, docs: list[LabelledDocument]
) -> dict[str, tuple[LabelledDocument, DocumentClause]]:
    """Clause id (`k.i`) -> document and clause, as in `write_sheet`."""
    ids = {}
    for k, doc in enumerate(docs, start=1):
        for i, clause in enumerate(document_clauses(raw_dir, doc.source, doc.document)):
            ids[f"{k}.{i}"] = (doc, clause)
    return ids


# ----------------------------------------------------------------------------- import, agreement


def import_answers(
    raw_dir: Path,
    docs: list[LabelledDocument],
    answers_path: Path,
    taxonomy: Taxonomy,
    labels_path: Path = DOCUMENT_LABELS,
    second_pass: bool = False,
    partial: bool = False,
) -> int:
    """Turn an answer file for the sheet of `docs` into reference rows. A first pass sets
    `labels`; a second, independent pass of the same documents sets `labels_b` (and keeps the first
    as `labels_a`) for the agreement figures; `adjudicate` then settles the differences."""
    ids = sheet_ids(raw_dir, docs)
    answers = parse_answers(answers_path, set(ids), allow_missing=partial)
    if partial:
        # Only documents whose every clause is answered.
        complete = {
            doc.document
            for doc in docs
            if all(cid in answers for cid, (d, _) in ids.items() if d.document == doc.document)
        }
        ids = {cid: v for cid, v in ids.items() if v[0].document in complete}
    table = load_document_labels(labels_path, taxonomy)
    for cid, (doc, clause) in ids.items():
        names, note = answers[cid]
        key = (doc.source, doc.document, clause.locator)
        row = table.get(key)
        if second_pass:
            if row is None:
                raise DataError(answers_path, f"second pass for {key} before the first pass")
            row.setdefault("labels_a", list(row["labels"]))
            row["labels_b"] = names
            if note:
                row["note_b"] = note
        else:
            table[key] = {
                "source": doc.source,
                "document": doc.document,
                "locator": clause.locator,
                "sha1": text_sha1(clause.text),
                "labels": names,
                "note": note,
            }
    write_document_labels(list(table.values()), labels_path)
    return len(ids)


def agreement(labels_path: Path, taxonomy: Taxonomy) -> dict:
    """Cohen's kappa per label over the double-labelled clauses (first vs second pass)."""
    rows = [r for r in load_document_labels(labels_path, taxonomy).values() if "labels_b" in r]
    out: dict = {
        "clauses": len(rows),
        "documents": len({(r["source"], r["document"]) for r in rows}),
    }
    out["labels"] = {
        name: pass_agreement(
            [int(name in r["labels_a"]) for r in rows], [int(name in r["labels_b"]) for r in rows]
        )
        for name in taxonomy.names
    }
    return out


def pass_agreement(a: list[int], b: list[int]) -> dict:
    """Agreement of two independent passes on one label (0/1 per item, in the same order):
    Cohen's kappa, observed agreement, each pass's positives and the disagreements."""
    from sklearn.metrics import cohen_kappa_score

    agree = sum(x == y for x, y in zip(a, b, strict=True))
    # Undefined (None) without items, or when neither pass ever uses the label.
    kappa = cohen_kappa_score(a, b) if a and len(set(a) | set(b)) > 1 else None
    return {
        "kappa": None if kappa is None else round(float(kappa), 4),
        "observed_agreement": round(agree / len(a), 4) if a else None,
        "positives_a": sum(a),
        "positives_b": sum(b),
        "disagreements": len(a) - agree,
    }
