"""Source adapters, label masks, hand labels, service names and bad input, on small fixtures
written in the real formats of the raw sources (texts invented for the tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixture_builder import (
    CASE_MAP,
    MINED_LABELS,
    RAW,
    TEAM_FILES,
    ZOOM_CORPUS_DOC,
    copy_raw,
    make_config,
    mined_label_rows,
    record_texts,
)

from train import sources
from train.dataset import _corpus_records, apply_hand_labels, collect_records
from train.errors import DataError
from train.mining import (
    DATA_LABELS,
    EXHAUSTIVE_AI_SOURCES,
    HandLabel,
    Reference,
    load_mined_labels,
)
from train.records import ClauseRecord
from train.services import canonical_service
from train.taxonomy import load_taxonomy
from train.textnorm import text_sha1

TAXONOMY = load_taxonomy()
FIVE_OPP_LABELS = {
    "data_collection",
    "data_sharing",
    "data_retention",
    "terms_change",
    "user_control",
}


@pytest.fixture(scope="module")
def case_map():
    return sources.load_case_map(CASE_MAP, TAXONOMY)


def _by_id(records) -> dict[str, ClauseRecord]:
    records = list(records)
    by_id = {r.id: r for r in records}
    assert len(by_id) == len(records), "record ids must be unique"
    return by_id


def _where(err: pytest.ExceptionInfo, path: Path, line: int) -> None:
    """The error names the file and the line as `path:line`."""
    assert f"{path}:{line}:" in str(err.value)
    assert err.value.path == str(path)
    assert err.value.line == line


# ----------------------------------------------------------------------------- ToS;DR 2021


def test_tosdr_2021_uses_approved_and_status_less_points_only(case_map):
    stats: dict = {}
    records = _by_id(sources.load_tosdr_2021(RAW, TAXONOMY, case_map, stats))
    # 101/105/106/108/109 approved, 102 has no status; 103 pending and 104 declined are not used;
    # 107 is approved but its case maps to no label.
    assert sorted(records) == [
        "tosdr2021-101",
        "tosdr2021-102",
        "tosdr2021-105",
        "tosdr2021-106",
        "tosdr2021-108",
        "tosdr2021-109",
    ]
    assert stats == {
        "tosdr_org_2021/approved": 6,
        "tosdr_org_2021/nostatus": 1,
        "tosdr_org_2021/pending": 1,
        "tosdr_org_2021/declined": 1,
        "tosdr_org_2021/case_recovered_from_tosdhr": 1,
    }


def test_tosdr_2021_record_fields(case_map):
    records = _by_id(sources.load_tosdr_2021(RAW, TAXONOMY, case_map, {}))
    first = records["tosdr2021-101"]
    assert first.text == (
        "Booking.com collects the dates of your stay, your payment card details and the names "
        "of your fellow travellers."
    )
    assert first.service == "Booking.com"  # the service file's name, not the slug
    assert first.document == "Privacy Policy"
    assert first.source == "tosdr_org_2021"
    assert first.license == "cc-by-sa-3.0"
    assert first.origin == "real"
    assert first.labels == {"data_collection": 1}
    # No service file for `kestrelmail`: the slug is the service; HTML and &nbsp; are stripped.
    assert records["tosdr2021-109"].service == "kestrelmail"
    assert records["tosdr2021-109"].text == (
        "Kestrelmail stores the address book you import from other mail providers."
    )
    assert records["tosdr2021-102"].labels == {"terms_change": 1}
    for record in records.values():
        assert "<" not in record.text and "&nbsp;" not in record.text and "\xa0" not in record.text


def test_tosdr_2021_negative_case_gives_zero_not_mask(case_map):
    records = _by_id(sources.load_tosdr_2021(RAW, TAXONOMY, case_map, {}))
    never_sells = records["tosdr2021-106"]
    assert never_sells.labels == {"data_sharing": 0}
    row = never_sells.to_row(TAXONOMY, "quillnote")
    i = TAXONOMY.index("data_sharing")
    assert row["label_mask"][i] == 1 and row["labels"][i] == 0
    assert sum(row["label_mask"]) == 1


def test_tosdr_2021_case_title_recovered_from_tosdhr(case_map, tmp_path):
    records = _by_id(sources.load_tosdr_2021(RAW, TAXONOMY, case_map, {}))
    # Point 105 has no case; the tosdhr dump has the same quote (other HTML and spacing).
    assert records["tosdr2021-105"].labels == {"data_sharing": 1}
    assert sources.load_tosdhr_cases(RAW) == {
        "booking com passes your reservation details to the property you booked and to our "
        "payment processors": "Third parties are involved in operating the service",
        "keep your password to yourself do not share it with other travellers": (
            "You are responsible for keeping your password safe"
        ),
    }
    raw = copy_raw(tmp_path / "raw")
    (raw / "tosdr_api_2022_tosdhr" / "data.csv").unlink()
    stats: dict = {}
    without = _by_id(sources.load_tosdr_2021(raw, TAXONOMY, case_map, stats))
    assert "tosdr2021-105" not in without
    assert "tosdr_org_2021/case_recovered_from_tosdhr" not in stats


def test_tosdr_2021_without_case_map_lists_every_usable_point():
    records = _by_id(sources.load_tosdr_2021(RAW, TAXONOMY, None, {}))
    assert sorted(records) == [f"tosdr2021-{i}" for i in (101, 102, 105, 106, 107, 108, 109)]
    assert all(r.labels == {} for r in records.values())


# ----------------------------------------------------------------------------- ToS;DR 2022


def test_tosdr_2022_approved_points_only(case_map):
    stats: dict = {}
    records = _by_id(sources.load_tosdr_2022(RAW, TAXONOMY, case_map, stats))
    assert sorted(records) == ["tosdr2022-7001", "tosdr2022-7002", "tosdr2022-7005"]
    assert stats == {
        "tosdr_phoenix_2022_dao/approved": 3,
        "tosdr_phoenix_2022_dao/declined": 1,
        "tosdr_phoenix_2022_dao/pending": 1,
    }
    photos = records["tosdr2022-7001"]
    assert photos.labels == {"data_retention": 1}  # matched by case id 900, not by title
    assert photos.service == "Parcelly"
    assert photos.document == "doc-61"
    assert photos.license == "unknown"
    assert photos.source == "tosdr_phoenix_2022_dao"
    assert photos.text.startswith("Parcelly keeps the photos of delivered parcels for seven years")
    assert "<" not in photos.text
    # Multi-line CSV field: HTML-free, whitespace folded; matched by case title.
    assert records["tosdr2022-7002"].text == (
        "Parcelly hands your delivery address and phone number to the couriers it works with."
    )
    assert records["tosdr2022-7002"].labels == {"data_sharing": 1}


def test_case_map_table(case_map):
    assert case_map["This service does not sell your personal data"] == sources.CaseMapping(
        (), ("data_sharing",), scope="denial"
    )
    assert case_map["id:900"] == case_map["Some retention case"]
    assert case_map["id:900"].positive == ("data_retention",)
    assert case_map["The service provides a free help desk"] == sources.CaseMapping((), ())
    assert case_map["id:232"] is case_map["The service provides a free help desk"]


def test_case_scope_limits_negatives(case_map):
    denial = case_map["This service does not sell your personal data"]
    assert sources._case_labels(denial, "We never sell your personal data.") == {"data_sharing": 0}
    # A denial with an exception states the practice: no negative.
    assert sources._case_labels(denial, "We do not sell your data except to our partners.") is None
    off_topic = case_map["This service forces users into binding arbitration"]
    assert sources._case_labels(off_topic, "Disputes are settled by binding arbitration.") == {
        "data_collection": 0,
        "data_sharing": 0,
        "data_retention": 0,
        "user_control": 0,
    }
    # An off-topic case's quote that names data may still state a practice: masked.
    assert sources._case_labels(off_topic, "Arbitration records are kept for a year.") is None
    assert sources._case_labels(off_topic, "The arbitrator may see your personal data.") is None
    # Plain cases are unaffected by the quote's words.
    plain = case_map["Your personal data is sold"]
    assert sources._case_labels(plain, "We sell data except to nobody.") == {"data_sharing": 1}


def test_case_map_rejects_unknown_scope(tmp_path):
    path = tmp_path / "case_map.csv"
    path.write_text(
        "case_title,case_id,rating,positive_labels,negative_labels,note,scope\n"
        "A case,,bad,,data_sharing,,sometimes\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError, match=r"case_map.csv:2: unknown scope 'sometimes'"):
        sources.load_case_map(path, TAXONOMY)


# ----------------------------------------------------------------------------- CLAUDETTE


def test_claudette_terms_change_from_ch2_ch3_only():
    assert sources.claudette_documents(RAW) == ["Amazon", "Booking", "Larkspur", "Zoom"]
    records = _by_id(sources.load_claudette(RAW, TAXONOMY, {}))
    # Blank lines are skipped but keep their index: Amazon has no sentence 3, Zoom no sentence 6.
    assert len(records) == 23
    assert "claudette-Amazon-3" not in records and "claudette-Amazon-4" in records
    positives = sorted(rid for rid, r in records.items() if r.labels.get("terms_change"))
    assert positives == [
        "claudette-Amazon-2",  # ch2
        "claudette-Amazon-4",  # "ch3 " (trailing space)
        "claudette-Booking-1",  # ch2
        "claudette-Larkspur-0",  # ch3
        "claudette-Zoom-2",  # ch2
    ]
    # ltd2, ter3, j2, law2, cr2 and untagged sentences carry no label from the loader: CLAUDETTE
    # tags only the change clauses it judged unfair, so the build decides them
    # (hand labels, then the terms-change pattern: see test_apply_hand_labels_terms_change_*).
    for rid, record in records.items():
        assert record.labels == ({"terms_change": 1} if rid in positives else {})
        assert record.license == "cc-by-4.0"
        assert record.service == record.document
    assert records["claudette-Larkspur-2"].labels == {}  # ter3
    assert records["claudette-Zoom-4"].text == (
        "We may use service generated data to train our artificial intelligence models."
    )


def test_claudette_tags_file_with_wrong_line_count_names_file(tmp_path):
    raw = copy_raw(tmp_path / "raw")
    tags = raw / "claudette_multilingual_en/corpus/tags/en/original/Booking.txt"
    tags.write_text("\nch2\n\n\n", encoding="utf-8")  # 4 tag lines for 5 sentences
    with pytest.raises(DataError) as err:
        list(sources.load_claudette(raw, TAXONOMY, {}))
    assert str(tags) in str(err.value)
    assert "4 tag lines for 5 sentences" in str(err.value)


def test_claudette_tags_mismatch_error_names_a_line(tmp_path):
    raw = copy_raw(tmp_path / "raw")
    tags = raw / "claudette_multilingual_en/corpus/tags/en/original/Booking.txt"
    tags.write_text("\nch2\n\n\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        list(sources.load_claudette(raw, TAXONOMY, {}))
    assert err.value.line is not None


# ----------------------------------------------------------------------------- OPP-115


def test_opp115_categories_map_to_five_annotated_labels():
    stats: dict = {}
    records = _by_id(sources.load_opp115(RAW, TAXONOMY, stats))
    # Policy 1003 has no consolidated annotations; the empty last segment of 1001 is skipped.
    assert stats == {"opp115/policies_without_annotations": 1}
    assert sorted(records) == [f"opp115-1001_amazon.com-{i}" for i in range(7)] + [
        f"opp115-1002_pinecrest.net-{i}" for i in range(3)
    ]
    for record in records.values():
        assert set(record.labels) == FIVE_OPP_LABELS
        assert record.license == "opp115-noncommercial"
        assert "<" not in record.text
    amazon = {int(rid.rsplit("-", 1)[1]): r for rid, r in records.items() if "amazon" in rid}
    assert amazon[1].service == "amazon.com" and amazon[1].document == "1001_amazon.com"
    assert amazon[1].text == (
        "Information we collect We receive the details you type into order forms, such as your "
        "name and delivery address."
    )
    assert amazon[2].text == (
        "We share order details with carriers and with companies that process payments for us."
    )

    def positives(record):
        return sorted(n for n, v in record.labels.items() if v)

    assert positives(amazon[0]) == []  # Other
    assert positives(amazon[1]) == ["data_collection"]
    assert positives(amazon[2]) == ["data_collection", "data_sharing"]
    assert positives(amazon[3]) == ["data_retention"]
    assert positives(amazon[4]) == ["user_control"]  # User Access, Edit and Deletion
    assert positives(amazon[5]) == ["terms_change"]  # Policy Change
    assert positives(amazon[6]) == []  # Data Security is not in the taxonomy
    assert positives(records["opp115-1002_pinecrest.net-1"]) == ["user_control"]  # User Choice


def test_opp115_category_table():
    assert sources.OPP115_CATEGORIES["User Access, Edit and Deletion"] == "user_control"
    assert sources.OPP115_CATEGORIES["User Choice/Control"] == "user_control"
    assert sources.OPP115_CATEGORIES["Policy Change"] == "terms_change"
    assert set(sources.OPP115_LABELS) == FIVE_OPP_LABELS


# ----------------------------------------------------------------------------- corpus, team


def test_corpus_documents_and_service_names():
    docs = sources.corpus_documents(RAW)
    assert [p.name for p in docs] == [
        "Parcelly_Privacy Policy.txt",
        ZOOM_CORPUS_DOC,
        "ZoomInfo_Website Terms of Use.txt",
    ]
    assert [sources.corpus_service(p) for p in docs] == [
        "Parcelly",
        "Zoom Video Communications",
        "ZoomInfo",
    ]


def test_team_clauses_annotate_every_label():
    records = _by_id(sources.load_team_clauses(TEAM_FILES[0], TAXONOMY))
    assert len(records) == 6
    first = records["team-ai-0001"]
    assert first.service == "team:Brightloom"
    assert first.document == "education"
    assert first.origin == "team" and first.source == "team" and first.license == "cc-by-4.0"
    assert first.labels == {
        "ai_training": 1,
        "content_license": 0,
        "data_collection": 1,
        "data_sharing": 0,
        "data_retention": 0,
        "terms_change": 0,
        "user_control": 0,
    }
    assert first.to_row(TAXONOMY, first.service)["label_mask"] == [1] * 7
    negatives = _by_id(sources.load_team_clauses(TEAM_FILES[1], TAXONOMY))
    assert negatives["team-neg-0001"].labels == dict.fromkeys(TAXONOMY.names, 0)


def test_clean_quote_strips_html():
    assert sources.clean_quote("<p>We keep&nbsp;logs.</p>\n<p>For a year.</p>") == (
        "We keep logs. For a year."
    )
    assert sources.clean_quote("plain text  with\n spaces") == "plain text with spaces"


def test_clean_quote_keeps_inline_tags_joined():
    assert sources.clean_quote("We use <b>Google Analytics</b>, and more.") == (
        "We use Google Analytics, and more."
    )
    assert sources.clean_quote("un<b>fair</b> terms") == "unfair terms"


# ----------------------------------------------------------------------------- masks


def test_to_row_masks_absent_labels():
    record = ClauseRecord(
        id="x-1",
        text="We may change these terms.",
        source="claudette_multilingual_en",
        service="Raw Name",
        document="Doc",
        license="cc-by-4.0",
        labels={"terms_change": 1, "ai_training": 0},
    )
    row = record.to_row(TAXONOMY, "canonical")
    assert row["service"] == "canonical"
    assert row["labels"] == [0, 0, 0, 0, 0, 1, 0]
    assert row["label_mask"] == [1, 0, 0, 0, 0, 1, 0]
    # Absent: mask 0 and label 0. Present 0: mask 1, label 0.
    for name in ("content_license", "data_collection", "user_control"):
        i = TAXONOMY.index(name)
        assert (row["labels"][i], row["label_mask"][i]) == (0, 0)
    i = TAXONOMY.index("ai_training")
    assert (row["labels"][i], row["label_mask"][i]) == (0, 1)
    assert set(row) == {
        "id",
        "text",
        "labels",
        "label_mask",
        "source",
        "service",
        "document",
        "license",
        "origin",
    }


# ----------------------------------------------------------------------------- hand labels


def _record(rid: str, text: str, source: str = "claudette_multilingual_en", document="Doc"):
    return ClauseRecord(rid, text, source, "Svc", document, "cc-by-4.0", {"terms_change": 0})


def _hand(rid: str, text: str, labels, checked, source="claudette_multilingual_en", document="Doc"):
    ref = Reference(source, document, rid, text_sha1(text))
    return {ref.key: HandLabel(ref, tuple(labels), tuple(checked))}


def test_apply_hand_labels_sets_checked_labels_and_unmasks_ai_training(tmp_path):
    ai_text = "We use your chats to train our machine learning models."
    plain = "We may change these terms at any time."
    records = [_record("c-1", ai_text), _record("c-2", plain)]
    hand = _hand("c-1", ai_text, ["ai_training"], ["ai_training", "content_license"])
    apply_hand_labels(records, hand, tmp_path / "labels.jsonl")
    # Neither sentence can state a data practice: known negatives for the four data labels.
    no_data = dict.fromkeys(DATA_LABELS, 0)
    assert records[0].labels == {
        "terms_change": 0,
        "ai_training": 1,
        "content_license": 0,
        **no_data,
    }
    # No AI mention in an exhaustive source: a known ai_training negative (unmasked 0); no
    # possible rights grant either, so also a known content_license negative.
    assert records[1].labels == {
        "terms_change": 0,
        "ai_training": 0,
        "content_license": 0,
        **no_data,
    }
    row = records[1].to_row(TAXONOMY, "svc")
    assert row["label_mask"][TAXONOMY.index("ai_training")] == 1
    assert row["label_mask"][TAXONOMY.index("content_license")] == 1


@pytest.mark.parametrize(
    ("text", "source", "expected"),
    [
        # Cannot grant rights over user content: a known negative in every negative source.
        ("We may change these terms at any time.", "claudette_multilingual_en", 0),
        ("We keep logs for thirty days.", "opp115", 0),
        ("Any dispute is governed by the laws of Ireland.", "tosdr_corpus_text", 0),
        # Could grant rights without saying "licence": stays masked (unknown).
        ("You grant us the right to use and reproduce your material.", "opp115", None),
        ("We may display your posts publicly on our website.", "claudette_multilingual_en", None),
        ("This is a perpetual, irrevocable and worldwide permission.", "tosdr_corpus_text", None),
        # Sources with their own content_license annotation are left alone.
        ("We may change these terms at any time.", "tosdr_org_2021", None),
        ("We may change these terms at any time.", "team", None),
    ],
)
def test_apply_hand_labels_content_license_negatives(tmp_path, text, source, expected):
    record = ClauseRecord("r-1", text, source, "Svc", "Doc", "cc-by-4.0", {"ai_training": 0})
    apply_hand_labels([record], {}, tmp_path / "labels.jsonl")
    assert record.labels.get("content_license") == expected


@pytest.mark.parametrize(
    ("text", "hand_labels", "expected"),
    [
        # Cannot be about changing the terms: a known negative.
        ("Any dispute will be settled by the courts of Luxembourg.", None, 0),
        ("The remaining provisions stay in full force and effect.", None, 0),
        # Could be (untagged in CLAUDETTE, not hand labelled yet): stays masked.
        ("Unless we state otherwise, changes are effective when posted.", None, None),
        ("We will notify you by email.", None, None),
        # Hand labelled for terms_change: the hand label decides.
        ("Unless we state otherwise, changes are effective when posted.", ["terms_change"], 1),
        ("We may change or discontinue the Service at any time.", [], 0),
    ],
)
def test_apply_hand_labels_terms_change_in_claudette(tmp_path, text, hand_labels, expected):
    record = ClauseRecord("c-9", text, "claudette_multilingual_en", "Svc", "Doc", "cc-by-4.0", {})
    hand = {} if hand_labels is None else _hand("c-9", text, hand_labels, ["terms_change"])
    unlabelled = apply_hand_labels([record], hand, tmp_path / "labels.jsonl")
    assert record.labels.get("terms_change") == expected
    assert unlabelled["terms_change"] == (
        {"claudette_multilingual_en": 1} if expected is None else {}
    )
    # Other sources keep their own terms_change annotation (or its absence).
    other = ClauseRecord("o-9", text, "opp115", "Svc", "Doc", "opp115-noncommercial", {})
    apply_hand_labels([other], {}, tmp_path / "labels.jsonl")
    assert "terms_change" not in other.labels


@pytest.mark.parametrize(
    ("text", "hand_labels", "expected"),
    [
        # Cannot state a data practice: a known negative for all four data labels.
        ("Any dispute will be settled by the courts of Luxembourg.", None, 0),
        ("If any provision is found invalid, the rest stays in full force.", None, 0),
        # Could (CLAUDETTE does not annotate data practices; no hand label yet): stays masked.
        ("We may disclose your information to the police if the law requires it.", None, None),
        ("You can close your account in the settings.", None, None),
        # Hand labelled for the data labels: the hand label decides.
        ("We keep your messages for thirty days.", ["data_retention"], "data_retention"),
        ("You must keep your password secret and not share it.", [], ""),
    ],
)
def test_apply_hand_labels_data_labels_in_claudette(tmp_path, text, hand_labels, expected):
    record = ClauseRecord("c-8", text, "claudette_multilingual_en", "Svc", "Doc", "cc-by-4.0", {})
    hand = {} if hand_labels is None else _hand("c-8", text, hand_labels, list(DATA_LABELS))
    unlabelled = apply_hand_labels([record], hand, tmp_path / "labels.jsonl")
    got = {name: record.labels.get(name) for name in DATA_LABELS}
    if expected is None:
        assert got == dict.fromkeys(DATA_LABELS)
    elif expected == 0:
        assert got == dict.fromkeys(DATA_LABELS, 0)
    else:
        assert got == {name: int(name == expected) for name in DATA_LABELS}
    assert unlabelled["data"] == ({"claudette_multilingual_en": 1} if expected is None else {})
    # Other sources keep their own annotation of these labels (or its absence).
    other = ClauseRecord("o-8", text, "tosdr_org_2021", "Svc", "Doc", "cc-by-4.0", {})
    apply_hand_labels([other], {}, tmp_path / "labels.jsonl")
    assert not set(DATA_LABELS) & set(other.labels)


def test_unlabelled_licence_mention_in_claudette_stops_the_build(tmp_path):
    labels_path = tmp_path / "my_labels.jsonl"
    text = "You grant us a licence to host and copy the content you upload."
    records = [_record("c-7", text)]
    with pytest.raises(DataError, match="content licence") as err:
        apply_hand_labels(records, {}, labels_path)
    assert "c-7" in str(err.value)
    # The same sentence in OPP-115, which is not mined for licences, stays masked instead.
    opp = ClauseRecord("o-7", text, "opp115", "Svc", "Doc", "opp115-noncommercial", {})
    apply_hand_labels([opp], {}, labels_path)
    assert opp.labels == {"ai_training": 0}


def test_apply_hand_labels_leaves_non_exhaustive_sources_masked(tmp_path):
    record = _record("t-1", "Our AI helps you plan trips.", source="team")
    assert "team" not in EXHAUSTIVE_AI_SOURCES
    apply_hand_labels([record], {}, tmp_path / "labels.jsonl")
    assert "ai_training" not in record.labels


def test_unlabelled_ai_mention_in_exhaustive_source_stops_the_build(tmp_path):
    labels_path = tmp_path / "my_labels.jsonl"
    records = [_record("c-9", "Our AI reads every message you send.")]
    with pytest.raises(DataError) as err:
        apply_hand_labels(records, {}, labels_path)
    assert str(labels_path) in str(err.value)
    assert "c-9" in str(err.value)


def test_hand_label_hash_mismatch_raises(tmp_path):
    labels_path = tmp_path / "my_labels.jsonl"
    hand = _hand("c-1", "We train AI models on your posts.", ["ai_training"], ["ai_training"])
    records = [_record("c-1", "We train AI models on your public posts.")]
    with pytest.raises(DataError, match="changed since it was labelled") as err:
        apply_hand_labels(records, hand, labels_path)
    assert str(labels_path) in str(err.value)


def test_fixture_mined_labels_match_fixture_texts():
    """The committed fixture references carry the SHA-1 of the fixture texts (regenerate with
    `python tests/fixture_builder.py`)."""
    lines = MINED_LABELS.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == mined_label_rows()
    table = load_mined_labels(MINED_LABELS, TAXONOMY)
    assert len(table) == 6
    corpus = table[("tosdr_corpus_text", ZOOM_CORPUS_DOC, "81:158")]
    assert corpus.labels == ("ai_training", "content_license")


def test_collect_records_joins_hand_labels():
    records = _by_id(collect_records(make_config(Path("unused")), TAXONOMY, {}))
    assert records["tosdr2021-108"].labels == {
        "data_collection": 1,
        "ai_training": 1,
        "content_license": 0,
    }
    assert records["claudette-Zoom-4"].labels == {
        "terms_change": 0,
        "ai_training": 1,
        "content_license": 0,
    }
    assert records["claudette-Zoom-5"].labels == {
        "terms_change": 0,
        "ai_training": 0,
        "content_license": 1,
    }
    assert records["opp115-1002_pinecrest.net-2"].labels["ai_training"] == 0
    assert records["tosdr2022-7005"].labels == {"data_sharing": 1, "ai_training": 1}
    # Every record of an exhaustive source now has ai_training unmasked.
    for record in records.values():
        if record.source in EXHAUSTIVE_AI_SOURCES:
            assert "ai_training" in record.labels, record.id


def test_corpus_records_hand_labels_and_negatives():
    cfg = make_config(Path("unused"))
    hand = load_mined_labels(MINED_LABELS, TAXONOMY)
    records, _ = _corpus_records(hand, cfg, set(), {})
    apply_hand_labels(records, hand, MINED_LABELS)  # as `collect_records` does
    texts = {r.text: r for r in records}
    labelled = texts[
        "We may use customer content to train and improve our machine learning models."
    ]
    # The pattern rules decide the other labels of a sentence labelled only for AI and licence:
    # it matches neither the terms-change nor the data-practice pattern.
    assert labelled.labels == {
        "ai_training": 1,
        "content_license": 1,
        **dict.fromkeys(("terms_change", *DATA_LABELS), 0),
    }
    assert labelled.service == "Zoom Video Communications"
    assert labelled.document == ZOOM_CORPUS_DOC
    assert labelled.license == "agpl-3.0"
    # A sampled sentence: a known `ai_training` negative, not about the terms; it could state a
    # data practice, so the data labels stay masked until it is labelled by hand.
    negative = texts["We delete courier location history after ninety days."]
    assert negative.labels == {"ai_training": 0, "content_license": 0, "terms_change": 0}
    # A sentence that mentions AI without a hand label is neither labelled nor a negative;
    # the one-line title is not a clause.
    assert "Parcelly uses AI to estimate delivery windows for you." not in texts
    assert "Meeting Service Terms" not in texts
    # The labelled sentence + every other sentence of 3 corpus documents; the 2026 documents'
    # sample follows them.
    corpus = [r for r in records if r.source == "tosdr_corpus_text"]
    assert len(corpus) == 1 + 7
    assert records[: len(corpus)] == corpus
    assert {r.source for r in records[len(corpus) :]} == {"ota_contrib_2026"}


def test_sampled_sentence_labelled_by_hand_becomes_a_fully_labelled_record():
    from train.dataset import _mined_stats, sampled_document_clauses

    cfg = make_config(Path("unused"))
    sampled = {c.text: c for c in sampled_document_clauses(cfg, set())}
    clause = sampled["We delete courier location history after ninety days."]
    assert clause.before == (
        "Parcelly records the location of each courier while a delivery is underway."
    )
    locator = f"{clause.start}:{clause.end}"
    hand = load_mined_labels(MINED_LABELS, TAXONOMY)
    mined_before = _mined_stats(hand)
    hand.update(
        _hand(
            locator, clause.text, ["data_retention"], TAXONOMY.names, clause.source, clause.document
        )
    )
    stats: dict = {}
    records, labelled = _corpus_records(hand, cfg, set(), stats)
    apply_hand_labels(records, hand, MINED_LABELS)
    by_text = {r.text: r for r in records}
    # The hand label replaces the sampled negative: every label decided, one record, same id.
    record = by_text[clause.text]
    assert record.id == clause.id
    assert record.labels == {n: int(n == "data_retention") for n in TAXONOMY.names}
    assert sum(r.id == clause.id for r in records) == 1
    assert labelled == {(clause.source, clause.document, locator)}
    assert stats["sampled"]["hand_labelled:tosdr_corpus_text"] == 1
    assert stats["sampled"]["positive:data_retention"] == 1
    assert stats["sampled"]["sentences:tosdr_corpus_text"] == 7
    # Counted as a sampled sentence, not as a pattern candidate, once the build leaves it out.
    assert _mined_stats({k: v for k, v in hand.items() if k not in labelled}) == mined_before


def test_corpus_hand_label_hash_mismatch_names_labels_file(tmp_path):
    raw = copy_raw(tmp_path / "raw")
    doc = raw / "tosdr_corpus_text" / "corpus" / "text" / ZOOM_CORPUS_DOC
    doc.write_text(
        doc.read_text(encoding="utf-8").replace("customer", "CUSTOMER"), encoding="utf-8"
    )
    cfg = make_config(tmp_path / "out", raw_dir=raw)
    hand = load_mined_labels(MINED_LABELS, TAXONOMY)
    with pytest.raises(DataError, match="hash mismatch") as err:
        _corpus_records(hand, cfg, set(), {})
    assert str(MINED_LABELS) in str(err.value)


# ----------------------------------------------------------------------------- service names


@pytest.mark.parametrize(
    ("name", "service"),
    [
        ("amazon.com", "amazon"),
        ("Amazon", "amazon"),
        ("www.amazon.com", "amazon"),
        ("Booking", "booking.com"),
        ("Booking.com", "booking.com"),
        ("Electronic_Arts", "electronicarts"),
        ("Zoom", "zoom"),
        ("zoom.us", "zoom"),
        ("Zoom Video Communications", "zoom"),
        ("ZoomInfo", "zoominfo"),
        ("Western Union", "westernunion"),
        ("westernunion", "westernunion"),
        ("pinecrest.net", "pinecrest"),
    ],
)
def test_canonical_service(name, service):
    assert canonical_service(name) == service


# ----------------------------------------------------------------------------- bad input


def _lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD_TEAM = json.dumps({"id": "a-1", "service": "S", "text": "We sell data.", "labels": []})


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"id": "a-2", "service": "S", "text": "x", "labels": [', "malformed JSON"),
        (
            json.dumps({"id": "a-2", "service": "S", "text": "x", "labels": ["ai_trainig"]}),
            "unknown label 'ai_trainig'",
        ),
        (json.dumps({"id": "a-2", "service": "S", "text": "   ", "labels": []}), "empty text"),
        (json.dumps({"id": "a-1", "service": "S", "text": "Again.", "labels": []}), "duplicate id"),
        (json.dumps({"id": "a-2", "service": "S", "text": "No labels key."}), "missing key"),
    ],
)
def test_team_clause_errors_name_file_and_line(tmp_path, bad_line, message):
    path = _lines(tmp_path / "team.jsonl", [GOOD_TEAM, "", bad_line])
    with pytest.raises(DataError, match=message) as err:
        list(sources.load_team_clauses(path, TAXONOMY))
    _where(err, path, 3)


def test_team_clauses_non_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "team.jsonl"
    path.write_bytes(GOOD_TEAM.encode() + b'\n{"id": "a-2", "text": "caf\xe9"}\n')
    with pytest.raises(DataError) as err:
        list(sources.load_team_clauses(path, TAXONOMY))
    _where(err, path, 2)


def test_duplicate_team_id_across_files_names_the_file(tmp_path):
    first = _lines(tmp_path / "team_a.jsonl", [GOOD_TEAM])
    second = _lines(tmp_path / "team_b.jsonl", [GOOD_TEAM])
    cfg = make_config(tmp_path / "out", team_clause_paths=(first, second))
    with pytest.raises(DataError) as err:
        collect_records(cfg, TAXONOMY, {})
    assert "duplicate" in str(err.value)
    assert str(second) in str(err.value)


GOOD_MINED = json.dumps(
    {
        "source": "opp115",
        "document": "d",
        "locator": "opp115-d-1",
        "sha1": "0" * 40,
        "labels": [],
        "checked": ["ai_training"],
    }
)


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"source": "opp115", "document": "d"', "malformed JSON"),
        (
            GOOD_MINED.replace('"checked": ["ai_training"]', '"checked": ["ai"]'),
            "unknown label 'ai'",
        ),
        (
            GOOD_MINED.replace('"locator": "opp115-d-1"', '"locator": "opp115-d-2"').replace(
                '"labels": []', '"labels": ["data_sharing"]'
            ),
            "also be listed",
        ),
        (GOOD_MINED, "duplicate reference"),
        ('{"source": "opp115", "document": "d", "labels": [], "checked": []}', "missing key"),
    ],
)
def test_mined_label_errors_name_file_and_line(tmp_path, bad_line, message):
    path = _lines(tmp_path / "mined.jsonl", [GOOD_MINED, bad_line])
    with pytest.raises(DataError, match=message) as err:
        load_mined_labels(path, TAXONOMY)
    _where(err, path, 2)


def test_malformed_point_json_names_file_and_line(tmp_path):
    raw = copy_raw(tmp_path / "raw")
    point = raw / "tosdr_org_2021/src/points/106.json"
    point.write_text('{\n  "id": "106",\n  "quoteText": "Unfinished\n}\n', encoding="utf-8")
    with pytest.raises(DataError, match="malformed JSON") as err:
        list(sources.load_tosdr_2021(raw, TAXONOMY, None, {}))
    _where(err, point, 3)


def test_unknown_label_in_case_map_names_file_and_line(tmp_path):
    path = tmp_path / "case_map.csv"
    text = CASE_MAP.read_text(encoding="utf-8").replace(
        "Your data is kept forever,,bad,data_retention", "Your data is kept forever,,bad,retention"
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match="unknown label 'retention' in positive_labels") as err:
        sources.load_case_map(path, TAXONOMY)
    _where(err, path, 5)


def test_malformed_clean_point_row_names_file_and_line(tmp_path):
    raw = copy_raw(tmp_path / "raw")
    path = raw / "tosdr_phoenix_2022_dao/data/clean_data/clean_point.csv"
    with path.open("a", encoding="utf-8") as fh:
        fh.write("7009,https://edit.tosdr.org/points/7009,APPROVED\n")
    n_lines = len(path.read_text(encoding="utf-8-sig").splitlines())
    with pytest.raises(DataError, match="missing TEXT or STATUS") as err:
        list(sources.load_tosdr_2022(raw, TAXONOMY, None, {}))
    _where(err, path, n_lines)


def test_malformed_opp115_annotation_row_names_file_and_line(tmp_path):
    raw = copy_raw(tmp_path / "raw")
    path = (
        raw
        / "opp115/OPP-115/consolidation/threshold-0.75-overlap-similarity/1002_pinecrest.net.csv"
    )
    with path.open("a", encoding="utf-8") as fh:
        fh.write("C1,batch,1,4001,not-a-segment,Other\n")
    with pytest.raises(DataError) as err:
        list(sources.load_opp115(raw, TAXONOMY, {}))
    _where(err, path, 4)


def test_missing_raw_dir_is_a_clear_error(tmp_path):
    cfg = make_config(tmp_path / "out", raw_dir=tmp_path / "nowhere")
    with pytest.raises(DataError, match="RAW_DIR"):
        collect_records(cfg, TAXONOMY, {})


# ----------------------------------------------------------------------------- real data


def test_real_claudette_counts(raw_dir):
    """50 documents; 224 sentences carry ch2 or ch3 (checked by hand against the tag files) and
    are the only ones the loader labels."""
    assert len(sources.claudette_documents(raw_dir)) == 50
    records = list(sources.load_claudette(raw_dir, TAXONOMY, {}))
    assert len({r.document for r in records}) == 50
    assert sum(r.labels.get("terms_change", 0) for r in records) == 224
    assert all(r.labels in ({"terms_change": 1}, {}) for r in records)
    assert "Zoom" in {r.service for r in records}


def _opp_row(segment: int, category: str, **attributes: str) -> str:
    attrs = {
        k.replace("_", " ").replace("Does Not", "Does/Does Not"): {"value": v}
        for k, v in attributes.items()
    }
    return (
        f"C1,b,1,4001,{segment},{category},"
        + '"'
        + json.dumps(attrs).replace('"', '""')
        + '"'
        + ",Not specified,http://example.com\n"
    )


@pytest.mark.parametrize(
    ("rows", "positive", "masked"),
    [
        (
            [("First Party Collection/Use", {"Action_First-Party": "Collect on website"})],
            {"data_collection"},
            set(),
        ),
        (
            [("First Party Collection/Use", {"Collection_Mode": "Implicit"})],
            {"data_collection"},
            set(),
        ),
        # Neither an action nor a collection mode: the segment may only describe a use.
        ([("First Party Collection/Use", {})], set(), {"data_collection"}),
        (
            [
                ("First Party Collection/Use", {"Action_First-Party": "Unspecified"}),
                ("First Party Collection/Use", {"Action_First-Party": "Collect in mobile app"}),
            ],
            {"data_collection"},
            set(),
        ),
        ([("First Party Collection/Use", {"Does Not": "Does Not"})], set(), set()),
        (
            [("Third Party Sharing/Collection", {"Action_Third_Party": "Receive/Shared with"})],
            {"data_sharing"},
            set(),
        ),
        (
            [
                (
                    "Third Party Sharing/Collection",
                    {"Action_Third_Party": "Track on first party website/app"},
                )
            ],
            {"data_sharing", "data_collection"},
            set(),
        ),
        (
            [
                (
                    "Third Party Sharing/Collection",
                    {
                        "Action_Third_Party": "Collect on first party website/app",
                        "Does Not": "Does Not",
                    },
                )
            ],
            set(),
            set(),
        ),
        ([("Data Security", {}), ("Policy Change", {})], {"terms_change"}, set()),
        # State privacy rights sit under this category: user_control cannot be ruled out...
        ([("International and Specific Audiences", {})], set(), {"user_control"}),
        # ...but a segment also annotated as a choice is a positive.
        (
            [("International and Specific Audiences", {}), ("User Choice/Control", {})],
            {"user_control"},
            set(),
        ),
    ],
)
def test_opp115_attributes_refine_the_category_mapping(tmp_path, rows, positive, masked):
    path = tmp_path / "1.csv"
    path.write_text("".join(_opp_row(0, cat, **attrs) for cat, attrs in rows))
    expected = {name: int(name in positive) for name in sources.OPP115_LABELS if name not in masked}
    assert sources._opp115_segment_labels(path)[0] == expected


@pytest.mark.parametrize(
    ("raw", "repaired"),
    [
        ("We donâ€™t sell your data.", "We don’t sell your data."),
        ("Ã‚Â©2017 Example LLC.", "©2017 Example LLC."),
        ("“Quoted” text stays as it is.", "“Quoted” text stays as it is."),
        ("Plain text.", "Plain text."),
    ],
)
def test_mojibake_is_repaired_and_clean_text_left_alone(raw, repaired):
    from train.textnorm import repair_text

    assert repair_text(raw) == repaired


# ----------------------------------------------------------------------------- candidate sheets


def _candidate_inputs(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the fixture hand labels and an empty list of documents labelled whole."""
    labels = tmp_path / "mined_labels.jsonl"
    labels.write_text(MINED_LABELS.read_text(encoding="utf-8"), encoding="utf-8")
    manifest = tmp_path / "labelled_documents.csv"
    manifest.write_text("source,document,service,split,clauses,clause_list_sha1,batch\n")
    return labels, manifest


