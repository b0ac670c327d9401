"""Exhaustively labelled documents: references joined at build time, segmentation guarded, the
labelling round trip (sheet, answers, import, agreement) and the frozen service splits."""

from __future__ import annotations

import csv
import hashlib
import json

import pytest
from fixture_builder import (
    DOCUMENT_LABELS,
    LABELLED_DOC,
    LABELLED_DOC_LABELS,
    LABELLED_DOCUMENTS,
    RAW,
    copy_raw,
    make_config,
)

from train import dataset
from train.doc_labels import (
    agreement,
    import_answers,
    load_labelled_document_records,
    load_manifest,
    parse_answers,
    write_sheet,
)
from train.errors import DataError
from train.paths import REPO_ROOT
from train.splits import assign_with_committed, load_service_splits
from train.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy()
RATIOS = {"train": 0.6, "validation": 0.2, "test": 0.2}


def test_labelled_document_records_carry_every_label():
    records = list(
        load_labelled_document_records(RAW, TAXONOMY, LABELLED_DOCUMENTS, DOCUMENT_LABELS)
    )
    assert len(records) == len(LABELLED_DOC_LABELS)
    for record, expected in zip(records, LABELLED_DOC_LABELS, strict=True):
        assert set(record.labels) == set(TAXONOMY.names)  # full mask
        assert {n for n, v in record.labels.items() if v} == set(expected)
        assert record.source == "ota_contrib_2026" and record.license == "odc-by-1.0"
        assert record.service == "Acme Notes"
    assert records[8].text.startswith("We may use your notes and recordings to train")


def test_build_includes_labelled_documents_with_full_masks(tmp_path):
    stats = dataset.build(make_config(tmp_path / "out", ratios=RATIOS))
    assert stats["source_stats"]["labelled_documents"] == {
        "documents": 1,
        "clauses": 12,
        "chosen_not_yet_labelled": 0,
    }
    rows = [
        json.loads(line)
        for split in ("train", "validation", "test")
        for line in (tmp_path / "out" / "jsonl" / f"{split}.jsonl").read_text().splitlines()
    ]
    ota = [r for r in rows if r["document"] == LABELLED_DOC[1]]
    assert len(ota) == 12 and all(r["label_mask"] == [1] * 7 for r in ota)
    ai = [r for r in ota if r["labels"][0]]
    assert [r["text"][:22] for r in ai] == ["We may use your notes "]
    # The other fixture documents of the source give sampled ai_training negatives only.
    sampled = [
        r for r in rows if r["source"] == "ota_contrib_2026" and r["document"] != LABELLED_DOC[1]
    ]
    assert sampled and all(r["label_mask"][0] == 1 and r["labels"][0] == 0 for r in sampled)


def test_changed_segmentation_stops_the_build_naming_the_document(tmp_path):
    raw = copy_raw(tmp_path / "raw")
    doc = raw / "ota_contrib_2026" / LABELLED_DOC[1]
    doc.write_text(doc.read_text().replace("We collect the notes", "We gather the notes"))
    with pytest.raises(DataError, match="Acme Notes/Privacy Policy.md: the segmenter now cuts"):
        list(load_labelled_document_records(raw, TAXONOMY, LABELLED_DOCUMENTS, DOCUMENT_LABELS))


def test_missing_label_row_stops_the_build(tmp_path):
    labels = tmp_path / "labels.jsonl"
    lines = DOCUMENT_LABELS.read_text().splitlines()
    labels.write_text("\n".join(lines[:5] + lines[6:]) + "\n")
    with pytest.raises(DataError, match=r"no label for current/Acme Notes/Privacy Policy.md \["):
        list(load_labelled_document_records(RAW, TAXONOMY, LABELLED_DOCUMENTS, labels))


def test_a_chosen_document_without_labels_is_left_out(tmp_path):
    labels = tmp_path / "labels.jsonl"
    labels.write_text("")
    assert list(load_labelled_document_records(RAW, TAXONOMY, LABELLED_DOCUMENTS, labels)) == []


def test_label_row_of_no_listed_clause_is_an_error(tmp_path):
    labels = tmp_path / "labels.jsonl"
    extra = json.loads(DOCUMENT_LABELS.read_text().splitlines()[0])
    extra["locator"] = "0:5"
    labels.write_text(DOCUMENT_LABELS.read_text() + json.dumps(extra) + "\n")
    with pytest.raises(DataError, match="belong to no listed document clause"):
        list(load_labelled_document_records(RAW, TAXONOMY, LABELLED_DOCUMENTS, labels))


def _sheet_and_docs(tmp_path):
    docs = load_manifest(LABELLED_DOCUMENTS)
    sheet = tmp_path / "b01.sheet.txt"
    assert write_sheet(RAW, docs, sheet) == 12
    return docs, sheet


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ("1.0 -\n1.0 DC\n", "answered twice"),
        ("1.0 XX\n", "unknown label code 'XX'"),
        ("9.0 -\n", "unknown clause id 9.0"),
        ("1.0\n", "expected `<id> <CODES>"),
        ("1.0 -\n", r"11 clause id\(s\) not answered"),
    ],
)
def test_answer_file_errors_name_the_line(tmp_path, answers, message):
    docs, sheet = _sheet_and_docs(tmp_path)
    path = tmp_path / "answers.txt"
    path.write_text(answers)
    ids = {line.split("\t")[0] for line in sheet.read_text().splitlines() if "\t" in line}
    with pytest.raises(DataError, match=message):
        parse_answers(path, ids)


