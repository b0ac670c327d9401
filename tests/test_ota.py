"""The `ota_ai_changes` evaluation set: added / removed clauses, hand labels joined by reference."""

from __future__ import annotations

import csv
import json
import runpy
import sys
from pathlib import Path

import pytest

from train.errors import DataError
from train.ota import (
    DIRECTIONS,
    OTA_LABELS,
    OTA_PAIRS,
    SIDES,
    candidate_patterns,
    load_ota_labels,
    load_ota_pairs,
    pair_changes,
    read_version,
)
from train.textnorm import text_sha1

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).parent / "fixtures" / "ota"
FIXTURE_RAW = FIXTURE / "raw"
FIXTURE_PAIRS = FIXTURE / "ota_pairs.csv"
EXPECTATIONS = ROOT / "data" / "ota_pair_expectations.csv"


@pytest.fixture(scope="module")
def fixture_pair() -> dict[str, str]:
    return load_ota_pairs(FIXTURE_PAIRS)[0]


def _label_lines(pair: dict[str, str]) -> list[dict]:
    """Label references (no text) for every changed clause of the fixture pair."""
    added, removed = pair_changes(FIXTURE_RAW, pair)
    return [
        {
            "pair_id": c.pair_id,
            "side": c.side,
            "file": c.file,
            "start": c.start,
            "end": c.end,
            "sha1": text_sha1(c.text),
            "ai_training": int("train and improve" in c.text),
            "direction": "grant" if "train and improve" in c.text else "none",
            "note": "",
        }
        for c in (*added, *removed)
    ]


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_pair_changes_reports_added_and_removed_clauses(fixture_pair):
    added, removed = pair_changes(FIXTURE_RAW, fixture_pair)
    assert [c.text for c in added] == [
        "We may use your content to train and improve our artificial intelligence models.",
        "You can delete your account at any time from the settings page.",
    ]
    assert [c.text for c in removed] == [
        "We use your content only to operate and provide the service.",
        "You may not use the service or its content to train a machine learning model.",
    ]
    assert {c.side for c in added} == {"added"} and {c.side for c in removed} == {"removed"}
    assert {c.file for c in added} == {fixture_pair["after_file"]}
    assert {c.file for c in removed} == {fixture_pair["before_file"]}


def test_pair_changes_offsets_index_the_files(fixture_pair):
    added, removed = pair_changes(FIXTURE_RAW, fixture_pair)
    for clause in (*added, *removed):
        assert read_version(FIXTURE_RAW, clause.file)[clause.start : clause.end] == clause.text


def test_case_and_punctuation_changes_are_not_reported(fixture_pair):
    added, removed = pair_changes(FIXTURE_RAW, fixture_pair)
    changed = " ".join(c.text for c in (*added, *removed))
    assert "update these" not in changed  # "terms ... page." vs "Terms, ... page!"
    assert "suggestions" not in changed  # identical in both versions


def test_candidate_patterns():
    assert candidate_patterns("We may use your prompts to improve our AI.") == ("ai", "data")
    assert candidate_patterns("We share personal data with advertisers.") == ("data",)
    assert candidate_patterns("We rank posts with algorithms.") == ("model",)
    assert candidate_patterns("These terms are governed by French law.") == ()


def test_load_ota_labels_joins_text(tmp_path, fixture_pair):
    path = _write_jsonl(tmp_path / "labels.jsonl", _label_lines(fixture_pair))
    records = load_ota_labels(path, FIXTURE_RAW, FIXTURE_PAIRS)
    assert len(records) == 4
    assert set(records[0]) == {
        "pair_id",
        "side",
        "file",
        "start",
        "end",
        "text",
        "ai_training",
        "direction",
    }
    positives = [r for r in records if r["ai_training"] == 1]
    assert [r["side"] for r in positives] == ["added"]
    assert "artificial intelligence" in positives[0]["text"]


def test_load_ota_labels_hash_mismatch_names_file_and_line(tmp_path, fixture_pair):
    lines = _label_lines(fixture_pair)
    lines[1]["sha1"] = "0" * 40
    path = _write_jsonl(tmp_path / "labels.jsonl", lines)
    with pytest.raises(DataError, match="hash mismatch") as info:
        load_ota_labels(path, FIXTURE_RAW, FIXTURE_PAIRS)
    assert info.value.path == str(path) and info.value.line == 2
    assert f"{path}:2" in str(info.value)