def test_terms_change_candidate_sheet_and_import_merge_into_existing_rows(tmp_path):
    from train.candidates import import_candidate_answers, write_candidate_sheets

    labels = tmp_path / "mined_labels.jsonl"
    rows = mined_label_rows()
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    manifest = tmp_path / "labelled_documents.csv"
    manifest.write_text("source,document,service,split,clauses,clause_list_sha1,batch\n")
    folder = tmp_path / "work"
    batches = write_candidate_sheets(
        RAW, TAXONOMY, folder, 100, "terms_change", labels_path=labels, manifest_path=manifest
    )
    assert list(batches) == ["cand-termschange-01"]
    mapping = json.loads((folder / "cand-termschange-01.map.json").read_text(encoding="utf-8"))
    sheet = (folder / "cand-termschange-01.sheet.txt").read_text(encoding="utf-8").splitlines()
    texts = {line.split("\t")[0]: line.split("\t")[1] for line in sheet[1:]}
    by_locator = {ref["locator"]: cid for cid, ref in mapping.items()}
    # CLAUDETTE sentences that may speak of changing the terms, each asking for TC alone, with
    # the sentence before it as context; and the build's sampled sentences of whole documents
    # that match (here of the 2026 documents), each asking for every label.
    claudette = [r for r in mapping.values() if r["source"] == "claudette_multilingual_en"]
    sampled = [r for r in mapping.values() if r["source"] != "claudette_multilingual_en"]
    assert {tuple(ref["checked"]) for ref in claudette} == {("terms_change",)}
    assert sampled and {ref["source"] for ref in sampled} == {"ota_contrib_2026"}
    assert {tuple(ref["checked"]) for ref in sampled} == {tuple(TAXONOMY.names)}
    assert "claudette-Amazon-2" in by_locator and "claudette-Zoom-2" in by_locator
    assert "claudette-Larkspur-3" not in by_locator  # "terminate": not a change of the terms
    zoom = texts[by_locator["claudette-Zoom-2"]]
    assert zoom.startswith("[Zoom] {TC} (before: By using the meeting service")
    assert zoom.endswith(
        "We may modify these terms and will post the modified terms on our website."
    )

    # Zoom-2 is labelled already for AI and licence (a row of its own); its TC label merges in.
    zoom_ref = {**mapping[by_locator["claudette-Zoom-2"]]}
    del zoom_ref["checked"]
    rows.append(
        {**zoom_ref, "labels": [], "checked": ["ai_training", "content_license"], "note": ""}
    )
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    answers = tmp_path / "answers.txt"
    answers.write_text(
        "".join(
            f"{cid} {'TC' if ref['locator'] in {'claudette-Zoom-2', 'claudette-Amazon-2'} else '-'}"
            f"{' # the service' if ref['locator'] == 'claudette-Zoom-2' else ''}\n"
            for cid, ref in mapping.items()
        ),
        encoding="utf-8",
    )
    n = import_candidate_answers(folder, "cand-termschange-01", answers, TAXONOMY, labels)
    assert n == len(mapping)
    merged = {r["locator"]: r for r in map(json.loads, labels.read_text().splitlines())}
    assert len(merged) == len(rows) + len(mapping) - 1
    assert merged["claudette-Zoom-2"]["checked"] == [
        "ai_training",
        "content_license",
        "terms_change",
    ]
    assert merged["claudette-Zoom-2"]["labels"] == ["terms_change"]
    assert merged["claudette-Zoom-2"]["note"] == "the service"
    assert merged["claudette-Amazon-2"]["labels"] == ["terms_change"]
    assert merged["claudette-Booking-1"] == {
        **{k: v for k, v in mapping[by_locator["claudette-Booking-1"]].items()},
        "labels": [],
        "note": "",
    }
    # The rows before keep their order and fields; a second import would relabel: refused.
    assert [r["locator"] for r in map(json.loads, labels.read_text().splitlines())][:6] == [
        r["locator"] for r in rows[:6]
    ]
    with pytest.raises(DataError, match="labelled already for \\['terms_change'\\]"):
        import_candidate_answers(folder, "cand-termschange-01", answers, TAXONOMY, labels)
    # Nothing left to ask.
    again = write_candidate_sheets(
        RAW,
        TAXONOMY,
        tmp_path / "w2",
        100,
        "terms_change",
        labels_path=labels,
        manifest_path=manifest,
    )
    assert again == {}


