"""Helpers for the dataset-builder tests: where the fixtures live, how to copy them, and how to
regenerate the hand-label references (`mined_labels.jsonl`) after a fixture text changes.

All fixture texts under `tests/fixtures/` are invented for the tests; only the file formats copy
the real sources. Regenerate the label references with `python tests/fixture_builder.py`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RAW = FIXTURES / "raw"
CASE_MAP = FIXTURES / "case_map.csv"
MINED_LABELS = FIXTURES / "mined_labels.jsonl"
OTA_PAIRS = FIXTURES / "ota_pairs.csv"
TEAM_FILES = (FIXTURES / "team_clauses_ai.jsonl", FIXTURES / "team_clauses_neg.jsonl")
LABELLED_DOCUMENTS = FIXTURES / "labelled_documents.csv"
DOCUMENT_LABELS = FIXTURES / "document_labels.jsonl"

# The exhaustively labelled fixture document: labels of its clauses, in segmenter order.
LABELLED_DOC = ("ota_contrib_2026", "current/Acme Notes/Privacy Policy.md", "acmenotes", "train")
LABELLED_DOC_LABELS = (
    [],  # Last updated: ...
    ["data_collection"],
    [],  # table header cell
    ["data_collection"],
    ["data_retention"],
    ["data_collection"],
    [],  # list fragment
    [],  # list fragment
    ["ai_training"],
    ["data_sharing"],
    ["user_control"],
    ["terms_change"],
)

ZOOM_CORPUS_DOC = "Zoom Video Communications_Terms of Service.txt"

# Every sentence of an exhaustive source that mentions AI has one of these hand labels.
# (source, document, locator, labels, checked); a corpus locator is `start:end` into the file.
MINED_SPEC = (
    (
        "tosdr_org_2021",
        "Terms of Service",
        "tosdr2021-108",
        ["ai_training"],
        ["ai_training", "content_license"],
    ),
    ("tosdr_phoenix_2022_dao", "doc-61", "tosdr2022-7005", ["ai_training"], ["ai_training"]),
    (
        "claudette_multilingual_en",
        "Zoom",
        "claudette-Zoom-4",
        ["ai_training"],
        ["ai_training", "content_license"],
    ),
    (
        "claudette_multilingual_en",
        "Zoom",
        "claudette-Zoom-5",
        ["content_license"],
        ["ai_training", "content_license"],
    ),
    ("opp115", "1002_pinecrest.net", "opp115-1002_pinecrest.net-2", [], ["ai_training"]),
    (
        "tosdr_corpus_text",
        ZOOM_CORPUS_DOC,
        "81:158",
        ["ai_training", "content_license"],
        ["ai_training", "content_license"],
    ),
)


def record_texts(raw: Path = RAW) -> dict[str, str]:
    """Text of every record the source adapters produce from `raw`, by record id."""
    from train import sources
    from train.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    stats: dict = {}
    loaders = (
        sources.load_tosdr_2021(raw, taxonomy, None, stats),
        sources.load_tosdr_2022(raw, taxonomy, None, stats),
        sources.load_claudette(raw, taxonomy, stats),
        sources.load_opp115(raw, taxonomy, stats),
    )
    return {record.id: record.text for loader in loaders for record in loader}


def mined_label_rows(raw: Path = RAW) -> list[dict]:
    """The hand-label references of MINED_SPEC with the SHA-1 of the exact fixture text."""
    from train.textnorm import text_sha1

    texts = record_texts(raw)
    rows = []
    for source, document, locator, labels, checked in MINED_SPEC:
        if source == "tosdr_corpus_text":
            start, end = (int(x) for x in locator.split(":"))
            path = raw / "tosdr_corpus_text" / "corpus" / "text" / document
            text = path.read_text(encoding="utf-8")[start:end]
        else:
            text = texts[locator]
        rows.append(
            {
                "source": source,
                "document": document,
                "locator": locator,
                "sha1": text_sha1(text),
                "labels": labels,
                "checked": checked,
                "note": "fixture",
            }
        )
    return rows


def document_label_files(raw: Path = RAW) -> tuple[list, list[dict]]:
    """Manifest entry and label rows of the labelled fixture document."""
    from train.doc_labels import LabelledDocument, clause_list_sha1, document_clauses
    from train.textnorm import text_sha1

    source, document, service, split = LABELLED_DOC
    clauses = document_clauses(raw, source, document)
    if len(clauses) != len(LABELLED_DOC_LABELS):
        raise SystemExit(f"{document}: {len(clauses)} clauses, {len(LABELLED_DOC_LABELS)} labels")
    doc = LabelledDocument(
        source, document, service, split, len(clauses), clause_list_sha1(clauses), "b01"
    )
    rows = [
        {
            "source": source,
            "document": document,
            "locator": c.locator,
            "sha1": text_sha1(c.text),
            "labels": labels,
            "note": "",
        }
        for c, labels in zip(clauses, LABELLED_DOC_LABELS, strict=True)
    ]
    return [doc], rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def copy_raw(dst: Path) -> Path:
    """A writable copy of the raw fixture tree (for tests that change or break a file)."""
    shutil.copytree(RAW, dst)
    return dst


def make_config(output_dir: Path, raw_dir: Path = RAW, **overrides):
    """A BuildConfig that reads only fixtures (never the real tables in `data/`)."""
    from train.dataset import BuildConfig

    values = {
        "raw_dir": raw_dir,
        "output_dir": output_dir,
        "case_map_path": CASE_MAP,
        "mined_labels_path": MINED_LABELS,
        "team_clause_paths": TEAM_FILES,
        "corpus_negative_docs": 10,
        "corpus_negatives_per_doc": 20,
        "ota_pairs_path": OTA_PAIRS,
        "ota_contrib_negative_docs": 5,
        "ota_contrib_negatives_per_doc": 20,
        "labelled_documents_path": LABELLED_DOCUMENTS,
        "document_labels_path": DOCUMENT_LABELS,
        # The fixture services are assigned from scratch, never from data/service_splits.csv.
        "service_splits_path": None,
    }
    values.update(overrides)
    return BuildConfig(**values)


if __name__ == "__main__":
    from train.doc_labels import write_document_labels, write_manifest

    write_jsonl(MINED_LABELS, mined_label_rows())
    docs, rows = document_label_files()
    write_manifest(docs, LABELLED_DOCUMENTS)
    write_document_labels(rows, DOCUMENT_LABELS)
    print(f"wrote {MINED_LABELS}, {LABELLED_DOCUMENTS}, {DOCUMENT_LABELS}")
