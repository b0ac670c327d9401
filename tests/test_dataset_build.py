"""The whole dataset build on small fixtures: splits, leakage, determinism, licence filter and
outputs; plus the split and leakage functions on hand-made inputs."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

import pytest
from fixture_builder import RAW, ZOOM_CORPUS_DOC, copy_raw, make_config

import train.dataset as dataset
import train.ota as ota
from train.leakage import (
    LeakageError,
    NearDuplicateIndex,
    check_no_leakage,
    find_cross_split_collisions,
)
from train.records import ClauseRecord
from train.splits import SPLITS, assign_splits
from train.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy()
# Small strata: with 0.6/0.2/0.2 every split of the fixture build gets services.
RATIOS = {"train": 0.6, "validation": 0.2, "test": 0.2}
BOILERPLATE = (
    "If any provision of these terms is found invalid, the remaining provisions stay in full "
    "force and effect."
)


def _build(output_dir: Path, monkeypatch, **overrides) -> dict:
    return dataset.build(make_config(output_dir, ratios=RATIOS, **overrides))


def _rows(output_dir: Path) -> dict[str, list[dict]]:
    return {
        s: [
            json.loads(line)
            for line in (output_dir / "jsonl" / f"{s}.jsonl")
            .read_text(encoding="utf-8")
            .splitlines()
        ]
        for s in SPLITS
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One build of the fixtures, shared by the read-only checks below."""
    out = tmp_path_factory.mktemp("built") / "processed"
    with pytest.MonkeyPatch.context() as mp:
        stats = _build(out, mp)
    return out, stats, _rows(out)