def test_candidate_sheet_asks_only_for_labels_not_decided_yet(tmp_path):
    from train.candidates import write_candidate_sheets

    raw = copy_raw(tmp_path / "raw")
    corpus = raw / "claudette_multilingual_en" / "corpus"
    text = "We may update these terms and use your posts to train our AI models."
    for folder, line in (("sentences", text), ("tags", "")):
        path = corpus / folder / "en" / "original" / "Zoom.txt"
        path.write_text(path.read_text(encoding="utf-8") + line + "\n", encoding="utf-8")
    record = [r for r in sources.load_claudette(raw, TAXONOMY, {}) if r.text == text][0]
    manifest = tmp_path / "labelled_documents.csv"
    manifest.write_text("source,document,service,split,clauses,clause_list_sha1,batch\n")
    labels = tmp_path / "mined.jsonl"

    def asked(rows: list[dict]) -> tuple[str, dict]:
        labels.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        folder = tmp_path / f"work{len(rows)}"
        write_candidate_sheets(
            raw, TAXONOMY, folder, 500, labels_path=labels, manifest_path=manifest
        )
        mapping = json.loads((folder / "cand-01.map.json").read_text(encoding="utf-8"))
        sheet = (folder / "cand-01.sheet.txt").read_text(encoding="utf-8").splitlines()[1:]
        ids = [cid for cid, ref in mapping.items() if ref["locator"] == record.id]
        return [line for line in sheet if line.startswith(ids[0] + "\t")][0], mapping[ids[0]]

    line, ref = asked([])
    assert "{AI,CL,TC}" in line
    assert ref["checked"] == ["ai_training", "content_license", "terms_change"]
    done = {
        "source": record.source,
        "document": record.document,
        "locator": record.id,
        "sha1": text_sha1(text),
        "labels": ["ai_training"],
        "checked": ["ai_training", "content_license"],
        "note": "",
    }
    line, ref = asked([*mined_label_rows(raw), done])
    assert "{TC}" in line and ref["checked"] == ["terms_change"]