def test_load_ota_labels_checks_the_side_file_and_values(tmp_path, fixture_pair):
    lines = _label_lines(fixture_pair)
    wrong_file = dict(lines[0], file=fixture_pair["before_file"])
    path = _write_jsonl(tmp_path / "a.jsonl", [lines[1], wrong_file])
    with pytest.raises(DataError, match="lies in") as info:
        load_ota_labels(path, FIXTURE_RAW, FIXTURE_PAIRS)
    assert info.value.line == 2
    for bad in ({"direction": "maybe"}, {"ai_training": 2}, {"side": "moved"}):
        path = _write_jsonl(tmp_path / "b.jsonl", [dict(lines[0], **bad)])
        with pytest.raises(DataError):
            load_ota_labels(path, FIXTURE_RAW, FIXTURE_PAIRS)
    path = _write_jsonl(tmp_path / "c.jsonl", [lines[0], lines[0]])
    with pytest.raises(DataError, match="duplicate"):
        load_ota_labels(path, FIXTURE_RAW, FIXTURE_PAIRS)
    (tmp_path / "d.jsonl").write_text(json.dumps(lines[0]) + "\n{oops\n", encoding="utf-8")
    with pytest.raises(DataError, match="malformed JSON") as info:
        load_ota_labels(tmp_path / "d.jsonl", FIXTURE_RAW, FIXTURE_PAIRS)
    assert info.value.line == 2


def test_load_ota_pairs_rejects_duplicate_ids(tmp_path):
    text = FIXTURE_PAIRS.read_text(encoding="utf-8")
    path = tmp_path / "pairs.csv"
    path.write_text(text + text.splitlines()[1] + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="duplicate pair_id") as info:
        load_ota_pairs(path)
    assert info.value.line == 3


def test_candidates_script_writes_text_to_the_output(tmp_path, monkeypatch):
    output = tmp_path / "work" / "candidates.jsonl"
    argv = [
        "ota_candidates.py",
        "--raw-dir",
        str(FIXTURE_RAW),
        "--pairs",
        str(FIXTURE_PAIRS),
        "--output",
        str(output),
    ]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(ROOT / "scripts" / "ota_candidates.py"), run_name="__main__")
    rows = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [(r["side"], r["patterns"]) for r in rows] == [
        ("added", ["ai", "data", "model"]),
        ("removed", ["data"]),
        ("removed", ["ai", "model"]),
    ]
    assert all(r["sha1"] == text_sha1(r["text"]) for r in rows)


# --- the committed labels and expectations (no raw text needed) ---


def test_committed_labels_hold_references_only():
    pair_ids = {int(r["pair_id"]) for r in load_ota_pairs(OTA_PAIRS)}
    with OTA_LABELS.open(encoding="utf-8") as fh:
        items = [json.loads(line) for line in fh]
    assert items and {i["pair_id"] for i in items} <= pair_ids
    for item in items:
        assert set(item) == {
            "pair_id",
            "side",
            "file",
            "start",
            "end",
            "sha1",
            "ai_training",
            "direction",
            "note",
        }
        assert item["side"] in SIDES and item["direction"] in DIRECTIONS
        assert item["ai_training"] in (0, 1)
        assert item["ai_training"] == 0 or item["direction"] == "grant"


def test_pair_expectations_cover_every_pair():
    with EXPECTATIONS.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["pair_id"]) for r in rows] == [int(r["pair_id"]) for r in load_ota_pairs()]
    for row in rows:
        assert row["expect_new_ai_grant"] in {"0", "1"}
        assert row["expect_removed_ai_grant"] in {"0", "1"}
        assert row["note"].strip()
    zoom = {int(r["pair_id"]): r for r in rows}
    assert zoom[32]["expect_new_ai_grant"] == "1"  # Zoom ToS 2023-02-01 -> 2023-04-01
    assert (zoom[34]["expect_new_ai_grant"], zoom[34]["expect_removed_ai_grant"]) == ("0", "1")


# --- joined with the real raw data (skipped without RAW_DIR) ---


def test_every_committed_label_joins_the_raw_text(raw_dir):
    records = load_ota_labels(OTA_LABELS, raw_dir)
    assert len(records) == sum(1 for _ in OTA_LABELS.open(encoding="utf-8"))
    assert all(r["text"].strip() for r in records)


def test_zoom_march_2023_adds_an_ai_training_grant(raw_dir):
    records = load_ota_labels(OTA_LABELS, raw_dir)
    zoom = [r for r in records if r["pair_id"] == 32 and r["side"] == "added"]
    assert any(r["ai_training"] == 1 for r in zoom)


def test_zoom_pairs_are_labelled_exhaustively(raw_dir):
    """Every AI / data-use / model candidate of the Zoom ToS pairs has a hand label."""
    labelled = {
        (r["pair_id"], r["side"], r["start"], r["end"])
        for r in load_ota_labels(OTA_LABELS, raw_dir)
    }
    for row in load_ota_pairs(OTA_PAIRS):
        if row["service"] == "Zoom" and row["document_type"] == "Terms of Service":
            added, removed = pair_changes(raw_dir, row)
            for c in (*added, *removed):
                if candidate_patterns(c.text):
                    assert (c.pair_id, c.side, c.start, c.end) in labelled, c
