"""Peer tasks: CLAUDETTE (document folds) and OPP-115 (policy-grouped split) converted from small
fixtures in the real raw formats, and both recipes run end to end on the tiny model."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from train.baselines import TfidfLogRegBaseline, rows_to_arrays
from train.clause_files import read_clause_file
from train.config import load_config
from train.errors import DataError
from train.metrics import apply_thresholds, multilabel_metrics
from train.peer_data import (
    claudette_labels,
    hold_out_documents,
    prepare,
    split_files,
    task_taxonomy_path,
)
from train.peers import PUBLISHED, run_peer
from train.taxonomy import load_taxonomy

REPO = Path(__file__).resolve().parent.parent
RAW = Path(__file__).resolve().parent / "fixtures" / "peers" / "raw"
LISTS = RAW / "claudette_multilingual_en" / "corpus" / "lists"
OPP = RAW / "opp115" / "OPP-115"
CONSOLIDATION = OPP / "consolidation" / "threshold-0.75-overlap-similarity"
CLAUDETTE = ("a", "ch", "cr", "j", "law", "ltd", "ter", "use")


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _list(path: Path) -> set[str]:
    return {line.strip().removesuffix(".txt") for line in path.read_text().splitlines()}


def _flags(*names: str) -> list[int]:
    return [int(n in names) for n in CLAUDETTE]


# ----------------------------------------------------------------------------- CLAUDETTE


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ([], _flags()),
        (["ch2"], _flags("ch")),
        (["cr3"], _flags("cr")),
        (["j1"], _flags()),  # clearly fair: a negative
        (["ltd1", "ltd2"], _flags("ltd")),
        (["a3", "j3"], _flags("a", "j")),
        (["pinc2"], _flags()),  # not one of the 8
        (["countrym"], _flags()),
        (["pinc2", "countrym", "use2"], _flags("use")),
    ],
)
def test_claudette_degree_rules(tags, expected):
    assert claudette_labels(tags, CLAUDETTE, Path("tags.txt"), 1) == expected


@pytest.mark.parametrize("tag", ["xyz2", "ch", "ch4", "CH2"])
def test_claudette_unknown_tag_names_file_and_line(tag):
    with pytest.raises(DataError, match=r"Foo\.txt:7: unknown tag"):
        claudette_labels(["ch2", tag], CLAUDETTE, Path("Foo.txt"), 7)


def test_claudette_folds_are_by_document_with_validation_from_train(tmp_path):
    stats = prepare("claudette", RAW, tmp_path)
    assert sorted(stats["folds"]) == ["0", "1", "2"]
    everything = set()
    for k in range(3):
        files = split_files("claudette", f"fold{k}", tmp_path)
        docs = {split: {r["document"] for r in _rows(path)} for split, path in files.items()}
        assert docs["test"] == _list(LISTS / f"LIST_TEST_{k}.txt")
        assert docs["train"] | docs["validation"] == _list(LISTS / f"LIST_TRAIN_{k}.txt")
        assert docs["validation"] and docs["train"]
        assert not docs["train"] & docs["validation"]
        assert not docs["test"] & (docs["train"] | docs["validation"])
        everything |= docs["test"]
    assert len(everything) == 6  # every document is tested exactly once over the folds

    rows = {
        r["id"]: r for k in range(3) for r in _rows(tmp_path / "claudette" / f"fold{k}/test.jsonl")
    }
    assert len(rows) == 34  # 35 sentence lines, one blank
    assert "claudette-Alderbank-4" not in rows  # the blank line
    assert rows["claudette-Alderbank-1"]["labels"] == _flags("use")
    assert rows["claudette-Alderbank-5"]["labels"] == _flags()  # law1
    assert rows["claudette-Alderbank-6"]["labels"] == _flags()  # pinc2
    assert rows["claudette-Alderbank-7"]["labels"] == _flags()  # countrym
    assert rows["claudette-Brightloom-4"]["labels"] == _flags("ltd")  # ltd1 ltd2
    assert rows["claudette-Dunmore-2"]["labels"] == _flags()  # pinc2 countrym
    assert rows["claudette-Dunmore-3"]["labels"] == _flags("a", "law")
    assert rows["claudette-Dunmore-4"]["labels"] == _flags()  # ch1
    row = rows["claudette-Foxglen-2"]
    assert row["text"] == "Disputes will be settled by arbitration in Delaware."
    assert row["labels"] == _flags("a", "j")
    assert row["label_mask"] == [1] * 8
    assert (row["source"], row["service"], row["document"], row["origin"]) == (
        "claudette_multilingual_en",
        "Foxglen",
        "Foxglen",
        "real",
    )


def test_peer_data_is_deterministic(tmp_path):
    for task in ("claudette", "opp115"):
        prepare(task, RAW, tmp_path / "a")
        prepare(task, RAW, tmp_path / "b")
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.jsonl"))
    assert len(files) == 3 * 3 + 3
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


def test_hold_out_documents_is_seeded_and_keeps_rare_labels():
    docs = [f"doc{i:02d}" for i in range(40)]
    train, validation = hold_out_documents(docs, seed=0)
    assert len(validation) == 4 and set(train) | set(validation) == set(docs)
    assert hold_out_documents(docs, seed=0) == (train, validation)
    assert hold_out_documents(docs, seed=1)[1] != validation
    # The plain choice has no positive of the second label: validation grows along the same
    # order to the shortest prefix with two of them (the 4 documents plus the next 2).
    positives = {d: [1, int(d not in validation)] for d in docs}
    train2, validation2 = hold_out_documents(docs, seed=0, positives=positives, min_positives=2)
    assert set(validation) < set(validation2) and len(validation2) == 6
    assert not set(train2) & set(validation2) and set(train2) | set(validation2) == set(docs)
    # A label nobody has cannot be helped: the plain choice stays.
    positives = {d: [1, 0] for d in docs}
    assert hold_out_documents(docs, seed=0, positives=positives) == (train, validation)


# ----------------------------------------------------------------------------- OPP-115


def _annotated_segments() -> dict[str, set[int]]:
    out = {}
    for path in CONSOLIDATION.glob("*.csv"):
        with path.open(newline="") as fh:
            out[path.stem] = {int(row[4]) for row in csv.reader(fh)}
    return out


def test_opp115_groups_segments_by_policy(tmp_path):
    stats = prepare("opp115", RAW, tmp_path)
    files = split_files("opp115", "split", tmp_path)
    rows = {split: _rows(path) for split, path in files.items()}
    policies = {split: {r["document"] for r in rs} for split, rs in rows.items()}
    assert all(policies.values())
    assert not policies["train"] & policies["validation"]
    assert not policies["train"] & policies["test"]
    assert not policies["validation"] & policies["test"]
    annotated = _annotated_segments()
    assert set().union(*policies.values()) == set(annotated)
    # Only annotated segments are kept: never the unannotated contact line or the empty tail.
    ids = {r["id"] for rs in rows.values() for r in rs}
    assert ids == {f"opp115-{p}-{i}" for p, segs in annotated.items() for i in segs}
    # 8 empty tails, 8 closing contact lines and 2 more contact lines, none annotated
    assert stats["segments_dropped"] == 8 + 8 + 2
    names = list(load_taxonomy(task_taxonomy_path("opp115")).names)
    by_id = {r["id"]: r for rs in rows.values() for r in rs}
    row = by_id["opp115-2001_alderbank.com-2"]
    assert row["text"] == "We share your information with advertisers and partners."
    assert [names[j] for j, v in enumerate(row["labels"]) if v] == [
        "first_party_collection_use",
        "third_party_sharing_collection",
    ]
    assert [
        names[j] for j, v in enumerate(by_id["opp115-2001_alderbank.com-0"]["labels"]) if v
    ] == ["other"]
    assert (row["service"], row["document"], row["license"]) == (
        "alderbank.com",
        "2001_alderbank.com",
        "opp115-noncommercial",
    )


# ----------------------------------------------------------------------------- bad layouts


@pytest.fixture
def raw_copy(tmp_path) -> Path:
    return Path(shutil.copytree(RAW, tmp_path / "raw"))


def test_list_naming_a_missing_document_is_an_error(raw_copy, tmp_path):
    path = raw_copy / "claudette_multilingual_en" / "corpus" / "lists" / "LIST_TEST_1.txt"
    path.write_text("Dunmore.txt\nNowhere.txt\n")
    with pytest.raises(DataError, match=r"LIST_TEST_1\.txt:2: document 'Nowhere'"):
        prepare("claudette", raw_copy, tmp_path / "out")


def test_missing_fold_lists_are_an_error(raw_copy, tmp_path):
    shutil.rmtree(raw_copy / "claudette_multilingual_en" / "corpus" / "lists")
    with pytest.raises(DataError, match="no fold lists"):
        prepare("claudette", raw_copy, tmp_path / "out")


def test_unknown_tag_in_the_raw_files_names_file_and_line(raw_copy, tmp_path):
    path = raw_copy / "claudette_multilingual_en/corpus/tags/en/original/Emberly.txt"
    lines = path.read_text().splitlines()
    lines[2] = "ltd2 zz9"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"Emberly\.txt:3: unknown tag 'zz9'"):
        prepare("claudette", raw_copy, tmp_path / "out")


def test_opp115_annotation_of_a_missing_segment_is_an_error(raw_copy, tmp_path):
    path = raw_copy / "opp115/OPP-115/consolidation/threshold-0.75-overlap-similarity"
    path = path / "2003_cobaltway.org.csv"
    row = next(csv.reader(path.open(newline="")))
    row[4] = "40"
    with path.open("a", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerow(row)
    with pytest.raises(DataError, match=r"2003_cobaltway\.org\.csv: segment 40 annotated"):
        prepare("opp115", raw_copy, tmp_path / "out")


# ----------------------------------------------------------------------------- configs + runs


@pytest.mark.parametrize(("task", "run"), [("claudette", "fold0"), ("opp115", "split")])
def test_configs_point_at_the_prepared_files(task, run):
    cfg = load_config(REPO / "configs" / f"{task}.yaml")
    files = split_files(task, run)
    for split, key in (
        ("train", "train_file"),
        ("validation", "validation_file"),
        ("test", "test_file"),
    ):
        assert REPO / getattr(cfg.data, key) == files[split]
    assert REPO / cfg.data.taxonomy == task_taxonomy_path(task)
    assert cfg.training.run_name == run
    assert cfg.training.output_root == f"outputs/peers/{task}"


def _tiny_overrides(model_dir: Path) -> list[str]:
    return [
        f"model.model_name_or_path={model_dir}",
        "training.report_to=none",
        "training.max_steps=2",
        "training.per_device_train_batch_size=8",
        "training.learning_rate=1.0e-03",
        "training.logging_steps=1",
    ]


def _check_run(entry: dict, files: dict[str, Path], names: list[str]) -> None:
    taxonomy = load_taxonomy(task_taxonomy_path("claudette" if len(names) == 8 else "opp115"))
    for system in ("model", "tfidf_logreg"):
        for key in ("micro_f1", "macro_f1"):
            assert 0.0 <= entry[system][key] <= 1.0
        assert list(entry[system]["f1"]) == names
        assert entry[system]["macro_f1"] == pytest.approx(
            np.mean(list(entry[system]["f1"].values()))
        )
    test = read_clause_file(files["test"], taxonomy)
    assert entry["test_clauses"] == len(test)
    assert entry["global_step"] == 2
    assert entry["wall_time_s"] >= entry["train_wall_time_s"] > 0
    assert entry["hardware"]["cpu_count"] >= 1 and entry["hardware"]["torch"]
    # The baseline in the results is the TF-IDF + LR trained on this run's train file.
    baseline = TfidfLogRegBaseline(names, seed=0).fit(
        read_clause_file(files["train"], taxonomy), read_clause_file(files["validation"], taxonomy)
    )
    texts, gold, mask = rows_to_arrays(test)
    pred = apply_thresholds(baseline.predict_proba(texts), baseline.thresholds)
    again = multilabel_metrics(pred, gold, mask, names)
    assert entry["tfidf_logreg"]["micro_f1"] == pytest.approx(again["micro_f1"])
    # Peer tasks average F1 over every class, as LexGLUE and PrivacyGLUE do.
    assert entry["tfidf_logreg"]["macro_f1"] == pytest.approx(
        np.mean([again[n]["f1"] for n in names])
    )
    # And the model's scores are those of the predictions written beside them.
    predictions = _rows(Path(entry["run_dir"]) / "eval" / "predictions.jsonl")
    flagged = np.array([[int(n in p["labels"]) for n in names] for p in predictions])
    assert entry["model"]["micro_f1"] == pytest.approx(
        multilabel_metrics(flagged, gold, mask, names)["micro_f1"]
    )


def test_claudette_recipe_end_to_end(tmp_path, tiny_model_dir):
    result = run_peer(
        "claudette",
        folds=[0, 2],
        raw_dir=RAW,
        overrides=_tiny_overrides(tiny_model_dir),
        output_root=tmp_path / "out",
        data_dir=tmp_path / "data",
        n_bootstrap=10,
    )
    saved = json.loads((tmp_path / "out" / "claudette" / "results.json").read_text())
    assert saved == json.loads(json.dumps(result))
    assert list(saved["runs"]) == ["fold0", "fold2"]
    assert saved["label_names"] == list(CLAUDETTE)
    for run, entry in saved["runs"].items():
        _check_run(entry, split_files("claudette", run, tmp_path / "data"), list(CLAUDETTE))
        assert entry["settings"]["max_length"] == 128  # from configs/claudette.yaml
        assert Path(entry["run_dir"]) == tmp_path / "out" / "claudette" / run
    for system in ("model", "tfidf_logreg"):
        for key in ("micro_f1", "macro_f1"):
            folds = [saved["runs"][r][system][key] for r in ("fold0", "fold2")]
            assert saved["mean"][system][key] == pytest.approx(np.mean(folds))
    assert saved["published"]["scores"] == PUBLISHED["claudette"]["scores"]
    assert saved["published"]["scores"]["Legal-BERT"] == 83.0
    assert "none" in saved["scoring"]


def test_opp115_recipe_end_to_end(tmp_path, tiny_model_dir):
    run_peer(
        "opp115",
        raw_dir=RAW,
        overrides=_tiny_overrides(tiny_model_dir),
        output_root=tmp_path / "out",
        data_dir=tmp_path / "data",
        n_bootstrap=0,
    )
    saved = json.loads((tmp_path / "out" / "opp115" / "results.json").read_text())
    names = list(load_taxonomy(task_taxonomy_path("opp115")).names)
    assert list(saved["runs"]) == ["split"] and len(names) == 10
    _check_run(saved["runs"]["split"], split_files("opp115", "split", tmp_path / "data"), names)
    assert saved["runs"]["split"]["settings"]["max_length"] == 256
    assert saved["mean"]["model"] == {
        k: saved["runs"]["split"]["model"][k] for k in ("micro_f1", "macro_f1")
    }
    assert saved["published"]["scores"] == {"PrivBERT": 82.1, "BERT-base": 78.4}


def test_run_peer_script_reads_folds_and_overrides_in_any_order():
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_peer_script", REPO / "scripts/run_peer.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    args = script.parse_args(
        ["claudette", "--folds", "0,2", "--raw-dir", "raw", "training.num_train_epochs=2"]
    )
    assert (args.folds, args.raw_dir, args.overrides) == (
        [0, 2],
        Path("raw"),
        ["training.num_train_epochs=2"],
    )
    args = script.parse_args(
        ["opp115", "model.max_length=128", "--bootstrap", "0", "training.seed=1"]
    )
    assert args.folds is None and args.bootstrap == 0
    assert args.overrides == ["model.max_length=128", "training.seed=1"]
    with pytest.raises(SystemExit):
        script.parse_args(["claudette", "--folds", "zero"])