def test_data_candidate_sheet_for_one_split_asks_only_the_data_labels(tmp_path):
    from train.candidates import import_candidate_answers, write_candidate_sheets

    labels, manifest = _candidate_inputs(tmp_path)
    splits = tmp_path / "service_splits.csv"
    splits.write_text(
        "service,split,stratum,since\n"
        "zoom,test,claudette_multilingual_en,1\n"
        "larkspur,test,claudette_multilingual_en,1\n"
        "amazon,train,claudette_multilingual_en,1\n"
        "booking.com,validation,claudette_multilingual_en,1\n",
        encoding="utf-8",
    )
    folder = tmp_path / "work"
    batches = write_candidate_sheets(
        RAW,
        TAXONOMY,
        folder,
        100,
        "data",
        labels_path=labels,
        manifest_path=manifest,
        split="test",
        splits_path=splits,
    )
    assert list(batches) == ["cand-data-test-01"]
    mapping = json.loads((folder / "cand-data-test-01.map.json").read_text(encoding="utf-8"))
    sheet = (folder / "cand-data-test-01.sheet.txt").read_text(encoding="utf-8").splitlines()[1:]
    by_locator = {ref["locator"]: cid for cid, ref in mapping.items()}
    # Only the test split's documents, only sentences that may state a data practice: CLAUDETTE's,
    # and the sampled sentences of the Zoom corpus document (asking every label).
    claudette = {c: r for c, r in mapping.items() if r["source"] == "claudette_multilingual_en"}
    sampled = {c: r for c, r in mapping.items() if c not in claudette}
    assert {ref["document"] for ref in claudette.values()} == {"Zoom", "Larkspur"}
    assert {ref["document"] for ref in sampled.values()} == {ZOOM_CORPUS_DOC}
    assert {tuple(ref["checked"]) for ref in sampled.values()} == {tuple(TAXONOMY.names)}
    assert any(line.endswith("until the host deletes them.") for line in sheet)
    assert "claudette-Larkspur-2" in by_locator  # "terminate your account"
    assert "claudette-Larkspur-3" not in by_locator  # liability: a known negative
    # Zoom-4 is labelled already for AI and licence, and matches the AI pattern too: this sheet
    # asks for the four data labels only.
    assert {tuple(ref["checked"]) for ref in claudette.values()} == {
        ("data_collection", "data_sharing", "data_retention", "user_control")
    }
    zoom = [line for line in sheet if line.startswith(by_locator["claudette-Zoom-4"] + "\t")]
    assert zoom[0].split("\t")[1].startswith("[Zoom] {DC,DS,DR,UC} (before: ")

    answers = tmp_path / "answers.txt"
    answers.write_text(
        "".join(
            f"{cid} {'DC' if ref['locator'] == 'claudette-Zoom-4' else '-'}\n"
            for cid, ref in mapping.items()
        ),
        encoding="utf-8",
    )
    import_candidate_answers(folder, "cand-data-test-01", answers, TAXONOMY, labels)
    table = load_mined_labels(labels, TAXONOMY)
    zoom4 = table[("claudette_multilingual_en", "Zoom", "claudette-Zoom-4")]
    assert zoom4.labels == ("ai_training", "data_collection")
    assert set(zoom4.checked) == {"ai_training", "content_license", *DATA_LABELS}
    # Joined at build time: the hand labels decide, the other sentences are known negatives.
    records = {r.id: r for r in sources.load_claudette(RAW, TAXONOMY, {})}
    masked = apply_hand_labels(list(records.values()), table, labels)
    assert records["claudette-Zoom-4"].labels["data_collection"] == 1
    assert records["claudette-Larkspur-2"].labels["user_control"] == 0
    assert records["claudette-Larkspur-3"].labels["data_retention"] == 0
    # No candidate of the other splits is labelled: they stay masked and are counted.
    assert masked["data"]["claudette_multilingual_en"] == sum(
        1
        for r in records.values()
        if r.document in {"Amazon", "Booking"} and "data_collection" not in r.labels
    )
    assert masked["data"]["claudette_multilingual_en"] > 0