def test_import_two_passes_and_agreement(tmp_path):
    docs, sheet = _sheet_and_docs(tmp_path)
    codes = {
        "ai_training": "AI",
        "data_collection": "DC",
        "data_retention": "DR",
        "data_sharing": "DS",
        "user_control": "UC",
        "terms_change": "TC",
    }
    first = "".join(
        f"1.{i} {','.join(codes[n] for n in labels) or '-'}\n"
        for i, labels in enumerate(LABELLED_DOC_LABELS)
    )
    # The second pass disagrees on one data_collection clause (and on nothing else).
    second = first.replace("1.3 DC\n", "1.3 -  # only names data types\n")
    (tmp_path / "a.txt").write_text(first)
    (tmp_path / "b.txt").write_text(second)
    labels = tmp_path / "labels.jsonl"
    assert import_answers(RAW, docs, tmp_path / "a.txt", TAXONOMY, labels) == 12
    assert import_answers(RAW, docs, tmp_path / "b.txt", TAXONOMY, labels, second_pass=True) == 12
    # Same rows as the committed fixture references, plus both passes.
    rows = [json.loads(x) for x in labels.read_text().splitlines()]
    assert [r["labels"] for r in rows] == [sorted(x) for x in LABELLED_DOC_LABELS]
    result = agreement(labels, TAXONOMY)
    assert result["clauses"] == 12
    dc = result["labels"]["data_collection"]
    assert (dc["positives_a"], dc["positives_b"], dc["disagreements"]) == (3, 2, 1)
    # kappa by hand: po = 11/12; pe = (3/12)(2/12) + (9/12)(10/12) = 96/144; (po - pe) / (1 - pe)
    po, pe = 11 / 12, 96 / 144
    assert dc["kappa"] == pytest.approx((po - pe) / (1 - pe), abs=1e-4)
    assert result["labels"]["ai_training"]["kappa"] == pytest.approx(1.0)


def test_partial_import_takes_only_fully_answered_documents(tmp_path):
    docs, _ = _sheet_and_docs(tmp_path)
    path = tmp_path / "a.txt"
    path.write_text("1.0 -\n1.1 DC\n")
    labels = tmp_path / "labels.jsonl"
    assert import_answers(RAW, docs, path, TAXONOMY, labels, partial=True) == 0
    assert not labels.read_text().strip()


# ----------------------------------------------------------------------------- frozen splits


def test_committed_services_keep_their_split_when_services_are_added():
    committed = {"alpha": "test", "beta": "train", "gamma": "validation"}
    sizes = {"alpha": 5, "beta": 500, "gamma": 1, **{f"new{i}": 10 + i for i in range(30)}}
    strata = {s: "src" for s in sizes}
    split_of, new = assign_with_committed(sizes, strata, RATIOS, 13, committed)
    assert {s: split_of[s] for s in committed} == committed
    assert len(new) == 30 and {split_of[s] for s in new} == {"train", "validation", "test"}


def test_written_split_table_numbers_each_addition(tmp_path):
    from train.splits import write_service_splits

    table = tmp_path / "splits.csv"
    write_service_splits(table, {"a": "train", "b": "test"}, {"a": "x", "b": "y"})
    write_service_splits(
        table, {"a": "train", "b": "test", "c": "validation"}, {"a": "other", "c": "z"}
    )
    with table.open(encoding="utf-8", newline="") as fh:
        rows = {r["service"]: (r["split"], r["stratum"], r["since"]) for r in csv.DictReader(fh)}
    # Rows already listed keep their stratum and number; the new row takes the given stratum.
    assert rows == {
        "a": ("train", "x", "1"),
        "b": ("test", "y", "1"),
        "c": ("validation", "z", "2"),
    }


def test_build_reads_the_committed_split_table(tmp_path):
    table = tmp_path / "service_splits.csv"
    table.write_text("service,split,stratum\namazon,test,x\nacmenotes,validation,x\n")
    dataset.build(make_config(tmp_path / "out", ratios=RATIOS, service_splits_path=table))
    val = (tmp_path / "out" / "jsonl" / "validation.jsonl").read_text()
    test = (tmp_path / "out" / "jsonl" / "test.jsonl").read_text()
    assert '"service": "acmenotes"' in val and '"service": "amazon"' in test


def test_the_real_split_table_never_moves_a_service():
    """The splits every trained model and reported number depend on: a service listed before the
    2026 documents were added (`since` 1) keeps its split (a changed row fails this test)."""
    path = REPO_ROOT / "data" / "service_splits.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["since"] == "1"]
    digest = hashlib.sha1("".join(f"{r['service']}\t{r['split']}\n" for r in rows).encode())
    assert len(rows) == 994
    assert digest.hexdigest() == ORIGINAL_SPLITS_SHA1
    assert load_service_splits(path)["zoom"] == "test"


ORIGINAL_SPLITS_SHA1 = "b7a7bb341d1a5a256095da22a096dba9968b954f"


def test_label_script_takes_documents_by_source_and_name(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "label_documents_script", REPO_ROOT / "scripts" / "label_documents.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    docs = load_manifest(LABELLED_DOCUMENTS)
    wanted = f"{docs[-1].source}:{docs[-1].document},{docs[0].source}:{docs[0].document}"
    assert script._docs(wanted, LABELLED_DOCUMENTS) == [docs[-1], docs[0]]
    assert script._docs(docs[0].batch, LABELLED_DOCUMENTS) == [
        d for d in docs if d.batch == docs[0].batch
    ]
    with pytest.raises(SystemExit, match="not in"):
        script._docs(f"{docs[0].source}:no such document.md", LABELLED_DOCUMENTS)
