"""Policy diff (`train.diff`, `scripts/diff.py`): alignment cases, flags that appear or
disappear (with a deterministic keyword predictor), `--fail-on`, reports and version histories."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from fakes import LABELS, EmbeddingFakePredictor, FakePredictor

from train.align import AlignmentStats
from train.diff import (
    align_clauses,
    diff_documents,
    diff_history,
    lead_ins,
    main,
    version_date,
)
from train.diff_report import format_step, render_html

REPO = Path(__file__).resolve().parent.parent

LICENCE = "You grant us a worldwide licence to host your content so we can run the service."
COLLECT = "We collect your location and device information when you use the service."
CHANGE = "We may change these terms at any time and continued use means acceptance."
OPT_OUT = "You can opt out of marketing emails in your account settings."
TRAIN = "We may use your content and service generated data to train our AI models."
NO_TRAIN = "We do not use your content or service generated data to train our AI models."


def doc(*clauses: str, title: str = "# Terms of Service") -> str:
    return title + "\n\n" + "\n\n".join(clauses) + "\n"


def kinds(old: list[str], new: list[str]) -> list[tuple[str, int | None, int | None]]:
    return [(a.change, a.old, a.new) for a in align_clauses(old, new)]


def test_alignment_unchanged_ignores_case_spacing_and_punctuation():
    old = [LICENCE, COLLECT]
    new = [LICENCE.upper(), COLLECT.replace(" ", "  ").rstrip(".")]
    assert kinds(old, new) == [("unchanged", 0, 0), ("unchanged", 1, 1)]


def test_alignment_added_and_removed():
    assert kinds([LICENCE, CHANGE], [LICENCE, TRAIN, CHANGE]) == [
        ("unchanged", 0, 0),
        ("added", None, 1),
        ("unchanged", 1, 2),
    ]
    assert kinds([LICENCE, OPT_OUT, CHANGE], [LICENCE, CHANGE]) == [
        ("unchanged", 0, 0),
        ("removed", 1, None),  # listed where it used to be
        ("unchanged", 2, 1),
    ]


def test_alignment_modified_pairs_similar_clauses_one_to_one():
    alignment = align_clauses([LICENCE, TRAIN, OPT_OUT], [LICENCE, NO_TRAIN, COLLECT])
    assert [(a.change, a.old, a.new) for a in alignment] == [
        ("unchanged", 0, 0),
        ("modified", 1, 1),
        ("removed", 2, None),  # too different from COLLECT to be a modification
        ("added", None, 2),
    ]
    assert 0.6 <= alignment[1].similarity < 1.0


def test_alignment_moved_clause():
    old = [LICENCE, COLLECT, CHANGE, OPT_OUT]
    new = [LICENCE, CHANGE, OPT_OUT, COLLECT]
    assert kinds(old, new) == [
        ("unchanged", 0, 0),
        ("unchanged", 2, 1),
        ("unchanged", 3, 2),
        ("moved", 1, 3),
    ]


RECORD_OLD = "The host can choose to record meetings and webinars held on the service."
RECORD_NEW = "A host or phone host can choose to record, for example, meetings, webinars or calls."
ENDING = "Either party may end this agreement by written notice to the other party."
FILLERS_OLD = [
    f"Old section {w} describes fees, taxes and invoices for the plan." for w in "abcdef"
]
FILLERS_NEW = [
    f"New part {w} lists support hours and holiday closures in detail." for w in "uvwxyz"
]


def fake_embedder(old: list[str], new: list[str], close: dict[str, str]):
    """Unit vectors: texts of a `close` pair get almost the same direction, every other text its
    own; `close` maps a new text to the old text it means."""
    texts = sorted(set(old) | set(new))
    base = np.eye(len(texts), dtype=np.float32)
    vec = {t: base[k] for k, t in enumerate(texts)}
    for n, o in close.items():
        v = vec[o] + 0.2 * vec[n]
        vec[n] = v / np.linalg.norm(v)

    def embed(left_old, left_new):
        return np.stack([vec[old[i]] for i in left_old]), np.stack([vec[new[j]] for j in left_new])

    return embed


def test_meaning_candidates_top_k_above_min_cosine_in_blocks(monkeypatch):
    import train.align as align

    monkeypatch.setattr(align, "MEANING_BLOCK", 2)  # several blocks for five new rows
    rng = np.random.default_rng(0)
    old = rng.normal(size=(7, 4)).astype(np.float32)
    new = rng.normal(size=(5, 4)).astype(np.float32)
    old /= np.linalg.norm(old, axis=1, keepdims=True)
    new /= np.linalg.norm(new, axis=1, keepdims=True)
    got = align.meaning_candidates(old, new, min_cosine=0.2, k=3)
    sims = new @ old.T
    for row, rows in zip(sims, got, strict=True):
        want = [int(c) for c in np.argsort(-row)[:3] if row[c] >= 0.2]
        assert rows == want
    assert align.meaning_candidates(old[:0], new, 0.2) == [[] for _ in range(5)]


def test_alignment_pairs_a_moved_rewording_by_meaning_only_with_enough_shared_words():
    # The rewording moved from the top to the bottom of a restructured document: outside the
    # positional window and with too few shared word pairs for the lexical candidates.
    old = [RECORD_OLD, *FILLERS_OLD, ENDING]
    new = [*FILLERS_NEW, RECORD_NEW]
    without = kinds(old, new)
    assert ("added", None, 6) in without and ("removed", 0, None) in without
    stats = AlignmentStats()
    embed = fake_embedder(old, new, {RECORD_NEW: RECORD_OLD})
    paired = align_clauses(old, new, embed=embed, stats=stats)
    assert ("modified", 0, 6) in [(a.change, a.old, a.new) for a in paired]
    assert stats.meaning_candidates >= 1
    # As close in meaning but sharing only "the host can choose to" (word similarity 0.36, enough
    # for a pair proposed by position, not for one proposed by meaning alone): left apart.
    mute = "The host can choose to mute every guest in any of its large calls today."
    new_far = [*FILLERS_NEW, mute]
    embed = fake_embedder(old, new_far, {mute: RECORD_OLD})
    far = align_clauses(old, new_far, embed=embed)
    assert ("modified", 0, 6) not in [(a.change, a.old, a.new) for a in far]


OLD_GRANT = "We use your listening history to train our recommendations for you."
WIDER_GRANT = "Your uploads help us train machine learning models and generative AI systems."
SAME_GRANT = "Your playlists are used to train our recommendations as well."


@pytest.mark.parametrize(
    ("old_grant", "new_grant", "change"),
    [
        (OLD_GRANT, WIDER_GRANT, "widened"),  # the new one adds AI and model words
        (WIDER_GRANT, OLD_GRANT, "narrowed"),
        (OLD_GRANT, SAME_GRANT, "reworded"),  # says neither more nor less
    ],
)
def test_diff_grant_replaced_by_an_unpaired_one_is_judged_by_what_it_says(
    old_grant, new_grant, change
):
    # One flagged clause goes, another (too different to be paired with it) comes: as many
    # flagged clauses as before, so the wording decides, as it does for a reworded clause.
    result = diff_documents(
        FakePredictor(), doc(LICENCE, old_grant, CHANGE), doc(LICENCE, CHANGE, new_grant), "md"
    )
    assert result["counts"]["modified"] == 0
    ai = {c["label"]: c for c in result["label_changes"]}["ai_training"]
    assert (ai["change"], ai["old_flagged"], ai["new_flagged"]) == (change, 1, 1)
    assert [e["kind"] for e in ai["evidence"]] == ["gained", "lost"]


def test_diff_reports_newly_flagged_added_clause_and_scores_each_text_once():
    predictor = FakePredictor()
    result = diff_documents(
        predictor, doc(LICENCE, COLLECT, CHANGE), doc(LICENCE, COLLECT, TRAIN, CHANGE), "md"
    )
    assert result["counts"] == {"unchanged": 3, "moved": 0, "modified": 0, "added": 1, "removed": 0}
    # every distinct clause is scored once (unchanged ones tell whether a label was there before)
    assert sorted(predictor.scored) == sorted([LICENCE, COLLECT, CHANGE, TRAIN])
    ai = {c["label"]: c for c in result["label_changes"]}["ai_training"]
    assert (ai["change"], ai["old_flagged"], ai["new_flagged"]) == ("granted", 0, 1)
    assert [e["text"] for e in ai["evidence"]] == [TRAIN]
    [item] = result["newly_flagged"]
    assert (item["change"], item["text"], item["labels"], item["new_labels"]) == (
        "added",
        TRAIN,
        ["ai_training"],
        ["ai_training"],
    )
    assert item["scores"]["ai_training"] == pytest.approx(0.9)
    new_text = doc(LICENCE, COLLECT, TRAIN, CHANGE)
    assert new_text[item["start"] : item["end"]] == TRAIN
    assert result["no_longer_flagged"] == []


def test_lead_ins_follow_lists_and_their_nesting():
    texts = [
        "We collect data.",
        "You may not:",
        "copy the service;",
        "use the service to:",
        "train a model;",
        "or resell it.",
        "Other sentence.",
        "a lower-case clause after a sentence",
        "Other users are prohibited from using such content",
        "to train an artificial intelligence system,",
        "as input into a trained system, or",
        "to resell it.",
    ]
    assert lead_ins(texts) == [None, None, 1, 1, 3, 3, None, None, None, 8, 8, 8]


ITEM = "to train an artificial intelligence system,"


@pytest.mark.parametrize(
    ("lead_in", "change", "new_flagged"),
    [
        ("You may not use the service or its content:", "unchanged", 0),
        ("We may use the content you upload:", "granted", 1),
    ],
)
def test_diff_reads_a_list_item_with_its_lead_in(lead_in, change, new_flagged):
    # The stand-in flags the item on its own (it says "train"); joined to a prohibition ("not")
    # it is not flagged, so a user restriction added to a list is no grant.
    old = doc(LICENCE, lead_in, "- to copy the service;")
    new = doc(LICENCE, lead_in, "- to copy the service;", f"- {ITEM}")
    result = diff_documents(FakePredictor(), old, new, "md")
    ai = {c["label"]: c for c in result["label_changes"]}["ai_training"]
    assert (ai["change"], ai["new_flagged"]) == (change, new_flagged)
    [added] = [c for c in result["changes"] if c["change"] == "added"]
    assert added["new"]["text"] == ITEM and added["new"]["lead_in"] == lead_in
    assert ("ai_training" in added["new"]["labels"]) == bool(new_flagged)
    if new_flagged:
        assert ai["evidence"][0]["lead_in"] == lead_in
        [item] = result["newly_flagged"]
        assert item["lead_in"] == lead_in
        assert "read with its lead-in:</span> We may use the content you upload:" in render_html(
            [result]
        )
    else:
        assert added["new"]["scores"]["ai_training"] < 0.5 and result["newly_flagged"] == []


def test_diff_pairs_a_flagged_clause_rewritten_beyond_alignment_as_no_flip():
    # Too few shared words for the alignment to pair them: removed + added. Both carry
    # `ai_training` and sit close in meaning, so the label was kept in other words: no flip.
    old_grant = "We may use your uploads to train our models."
    new_grant = "Machine learning systems get trained with the files you provide to us."
    result = diff_documents(
        EmbeddingFakePredictor(), doc(LICENCE, old_grant), doc(LICENCE, new_grant), "md"
    )
    assert (result["counts"]["added"], result["counts"]["removed"]) == (1, 1)
    assert result["newly_flagged"] == [] and result["no_longer_flagged"] == []
    [pair] = result["reworded_flags"]
    assert (pair["label"], pair["text"], pair["old_text"]) == ("ai_training", new_grant, old_grant)
    assert pair["cosine"] >= 0.8
    assert "Still flagged, in other words (1)" in render_html([result])
    assert "~ still flagged ai_training" in format_step(result)
    # Without embeddings (or with meaning pairing off) they stay a flip each way.
    plain = diff_documents(FakePredictor(), doc(LICENCE, old_grant), doc(LICENCE, new_grant), "md")
    assert [x["text"] for x in plain["newly_flagged"]] == [new_grant]
    assert [x["text"] for x in plain["no_longer_flagged"]] == [old_grant]
    assert plain["reworded_flags"] == []


@pytest.mark.parametrize(("report", "change"), [(0.95, "unchanged"), (0.85, "granted")])
def test_diff_reports_a_grant_only_on_a_clause_at_the_report_threshold(report, change):
    # The stand-in scores TRAIN 0.9: flagged (threshold 0.5), but a grant only when the model's
    # report threshold for the label is no higher than that.
    predictor = FakePredictor()
    predictor.meta.report_thresholds = [report] + [0.5] * (len(LABELS) - 1)
    result = diff_documents(predictor, doc(LICENCE, COLLECT), doc(LICENCE, COLLECT, TRAIN), "md")
    ai = {c["label"]: c for c in result["label_changes"]}["ai_training"]
    assert (ai["change"], ai["old_flagged"], ai["new_flagged"]) == (change, 0, 1)
    # The clause-level list still shows the new flag.
    assert [x["text"] for x in result["newly_flagged"]] == [TRAIN]


class BatchDependentPredictor(FakePredictor):
    """An int8-like stand-in: a clause saying "train" scores 0.9 on its own but 0.45 when
    batched with others (as a batch's shared activation range can move a score)."""

    def __init__(self) -> None:
        super().__init__()
        self.backend_name = "onnx-int8"

    def predict_proba(self, texts, batch_size=64):
        probs = super().predict_proba(texts, batch_size)
        if len(texts) > 1:
            probs[probs[:, 0] == np.float32(0.9), 0] = 0.45
        return probs


def test_diff_scores_changed_clauses_near_a_threshold_again_on_their_own():
    old, new = doc(LICENCE, COLLECT), doc(LICENCE, COLLECT, TRAIN)
    predictor, timings = BatchDependentPredictor(), {}
    result = diff_documents(predictor, old, new, "md", timings=timings)
    ai = {c["label"]: c for c in result["label_changes"]}["ai_training"]
    # Batched, TRAIN scored 0.45 (just under 0.5); on its own, 0.9: the grant is reported.
    assert ai["change"] == "granted" and ai["evidence"][0]["score"] == pytest.approx(0.9)
    assert 1 in predictor.calls  # one clause scored alone
    assert timings["rescored"] == 1 and 0 <= timings["rescore_s"] <= timings["model_s"]
    # A backend whose scores do not depend on the batch is never asked twice.
    plain = FakePredictor()
    diff_documents(plain, old, new, "md")
    assert 1 not in plain.calls


# French that the stand-in flags (it says "training"): the model reads English only.
FRENCH_TRAIN = (
    "Nous utilisons vos contenus pour le training de nos modèles, "
    "conformément à la présente politique de confidentialité."
)


def test_diff_clause_in_another_language_never_grants():
    result = diff_documents(
        FakePredictor(), doc(LICENCE, CHANGE), doc(LICENCE, FRENCH_TRAIN, CHANGE), "md"
    )
    ai = {c["label"]: c for c in result["label_changes"]}["ai_training"]
    assert (ai["change"], ai["new_flagged"], ai["evidence"]) == ("unchanged", 0, [])
    assert result["newly_flagged"] == []
    [change] = result["changes"]
    assert change["new"]["labels"] == ["ai_training"] and change["new"]["ignored"]
    assert change["new"]["other_language"] and not change["new"]["heading"]
    # The same clause in English is a grant.
    result = diff_documents(
        FakePredictor(), doc(LICENCE, CHANGE), doc(LICENCE, TRAIN, CHANGE), "md"
    )
    assert {c["label"]: c for c in result["label_changes"]}["ai_training"]["change"] == "granted"


def test_diff_clause_reworded_into_another_language_is_not_withdrawn():
    result = diff_documents(FakePredictor(), doc(TRAIN, CHANGE), doc(FRENCH_TRAIN, CHANGE), "md")
    ai = {c["label"]: c for c in result["label_changes"]}["ai_training"]
    # The English grant is gone and nothing readable replaced it: withdrawn, with the English
    # clause as evidence and the French one never counted as carrying the label.
    assert (ai["change"], ai["old_flagged"], ai["new_flagged"]) == ("withdrawn", 1, 0)
    assert [e["text"] for e in ai["evidence"]] == [TRAIN]


def test_diff_stance_flip_is_modified_and_no_longer_flagged():
    predictor = FakePredictor()
    result = diff_documents(
        predictor, doc(LICENCE, TRAIN, CHANGE), doc(LICENCE, NO_TRAIN, CHANGE), "md"
    )
    assert result["counts"]["modified"] == 1
    assert result["newly_flagged"] == []
    [item] = result["no_longer_flagged"]
    assert item["change"] == "modified"
    assert (item["text"], item["labels"], item["lost_labels"]) == (
        TRAIN,
        ["ai_training"],
        ["ai_training"],
    )
    assert (item["new_text"], item["new_text_labels"]) == (NO_TRAIN, [])
    assert sorted(predictor.scored) == sorted([LICENCE, TRAIN, CHANGE, NO_TRAIN])
    ai = {c["label"]: c for c in result["label_changes"]}["ai_training"]
    assert (ai["change"], [e["kind"] for e in ai["evidence"]]) == ("withdrawn", ["lost"])

    reverse = diff_documents(FakePredictor(), doc(LICENCE, NO_TRAIN), doc(LICENCE, TRAIN), "md")
    [item] = reverse["newly_flagged"]
    assert (item["change"], item["old_text"], item["old_labels"]) == ("modified", NO_TRAIN, [])


def test_diff_modified_clause_keeps_old_labels_out_of_new_labels():
    old = "We may use your content to train our AI models."
    new = "We may use your content to train our AI models under a perpetual licence."
    result = diff_documents(FakePredictor(), doc(old), doc(new), "md")
    [item] = result["newly_flagged"]
    assert item["labels"] == ["ai_training", "content_license"]
    assert item["new_labels"] == ["content_license"]  # ai_training was already there


def test_diff_moved_and_removed_clauses():
    predictor = FakePredictor()
    result = diff_documents(
        predictor, doc(TRAIN, LICENCE, CHANGE, OPT_OUT), doc(LICENCE, CHANGE, TRAIN), "md"
    )
    assert result["counts"] == {"unchanged": 2, "moved": 1, "modified": 0, "added": 0, "removed": 1}
    assert result["newly_flagged"] == []  # a moved flagged clause is not new
    assert sorted(predictor.scored) == sorted([TRAIN, LICENCE, CHANGE, OPT_OUT])
    # reading order of the new version; the removed clause sits after its old neighbour CHANGE
    assert [c["change"] for c in result["changes"]] == ["removed", "moved"]

    dropped = diff_documents(FakePredictor(), doc(LICENCE, TRAIN), doc(LICENCE), "md")
    [item] = dropped["no_longer_flagged"]
    assert (item["change"], item["lost_labels"], "new_text" in item) == (
        "removed",
        ["ai_training"],
        False,
    )


def test_diff_html_versions(tmp_path):
    old = "<html><body><h1>Terms</h1><p>We collect your location and <b>device</b> information.</p></body></html>"
    new = old.replace("</p>", "</p><p>We may use your content to <i>train</i> our AI models.</p>")
    result = diff_documents(FakePredictor(), old, new, "html")
    assert [i["text"] for i in result["newly_flagged"]] == [
        "We may use your content to train our AI models."
    ]


@pytest.fixture
def versions(tmp_path) -> SimpleNamespace:
    (tmp_path / "old.md").write_text(doc(LICENCE, COLLECT, CHANGE), encoding="utf-8")
    (tmp_path / "new.md").write_text(doc(LICENCE, COLLECT, TRAIN, CHANGE), encoding="utf-8")
    (tmp_path / "fixed.md").write_text(doc(LICENCE, COLLECT, NO_TRAIN, CHANGE), encoding="utf-8")
    return SimpleNamespace(
        old=tmp_path / "old.md", new=tmp_path / "new.md", fixed=tmp_path / "fixed.md"
    )


def test_cli_fail_on_exits_1_only_for_new_flags(versions, tmp_path, capsys):
    argv = ["--model", "unused", "--fail-on", "ai_training"]
    assert main([*argv, str(versions.old), str(versions.new)], predictor=FakePredictor()) == 1
    captured = capsys.readouterr()
    assert "NEWLY FLAGGED ai_training" in captured.out and "FAIL" in captured.err
    # the flag disappearing (and no --fail-on label appearing) is not a failure
    assert main([*argv, str(versions.new), str(versions.fixed)], predictor=FakePredictor()) == 0
    assert "no longer flagged ai_training" in capsys.readouterr().out
    assert (
        main(["--model", "unused", str(versions.old), str(versions.new)], predictor=FakePredictor())
        == 0
    )
    argv = ["--model", "unused", "--fail-on", "content_license"]
    assert main([*argv, str(versions.old), str(versions.new)], predictor=FakePredictor()) == 0


def test_cli_fail_on_unknown_label_exits_2(versions, capsys):
    argv = ["--model", "unused", "--fail-on", "ai-training", str(versions.old), str(versions.new)]
    assert main(argv, predictor=FakePredictor()) == 2
    assert "unknown label(s) ai-training" in capsys.readouterr().err


def test_cli_writes_json_and_html(versions, tmp_path):
    out_json, out_html = tmp_path / "r" / "diff.json", tmp_path / "r" / "diff.html"
    argv = ["--model", "unused", str(versions.old), str(versions.new), "--json", str(out_json)]
    assert main([*argv, "--html", str(out_html)], predictor=FakePredictor()) == 0
    result = json.loads(out_json.read_text())
    assert (result["old"], result["new"]) == (str(versions.old), str(versions.new))
    assert [i["text"] for i in result["newly_flagged"]] == [TRAIN]
    assert set(result["newly_flagged"][0]) >= {"text", "labels", "new_labels", "scores", "change"}
    assert result["no_longer_flagged"] == []
    html = out_html.read_text()
    assert "<h3>Newly flagged (1)</h3>" in html and TRAIN in html


def test_cli_errors_exit_2(versions, tmp_path, capsys):
    assert main(["--model", "unused", str(versions.old)], predictor=FakePredictor()) == 2
    (tmp_path / "bin.md").write_bytes(b"\x00\x01binary")
    assert (
        main(
            ["--model", "unused", str(versions.old), str(tmp_path / "bin.md")],
            predictor=FakePredictor(),
        )
        == 2
    )
    assert "binary" in capsys.readouterr().err
    assert main(["--model", str(tmp_path / "no-model"), str(versions.old), str(versions.new)]) == 2
    assert "no model found" in capsys.readouterr().err


def test_version_dates_and_history_order(tmp_path, capsys):
    assert version_date("2023-03-01-zoom.md").isoformat() == "2023-03-01"
    assert version_date("zoom_20230807.html").isoformat() == "2023-08-07"
    assert version_date("terms-v2.md") is None
    # name order differs from date order: "2023-03..." < "20230101..." < "tos-2023..."
    (tmp_path / "20230101-tos.txt").write_text(doc(LICENCE, COLLECT, title="Terms"))
    (tmp_path / "2023-03-01_tos.md").write_text(doc(LICENCE, COLLECT, TRAIN))
    (tmp_path / "tos-2023-08-07.md").write_text(doc(LICENCE, COLLECT, NO_TRAIN))
    (tmp_path / "README.md").write_text("Versions of the terms.")
    history = diff_history(FakePredictor(), tmp_path)
    assert [Path(v["path"]).name for v in history["versions"]] == [
        "20230101-tos.txt",
        "2023-03-01_tos.md",
        "tos-2023-08-07.md",
    ]
    first, second = history["steps"]
    assert (first["old_date"], first["new_date"]) == ("2023-01-01", "2023-03-01")
    assert [i["text"] for i in first["newly_flagged"]] == [TRAIN]
    assert [i["text"] for i in second["no_longer_flagged"]] == [TRAIN]
    assert second["newly_flagged"] == []
    # --fail-on over the whole history (the folder form of `make diff OLD=folder`)
    argv = ["--model", "unused", "--fail-on", "ai_training", str(tmp_path)]
    assert main(argv, predictor=FakePredictor()) == 1
    out = capsys.readouterr().out
    assert out.index("20230101-tos.txt ->") < out.index("2023-03-01_tos.md -> ")


def test_real_model_through_the_cli(versions, tmp_path, tiny_trained_model, capsys):
    """The tiny fine-tuned model through ClausePredictor (torch), with --fail-on written before
    OLD NEW: the option takes one value, the paths stay paths."""
    out_json = tmp_path / "d.json"
    argv = ["--model", str(tiny_trained_model), "--backend", "torch", "--json", str(out_json)]
    status = main([*argv, "--fail-on", "ai_training", str(versions.old), str(versions.new)])
    result = json.loads(out_json.read_text())
    assert result["counts"] == {"unchanged": 3, "moved": 0, "modified": 0, "added": 1, "removed": 0}
    flagged = [i for i in result["newly_flagged"] if "ai_training" in i["new_labels"]]
    assert status == (1 if flagged else 0), capsys.readouterr().err
    assert all(set(i["scores"]) == set(LABELS) for i in result["newly_flagged"])


@pytest.mark.parametrize(
    ("target", "variables", "expected"),
    [
        (
            "diff",
            {"OLD": "a b.txt; touch x;", "NEW": "it's new.md"},
            ["a b.txt; touch x;", "it's new.md"],
        ),
        ("predict", {"INPUT": "My Docs/*.md", "OUTPUT": "out dir"}, ["out dir", "My Docs/*.md"]),
        (
            "watch",
            {"INPUT": "Terms; touch x;", "OUTPUT": "out dir"},
            ["out dir", "Terms; touch x;"],
        ),
        (
            "watch",
            {"OLD": "2023 snap", "NEW": 'now "b"', "OUTPUT": "o"},
            ["2023 snap", 'now "b"', "o"],
        ),
    ],
)
def test_makefile_passes_paths_as_single_quoted_arguments(target, variables, expected):
    """Paths with spaces or shell syntax reach the script as one argument each and run nothing."""
    import shlex

    argv = [f"{k}={v}" for k, v in variables.items()]
    out = (
        subprocess.run(
            ["make", "-n", "--no-print-directory", target, *argv, "ARGS=--fail-on ai_training"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    words = shlex.split(out)
    for value in expected:
        assert value in words
    if target == "diff":  # options come after the two paths
        assert words[-2:] == ["--fail-on", "ai_training"]


def test_fail_on_takes_commas_and_repeats(versions, capsys):
    argv = ["--model", "unused", "--fail-on", "content_license,ai_training", "--fail-on"]
    assert main([*argv, "terms_change", str(versions.old), str(versions.new)], FakePredictor()) == 1
    # One value per --fail-on: a second word is a path, and a missing path is an error.
    argv = ["--model", "unused", "--fail-on", "ai_training", "data_sharing", str(versions.old)]
    assert main(argv, FakePredictor()) == 2
    assert "no such file" in capsys.readouterr().err


def test_grant_wording_is_weighed_term_by_term():
    # Each side is one long match of the label's phrase patterns; counted term by term the new
    # wording adds training, machine learning and models to "recommendation algorithms".
    from train.label_changes import _replacement_direction, label_terms

    old = "we use personal data to develop and improve our personalized recommendation algorithms"
    new = (
        "This includes development and training of algorithmic and machine learning models, "
        "which help us to keep our service safe and enhance our users' experience."
    )
    terms = label_terms("ai_training")
    assert _replacement_direction([{"text": new}], [{"text": old}], terms) == "widened"
    assert _replacement_direction([{"text": old}], [{"text": new}], terms) == "narrowed"
    # A use verb counts only with the system it is about: "develop new features" adds nothing.
    before = "we make suggestions based on predictive models, or to create new features"
    after = "we make suggestions based on predictive models, or to create and develop new features"
    assert _replacement_direction([{"text": after}], [{"text": before}], terms) == "reworded"
    wider = "We may use your uploads to train and improve our AI models and products."
    narrower = "We may use your uploads to train our AI models."
    assert _replacement_direction([{"text": wider}], [{"text": narrower}], terms) == "widened"