def test_new_candidate_sheets_never_overwrite_earlier_batches(tmp_path):
    from train.candidates import write_candidate_sheets

    labels, manifest = _candidate_inputs(tmp_path)
    folder = tmp_path / "work"
    kwargs = {"labels_path": labels, "manifest_path": manifest}
    first = write_candidate_sheets(RAW, TAXONOMY, folder, 4, "data", **kwargs)
    assert list(first)[:2] == ["cand-data-01", "cand-data-02"]
    (folder / "cand-data-01.answers.txt").write_text("1.0 DC\n", encoding="utf-8")
    saved = {p.name: p.read_bytes() for p in folder.iterdir()}
    # The same candidates again (nothing imported): new numbers after the earlier batches.
    again = write_candidate_sheets(RAW, TAXONOMY, folder, 4, "data", **kwargs)
    n = len(first)
    assert list(again) == [f"cand-data-{i:02d}" for i in range(n + 1, 2 * n + 1)]
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.name in saved} == saved


def test_second_pass_and_adjudication_of_candidates(tmp_path):
    from train.candidates import (
        adjudicate_candidates,
        import_candidate_answers,
        write_candidate_sheets,
    )
    from train.mining import candidate_agreement

    labels = tmp_path / "mined_labels.jsonl"
    labels.write_text(MINED_LABELS.read_text(encoding="utf-8"), encoding="utf-8")
    before = labels.read_text(encoding="utf-8")
    manifest = tmp_path / "labelled_documents.csv"
    manifest.write_text("source,document,service,split,clauses,clause_list_sha1,batch\n")
    folder = tmp_path / "work"
    write_candidate_sheets(
        RAW, TAXONOMY, folder, 100, "data", labels_path=labels, manifest_path=manifest
    )
    mapping = json.loads((folder / "cand-data-01.map.json").read_text(encoding="utf-8"))
    ids = {ref["locator"]: cid for cid, ref in mapping.items()}
    zoom4, lark2 = ids["claudette-Zoom-4"], ids["claudette-Larkspur-2"]
    first = {zoom4: "DC", lark2: "UC"}
    second = {zoom4: "DC,DS", lark2: "UC"}
    for name, answers in (("answers", first), ("second", second)):
        (folder / f"cand-data-01.{name}.txt").write_text(
            "".join(f"{cid} {answers.get(cid, '-')}\n" for cid in mapping), encoding="utf-8"
        )
    # A second pass needs the first one imported: nothing is written before that.
    with pytest.raises(DataError, match="import the first pass"):
        import_candidate_answers(
            folder, "cand-data-01", folder / "cand-data-01.second.txt", TAXONOMY, labels, True
        )
    assert labels.read_text(encoding="utf-8") == before
    import_candidate_answers(
        folder, "cand-data-01", folder / "cand-data-01.answers.txt", TAXONOMY, labels
    )
    import_candidate_answers(
        folder, "cand-data-01", folder / "cand-data-01.second.txt", TAXONOMY, labels, True
    )
    rows = {r["locator"]: r for r in map(json.loads, labels.read_text().splitlines())}
    assert rows["claudette-Zoom-4"]["double"] == {
        "checked": list(DATA_LABELS),
        "a": ["data_collection"],
        "b": ["data_collection", "data_sharing"],
    }
    # The second pass leaves the labels as the first pass gave them; rows without it unchanged.
    assert rows["claudette-Zoom-4"]["labels"] == ["ai_training", "data_collection"]
    assert "double" not in rows["tosdr2021-108"]
    agreement = candidate_agreement(labels, TAXONOMY)
    assert agreement["sentences"] == len(mapping)
    # CLAUDETTE's candidates ask the data labels; the sampled corpus and 2026 sentences every label.
    assert any(ref["source"] == "ota_contrib_2026" for ref in mapping.values())
    assert set(agreement["labels"]) == set(TAXONOMY.names)
    assert agreement["labels"]["terms_change"]["sentences"] < len(mapping)
    assert agreement["labels"]["data_sharing"]["disagreements"] == 1
    assert agreement["labels"]["data_sharing"]["positives_b"] == 1
    assert agreement["labels"]["user_control"]["kappa"] == 1.0
    assert agreement["labels"]["data_retention"]["kappa"] is None  # never used by either pass
    with pytest.raises(DataError, match="second pass for these labels already"):
        import_candidate_answers(
            folder, "cand-data-01", folder / "cand-data-01.second.txt", TAXONOMY, labels, True
        )

    decisions = tmp_path / "adjudicated.tsv"
    ref = mapping[zoom4]
    decisions.write_text(
        f"{ref['source']}\t{ref['document']}\t{ref['locator']}\t+DS\tdisclosed to partners\n",
        encoding="utf-8",
    )
    assert adjudicate_candidates(decisions, TAXONOMY, labels) == 1
    rows = {r["locator"]: r for r in map(json.loads, labels.read_text().splitlines())}
    assert rows["claudette-Zoom-4"]["labels"] == [
        "ai_training",
        "data_collection",
        "data_sharing",
    ]
    assert rows["claudette-Zoom-4"]["note"].endswith("disclosed to partners")
    # The agreement still compares the passes as answered.
    assert candidate_agreement(labels, TAXONOMY)["labels"]["data_sharing"]["disagreements"] == 1
    for edit, message in (("+TC", "not labelled for terms_change"), ("DS", "expected \\+CODE")):
        decisions.write_text(
            f"{ref['source']}\t{ref['document']}\t{ref['locator']}\t{edit}\n", encoding="utf-8"
        )
        with pytest.raises(DataError, match=message) as err:
            adjudicate_candidates(decisions, TAXONOMY, labels)
        assert f"{decisions}:1" in str(err.value)


def test_candidate_map_without_checked_labels_keeps_the_old_meaning(tmp_path):
    from train.candidates import import_candidate_answers

    text = record_texts()["opp115-1002_pinecrest.net-2"]
    folder = tmp_path / "work"
    folder.mkdir()
    ref = {
        "source": "opp115",
        "document": "1002_pinecrest.net",
        "locator": "opp115-1002_pinecrest.net-2",
        "sha1": text_sha1(text),
    }
    (folder / "cand-01.map.json").write_text(json.dumps({"1.0": ref}), encoding="utf-8")
    answers = tmp_path / "answers.txt"
    answers.write_text("1.0 AI,DC\n", encoding="utf-8")
    labels = tmp_path / "mined.jsonl"
    import_candidate_answers(folder, "cand-01", answers, TAXONOMY, labels)
    row = json.loads(labels.read_text(encoding="utf-8"))
    # A record of a labelled source: only the AI and licence labels were asked for.
    assert row["checked"] == ["ai_training", "content_license"]
    assert row["labels"] == ["ai_training"]