def _split_of_service(rows: dict[str, list[dict]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for split, items in rows.items():
        for row in items:
            found[row["service"]].add(split)
    return found


def _by_id(rows: dict[str, list[dict]]) -> dict[str, tuple[str, dict]]:
    return {row["id"]: (split, row) for split, items in rows.items() for row in items}


# ----------------------------------------------------------------------------- assign_splits


def test_assign_splits_one_split_per_service_and_forced_test():
    sizes = {f"svc{i}": 1 + i % 7 for i in range(40)} | {"zoom": 50}
    strata = {s: ("a" if i % 2 else "b") for i, s in enumerate(sizes)}
    result = assign_splits(sizes, strata, RATIOS, seed=3, forced={"zoom": "test"})
    assert set(result) == set(sizes)
    assert set(result.values()) == set(SPLITS)
    assert result["zoom"] == "test"
    for seed in range(10):
        assert assign_splits(sizes, strata, RATIOS, seed, {"zoom": "test"})["zoom"] == "test"


def test_assign_splits_is_deterministic_and_seeded():
    sizes = {f"svc{i}": 1 + (i * 7) % 11 for i in range(60)}
    strata = dict.fromkeys(sizes, "one")
    first = assign_splits(sizes, strata, RATIOS, seed=13)
    again = assign_splits(dict(reversed(list(sizes.items()))), strata, RATIOS, seed=13)
    assert first == again  # insertion order does not matter
    assert assign_splits(sizes, strata, RATIOS, seed=14) != first


def test_assign_splits_follows_ratios_on_many_services():
    rng = random.Random(0)
    sizes = {f"service-{i}": rng.randint(1, 30) for i in range(400)}
    strata = {s: rng.choice(["tosdr", "claudette", "opp115"]) for s in sizes}
    ratios = {"train": 0.7, "validation": 0.1, "test": 0.2}
    result = assign_splits(sizes, strata, ratios, seed=13)
    for stratum in ("tosdr", "claudette", "opp115"):
        members = [s for s in sizes if strata[s] == stratum]
        total = sum(sizes[s] for s in members)
        for split, ratio in ratios.items():
            share = sum(sizes[s] for s in members if result[s] == split) / total
            assert abs(share - ratio) < 0.03, (stratum, split, share)


# ----------------------------------------------------------------------------- leakage units


def _rec(rid: str, text: str, service: str, labels: dict | None = None) -> ClauseRecord:
    return ClauseRecord(
        rid, text, "claudette_multilingual_en", service, "d", "cc-by-4.0", labels or {}
    )


TWENTY = (
    "We may keep copies of the files you upload on our backup servers as long as we find "
    "them useful"
)


def _change_word(text: str, index: int, word: str = "zebra") -> str:
    words = text.split()
    words[index] = word
    return " ".join(words)


def test_resolve_leakage_drops_train_clauses_matching_ota():
    assert len(TWENTY.split()) == 20
    ota = [
        "LARKSPUR may terminate your account, at any time, for ANY reason!",
        _change_word(TWENTY, -1, "people"),  # near-duplicate: one word changed
    ]
    records = [
        _rec("a", "Larkspur may terminate your account at any time for any reason.", "s-train"),
        _rec("b", TWENTY, "s-val"),
        _rec("c", "Larkspur may terminate your account at any time for any reason.", "s-test"),
        _rec("d", "Subscriptions renew automatically each month.", "s-train"),
    ]
    split_of = {"s-train": "train", "s-val": "validation", "s-test": "test"}
    stats: dict = {}
    splits = dataset.resolve_leakage(records, split_of, ota, stats)
    assert {s: [r.id for r in recs] for s, recs in splits.items()} == {
        "train": ["d"],
        "validation": [],
        "test": ["c"],  # test clauses are evaluation data: an OTA match stays
    }
    assert stats["dropped_matching_ota"] == {"train": 1, "validation": 1}


def test_resolve_leakage_keeps_same_text_in_higher_priority_split():
    text = "These terms are governed by the laws of the place where we are based."
    records = [
        _rec("t1", text.upper(), "alpha", {"terms_change": 1}),
        _rec("v1", text, "beta", {"ai_training": 0}),
        _rec("x1", text.replace(".", "!"), "gamma", {"terms_change": 0}),
        _rec("t2", "Alpha has a second, unrelated clause about refunds.", "alpha"),
    ]
    split_of = {"alpha": "train", "beta": "validation", "gamma": "test"}
    stats: dict = {}
    splits = dataset.resolve_leakage(records, split_of, [], stats)
    assert [r.id for r in splits["test"]] == ["x1"]
    assert [r.id for r in splits["validation"]] == []
    assert [r.id for r in splits["train"]] == ["t2"]
    # Labels of the dropped copies are merged into the kept one (a positive wins).
    assert splits["test"][0].labels == {"terms_change": 1, "ai_training": 0}
    assert stats["dropped_exact_duplicates"] == 2


def test_resolve_leakage_drops_near_duplicate_from_lower_priority_split():
    other = (
        "Refunds are paid to the card you used within fourteen days of the day we receive the goods"
    )
    records = [
        _rec("tr", TWENTY, "alpha"),
        _rec("va", _change_word(TWENTY, -1, "people"), "beta"),
        _rec("te", _change_word(TWENTY, -1, "anyone"), "gamma"),
        # Near-duplicates inside one split are not leakage: both stay.
        _rec("tr2", other, "alpha"),
        _rec("tr3", _change_word(other, 0, "Credits"), "delta"),
    ]
    split_of = {"alpha": "train", "beta": "validation", "gamma": "test", "delta": "train"}
    stats: dict = {}
    splits = dataset.resolve_leakage(records, split_of, [], stats)
    assert {s: [r.id for r in recs] for s, recs in splits.items()} == {
        "train": ["tr2", "tr3"],
        "validation": [],
        "test": ["te"],
    }
    assert stats["dropped_near_duplicates"] == 2


def test_team_near_duplicates_never_in_two_splits():
    a = ClauseRecord(
        "team-1",
        "Ferngrove keeps the messages you send on its servers until you delete them yourself "
        "or close your account for good.",
        "team",
        "team:Ferngrove",
        "messaging",
        "cc-by-4.0",
        dict.fromkeys(TAXONOMY.names, 0),
        "team",
    )
    b = ClauseRecord(
        "team-2",
        a.text.replace("Ferngrove", "Mossbank"),
        "team",
        "team:Mossbank",
        "messaging",
        "cc-by-4.0",
        dict.fromkeys(TAXONOMY.names, 0),
        "team",
    )
    for split_a, split_b in (("train", "test"), ("validation", "train"), ("test", "validation")):
        split_of = {"team:Ferngrove": split_a, "team:Mossbank": split_b}
        splits = dataset.resolve_leakage([a, b], split_of, [], {})
        kept = {s: [r.id for r in recs] for s, recs in splits.items() if recs}
        assert len(kept) == 1, kept
        winner = max((split_a, split_b), key=lambda s: {"train": 1, "validation": 2, "test": 3}[s])
        assert set(kept) == {winner}


def test_one_word_change_mid_clause_is_a_near_duplicate():
    changed = _change_word(TWENTY, 10)
    assert NearDuplicateIndex([TWENTY]).matches([changed]) == [True]
    with pytest.raises(LeakageError):
        check_no_leakage({"train": [("a", TWENTY)], "test": [("b", changed)]})


def test_check_no_leakage_raises_on_exact_and_near_duplicates():
    clean = {
        "train": [("a", TWENTY), ("b", "Short clause.")],
        "validation": [("c", "We sell gift cards that never expire.")],
        "test": [("d", "Totally different words are here now, for the test split.")],
    }
    check_no_leakage(clean)  # no error
    assert find_cross_split_collisions(clean) == []

    exact = {"train": [("a", TWENTY)], "test": [("b", "  " + TWENTY.upper() + "!!")]}
    with pytest.raises(LeakageError, match=r"exact: train/a ~ test/b"):
        check_no_leakage(exact)

    near = {"train": [("a", TWENTY)], "validation": [("b", _change_word(TWENTY, -1, "them"))]}
    with pytest.raises(LeakageError, match=r"near: train/a ~ validation/b"):
        check_no_leakage(near)


def test_near_duplicate_index_exact_and_short_texts():
    index = NearDuplicateIndex(["We sell data.", TWENTY])
    assert index.matches(["we SELL data!", "We sell cars.", TWENTY + " ", ""]) == [
        True,
        False,
        True,
        False,
    ]


def test_merge_duplicates_combines_labels_per_service():
    records = [
        _rec("a", "We keep logs.", "svc", {"data_retention": 0}),
        _rec("b", "WE KEEP LOGS!", "svc", {"data_retention": 1, "terms_change": 0}),
        _rec("c", "We keep logs.", "other", {"data_retention": 0}),
    ]
    merged = dataset.merge_duplicates(records)
    assert [r.id for r in merged] == ["a", "c"]
    assert merged[0].labels == {"data_retention": 1, "terms_change": 0}


def test_headings_become_negatives_for_every_label():
    taxonomy = load_taxonomy()
    records = [
        _rec("h1", "Information We Collect", "svc", {"data_collection": 1}),
        _rec("h2", "HOW WE SHARE YOUR DATA", "svc", {"data_sharing": 1}),
        _rec("s", "We collect the information you provide.", "svc", {"data_collection": 1}),
        _rec("f", "including your name and email", "svc", {"data_collection": 0}),
    ]
    assert dataset.label_headings_negative(records, taxonomy) == 2
    negative = {name: 0 for name in taxonomy.names}
    assert records[0].labels == negative and records[1].labels == negative
    assert records[2].labels == {"data_collection": 1}
    assert records[3].labels == {"data_collection": 0}
    # Already a full negative: nothing to change.
    assert dataset.label_headings_negative(records, taxonomy) == 0


def test_other_languages_become_negatives_for_every_label():
    taxonomy = load_taxonomy()
    records = [
        _rec(
            "fr",
            "Nous collectons votre adresse e-mail et votre nom lors de l'inscription.",
            "s",
            {"data_collection": 1},
        ),
        _rec(
            "de",
            "Ihre Daten werden nicht an Dritte weitergegeben, außer an unsere Partner.",
            "s",
            {"data_sharing": 1},
        ),
        _rec(
            "en",
            "We collect the information you provide when you register.",
            "s",
            {"data_collection": 1},
        ),
        # Shouted English gets an unsure guess; a URL is no language: both keep their labels.
        _rec(
            "caps",
            "WE MAY CHANGE THESE TERMS AT ANY TIME WITHOUT NOTICE TO YOU.",
            "s",
            {"terms_change": 1},
        ),
        _rec("url", "https://example.com/privacy?lang=en&ref=footer", "s", {"user_control": 1}),
    ]
    assert dataset.label_other_languages_negative(records, taxonomy) == 2
    negative = {name: 0 for name in taxonomy.names}
    assert records[0].labels == negative and records[1].labels == negative
    assert [r.labels for r in records[2:]] == [
        {"data_collection": 1},
        {"terms_change": 1},
        {"user_control": 1},
    ]
    assert dataset.label_other_languages_negative(records, taxonomy) == 0


# ----------------------------------------------------------------------------- full build


def test_build_outputs_are_loadable(built):
    from datasets import load_from_disk

    out, stats, rows = built
    ds = load_from_disk(str(out / "dataset"))
    assert list(ds) == list(SPLITS)
    for split in SPLITS:
        assert len(rows[split]) > 0, split
        assert ds[split].num_rows == len(rows[split]) == stats["splits"][split]["clauses"]
        assert ds[split]["id"] == [r["id"] for r in rows[split]]
        assert ds[split][0]["labels"] == rows[split][0]["labels"]
        assert len(ds[split][0]["label_mask"]) == len(TAXONOMY)
    on_disk = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    assert on_disk == json.loads(json.dumps(stats))
    assert on_disk["label_names"] == list(TAXONOMY.names)
    assert not (out / "dataset.tmp").exists()


def test_dataset_card_parses_and_reports_counts(built):
    from huggingface_hub import DatasetCard

    out, stats, rows = built
    card = DatasetCard.load(out / "README.md")
    data = card.data.to_dict()
    assert data["license"] == "other"
    assert data["task_ids"] == ["multi-label-classification"]
    assert data["configs"][0]["data_files"] == [
        {"split": s, "path": f"jsonl/{s}.jsonl"} for s in SPLITS
    ]
    counts = " | ".join(str(len(rows[s])) for s in SPLITS)
    assert f"| clauses | {counts} |" in card.text
    assert stats["content_hash"] in card.text
    ai = [stats["splits"][s]["labels"]["ai_training"] for s in SPLITS]
    cells = " | ".join(
        f"{c['positive']} ({c['positive_team']}/{c['positive_real']}) / {c['unmasked']}" for c in ai
    )
    assert f"| `ai_training` | {cells} |" in card.text
    shapes = stats["source_stats"]["team_shapes"]
    assert (
        shapes["list_fragment"] == 1
        and sum(shapes.values()) == stats["source_stats"]["team"]["total"]
    )
    assert f"1 list fragment, {shapes['sentence']} sentence" in " ".join(card.text.split())
    headings = stats["source_stats"]["headings_made_negative"]
    assert f"is a negative for every label ({headings} records)" in " ".join(card.text.split())
    other = stats["source_stats"]["other_languages_made_negative"]
    assert f"every label ({other} records, mostly" in " ".join(card.text.split())
    # CLAUDETTE's data-practice candidates: none of the fixture's is labelled, so all stay masked.
    masked = stats["source_stats"]["data_candidates_unlabelled"]["claudette_multilingual_en"]
    assert masked > 0
    text = " ".join(card.text.split())
    assert "for those four labels (0 sentences: 0 `data_collection`" in text
    assert f"negative for all four; {masked} matching sentences have no hand label yet" in text
    # The sampled corpus and 2026 sentences: counted by source, none labelled by hand here.
    sampled = stats["source_stats"]["sampled"]
    corpus, ota2026 = (sampled[f"sentences:{s}"] for s in ("tosdr_corpus_text", "ota_contrib_2026"))
    assert corpus > 0 and ota2026 > 0
    assert f"({corpus} from `tosdr_corpus_text` and {ota2026} from `ota_contrib_2026`)" in text
    unlabelled = stats["source_stats"]["data_candidates_unlabelled"]
    data_masked = [unlabelled.get(s, 0) for s in ("tosdr_corpus_text", "ota_contrib_2026")]
    assert sum(data_masked) > 0
    assert f"stays masked ({data_masked[0]} and {data_masked[1]} sentences for the data" in text


def test_stats_count_positives_and_masks(built):
    _, stats, rows = built
    i = TAXONOMY.index("ai_training")
    for split in SPLITS:
        expected_pos = sum(r["labels"][i] * r["label_mask"][i] for r in rows[split])
        assert stats["splits"][split]["labels"]["ai_training"]["positive"] == expected_pos
        assert stats["splits"][split]["labels"]["ai_training"]["unmasked"] == sum(
            r["label_mask"][i] for r in rows[split]
        )
    assert stats["source_stats"]["tosdr_org_2021/pending"] == 1
    assert stats["source_stats"]["team"]["total"] == 11
    assert stats["source_stats"]["mined"]["labelled"] == 6


def test_each_service_in_one_split(built):
    _, _, rows = built
    where = _split_of_service(rows)
    assert all(len(splits) == 1 for splits in where.values()), where
    # Every split really got services (so the check above is not vacuous).
    assert {s for splits in where.values() for s in splits} == set(SPLITS)


def test_zoom_is_test_only_and_zoominfo_is_not_zoom(built):
    _, _, rows = built
    zoom = [(s, r) for s in SPLITS for r in rows[s] if r["service"] == "zoom"]
    assert {s for s, _ in zoom} == {"test"}
    sources_of_zoom = {r["source"] for _, r in zoom}
    assert sources_of_zoom == {"claudette_multilingual_en", "tosdr_corpus_text"}
    assert {r["document"] for _, r in zoom} == {"Zoom", ZOOM_CORPUS_DOC}
    zoominfo = [r for s in SPLITS for r in rows[s] if r["document"].startswith("ZoomInfo_")]
    assert zoominfo and {r["service"] for r in zoominfo} == {"zoominfo"}


def test_aliases_share_a_split(built):
    _, _, rows = built
    by_id = _by_id(rows)
    # CLAUDETTE "Amazon" and OPP-115 "amazon.com"; CLAUDETTE "Booking" and ToS;DR "booking.com".
    assert by_id["claudette-Amazon-2"][1]["service"] == "amazon"
    assert by_id["opp115-1001_amazon.com-1"][1]["service"] == "amazon"
    assert by_id["claudette-Amazon-2"][0] == by_id["opp115-1001_amazon.com-1"][0]
    assert by_id["claudette-Booking-1"][1]["service"] == "booking.com"
    assert by_id["tosdr2021-101"][1]["service"] == "booking.com"
    assert by_id["claudette-Booking-1"][0] == by_id["tosdr2021-101"][0]


def test_build_drops_train_and_validation_clauses_matching_ota(built):
    _, stats, rows = built
    by_id = _by_id(rows)
    where = _split_of_service(rows)
    # Fixture precondition: the planted services are not in test (else nothing is dropped).
    assert where["larkspur"] != {"test"} and where["amazon"] != {"test"}
    assert "claudette-Larkspur-2" not in by_id  # exact after normalising case and punctuation
    assert "claudette-Amazon-5" not in by_id  # 20 words, last word changed in the OTA file
    assert sum(stats["dropped_matching_ota"].values()) == 2
    index = NearDuplicateIndex(ota.load_ota_sentences(RAW, RAW.parent / "ota_pairs.csv"))
    for split in ("train", "validation"):
        assert not any(index.matches([r["text"] for r in rows[split]])), split
    # Test clauses that match the OTA text stay: Zoom is evaluation data.
    assert by_id["claudette-Zoom-4"][0] == "test"


def test_build_keeps_boilerplate_in_one_split_only(built):
    _, stats, rows = built
    copies = [(s, r["id"]) for s in SPLITS for r in rows[s] if r["text"] == BOILERPLATE]
    assert copies == [("test", "claudette-Zoom-3")]  # the Amazon copy is dropped
    assert stats["dropped_exact_duplicates"] == 1


def test_build_team_near_duplicates_stay_in_one_split(built):
    _, _, rows = built
    by_id = _by_id(rows)
    # Fixture precondition: the two team services were assigned to different splits.
    assert by_id["team-ai-0006"][0] != by_id["team-neg-0003"][0]
    pair = [by_id[i][0] for i in ("team-ai-0005", "team-neg-0002") if i in by_id]
    assert len(pair) == 1


def test_build_rows_carry_labels_and_masks(built):
    _, _, rows = built
    by_id = _by_id(rows)
    ai, cl = TAXONOMY.index("ai_training"), TAXONOMY.index("content_license")
    zoom_ai = by_id["claudette-Zoom-4"][1]
    assert zoom_ai["labels"][ai] == 1 and zoom_ai["label_mask"][ai] == 1
    assert zoom_ai["label_mask"][cl] == 1 and zoom_ai["labels"][cl] == 0
    team = by_id["team-ai-0001"][1]
    assert team["origin"] == "team" and team["label_mask"] == [1] * len(TAXONOMY)
    assert team["service"] == "team:Brightloom"
    # A ToS;DR point: only its case's label and ai_training (exhaustively hand labelled).
    point = by_id["tosdr2021-106"][1]
    assert point["label_mask"] == [1, 0, 0, 1, 0, 0, 0] and point["labels"] == [0] * 7
    # Pending and declined points, and the unlabelled AI sentence of the corpus, are absent.
    assert not {"tosdr2021-103", "tosdr2021-104", "tosdr2022-7003", "tosdr2022-7004"} & set(by_id)
    texts = {r["text"] for items in rows.values() for r in items}
    assert "Parcelly uses AI to estimate delivery windows for you." not in texts
    # Rows are sorted by id within each split and every id is unique.
    for split in SPLITS:
        ids = [r["id"] for r in rows[split]]
        assert ids == sorted(ids)
    assert len(by_id) == sum(len(v) for v in rows.values())


def test_planted_leak_fails_the_build(tmp_path, monkeypatch):
    original = dataset.resolve_leakage

    def leaky(records, split_of, ota_texts, stats):
        splits = original(records, split_of, ota_texts, stats)
        victim = splits["test"][0]
        splits["train"].append(
            ClauseRecord(
                "planted",
                victim.text.upper(),
                "team",
                "team:x",
                "",
                "cc-by-4.0",
                {"ai_training": 0},
            )
        )
        return splits

    monkeypatch.setattr(dataset, "resolve_leakage", leaky)
    out = tmp_path / "processed"
    with pytest.raises(LeakageError, match="planted"):
        _build(out, monkeypatch)
    assert not (out / "jsonl").exists()  # nothing written from a leaky build


def test_planted_near_duplicate_fails_the_build(tmp_path, monkeypatch):
    original = dataset.resolve_leakage

    def leaky(records, split_of, ota_texts, stats):
        splits = original(records, split_of, ota_texts, stats)
        # The longest clause, its last word changed, planted in another split.
        split, victim = max(
            ((s, r) for s in SPLITS for r in splits[s]),
            key=lambda x: (len(x[1].text.split()), x[1].id),
        )
        assert len(victim.text.split()) >= 18
        other = "validation" if split != "validation" else "train"
        text = _change_word(victim.text, -1, "indeed.")
        splits[other].append(
            ClauseRecord("planted-near", text, "team", "team:y", "", "x", {"a": 0})
        )
        return splits

    monkeypatch.setattr(dataset, "resolve_leakage", leaky)
    with pytest.raises(LeakageError, match="near: .*planted-near"):
        _build(tmp_path / "processed", monkeypatch)


# ----------------------------------------------------------------------------- determinism, licences


def test_build_is_deterministic(built, tmp_path, monkeypatch):
    out, stats, _ = built
    again = _build(tmp_path / "again", monkeypatch)
    assert again["content_hash"] == stats["content_hash"]
    for split in SPLITS:
        name = f"jsonl/{split}.jsonl"
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes()
    assert (tmp_path / "again" / "README.md").read_bytes() == (out / "README.md").read_bytes()


def test_changed_fixture_changes_the_hash(built, tmp_path, monkeypatch):
    _, stats, _ = built
    raw = copy_raw(tmp_path / "raw")
    sentences = raw / "claudette_multilingual_en/corpus/sentences/en/original/Booking.txt"
    text = sentences.read_text(encoding="utf-8")
    sentences.write_text(text.replace("Dutch law", "Belgian law"), encoding="utf-8")
    changed = _build(tmp_path / "changed", monkeypatch, raw_dir=raw)
    assert changed["content_hash"] != stats["content_hash"]
    rows = _rows(tmp_path / "changed")
    assert "These terms are governed by Belgian law." in {
        r["text"] for v in rows.values() for r in v
    }


def test_exclude_licenses_removes_opp115(built, tmp_path, monkeypatch):
    _, stats, rows = built
    assert any(r["source"] == "opp115" for v in rows.values() for r in v)
    filtered = _build(tmp_path / "nc", monkeypatch, exclude_licenses=("opp115-noncommercial",))
    kept = _rows(tmp_path / "nc")
    assert not any(
        r["source"] == "opp115" or r["license"] == "opp115-noncommercial"
        for v in kept.values()
        for r in v
    )
    assert "opp115-noncommercial" not in filtered["licenses"]
    assert "opp115-noncommercial" in stats["licenses"]
    assert filtered["source_stats"]["excluded_by_license"] == 10
    assert filtered["exclude_licenses"] == ["opp115-noncommercial"]
    card = (tmp_path / "nc" / "README.md").read_text(encoding="utf-8")
    assert "This build excludes: opp115-noncommercial." in card
    # Other sources are untouched.
    before = {r["id"] for v in rows.values() for r in v if r["source"] != "opp115"}
    after = {r["id"] for v in kept.values() for r in v}
    assert after == before


def test_build_with_an_empty_split_stays_loadable(tmp_path, monkeypatch):
    from datasets import load_from_disk

    out = tmp_path / "processed"
    stats = dataset.build(
        make_config(out)
    )  # default 0.7/0.1/0.2: no fixture service fits validation
    assert stats["splits"]["validation"]["clauses"] == 0
    ds = load_from_disk(str(out / "dataset"))
    assert ds["validation"].num_rows == 0
    assert list(ds["validation"].features) == list(ds["train"].features)
