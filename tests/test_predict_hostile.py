"""Hostile inputs to batch inference (`train.predict`, `scripts/predict.py`), issue 12: damaged
UTF-8, one huge document, earlier output folders among the inputs, two runs into one folder,
malformed CSV, colliding ids, a max_length beyond the model, Chinese and Japanese documents, and
the exit statuses. Deterministic fake predictors keep these fast; the tiny model only where the
real loading path matters."""

from __future__ import annotations

import csv
import json
import logging
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from fakes import LABELS, FakePredictor

import train.documents as documents
import train.predict as predict
import train.predict_scoring as predict_scoring
import train.predict_units as predict_units
from train.documents import read_document
from train.errors import RunError
from train.outputs import LOCK_FILE, temp_path_beside
from train.predict import main, predict_corpus
from train.predictor import max_chars_for, position_limit


def run(tmp_path: Path, inputs, out: Path | None = None, **kwargs) -> SimpleNamespace:
    """predict_corpus with a FakePredictor; the outputs read back."""
    out = out or tmp_path / "out"
    predictor = kwargs.pop("predictor", None) or FakePredictor()
    summary = predict_corpus(tmp_path, inputs, out, predictor=predictor, progress=False, **kwargs)
    return SimpleNamespace(
        summary=summary,
        predictor=predictor,
        clauses=read_jsonl(out / "clauses.jsonl"),
        documents=read_csv(out / "documents.csv"),
        skipped=read_csv(out / "skipped.csv"),
    )


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def reasons(skipped: list[dict]) -> dict[tuple[str, str], str]:
    return {(Path(r["path"]).name, r["line"]): r["reason"] for r in skipped}


# ---------------------------------------------------------------------------------------------
# Case 6: one invalid byte must not turn a UTF-8 document into cp1252 mojibake
# ---------------------------------------------------------------------------------------------

UTF8_TEXT = "We don\u2019t sell your \u201cpersonal data\u201d to anyone, caf\u00e9 or not.\n"


@pytest.mark.parametrize(
    ("data", "kept", "encoding", "warning"),
    [
        pytest.param(
            b"\xff" + UTF8_TEXT.encode(), UTF8_TEXT, "utf-8", "1 invalid UTF-8 byte", id="start"
        ),
        pytest.param(
            UTF8_TEXT.encode().replace(b"sell", b"se\xffll"),
            UTF8_TEXT.replace("sell", "se\ufffdll"),
            "utf-8",
            "1 invalid UTF-8 byte replaced",
            id="middle",
        ),
        pytest.param(
            UTF8_TEXT.encode() + b"\xe2\x80 end\n",  # a character cut short: two bad bytes
            UTF8_TEXT,
            "utf-8",
            "2 invalid UTF-8 bytes",
            id="truncated-character",
        ),
        pytest.param(
            (UTF8_TEXT * 50).encode() + b"\xff",
            UTF8_TEXT * 50,
            "utf-8",
            "1 invalid UTF-8 byte",
            id="end-of-long-text",
        ),
        pytest.param(
            "We keep your r\u00e9sum\u00e9 at the caf\u00e9.\n".encode("latin-1"),
            "We keep your r\u00e9sum\u00e9 at the caf\u00e9.",
            "cp1252",
            "not valid UTF-8; decoded as cp1252",
            id="latin-1-stays-cp1252",
        ),
        pytest.param(UTF8_TEXT.encode(), UTF8_TEXT, "utf-8", None, id="valid-utf-8-no-warning"),
    ],
)
def test_damaged_utf8_keeps_its_valid_text(tmp_path, data, kept, encoding, warning):
    (tmp_path / "doc.txt").write_bytes(data)
    decoded = read_document(tmp_path / "doc.txt")
    assert kept in decoded.text
    assert "\u00e2\u20ac" not in decoded.text  # no "â€" mojibake
    assert decoded.encoding == encoding
    if warning is None:
        assert decoded.warning is None
    else:
        assert warning in decoded.warning


def test_clause_file_with_a_bad_byte_keeps_its_quotes(tmp_path):
    line = json.dumps(
        {"id": "a", "text": "we don\u2019t train on \u201cyour\u201d data"}, ensure_ascii=False
    )
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "c.jsonl").write_bytes(
        line.encode() + b"\n" + b'{"id": "b", "text": "we keep logs \xff for years"}\n'
    )
    result = run(tmp_path, [tmp_path / "in"])
    texts = [c["text"] for c in result.clauses]
    assert texts == [
        "we don\u2019t train on \u201cyour\u201d data",
        "we keep logs \ufffd for years",
    ]
    assert "1 invalid UTF-8 byte" in result.documents[0]["note"]


# ---------------------------------------------------------------------------------------------
# Case 7: a large document is segmented and scored in bounded blocks, with the same result
# ---------------------------------------------------------------------------------------------


def _paragraphs(n: int) -> str:
    return "".join(
        f"We may use your content number {i} to train our models. "
        f"We collect your location and device information for service {i}.\n\n"
        for i in range(n)
    )


def _lines(n: int) -> str:  # no blank lines: windows must be cut between lines
    return "".join(f"We share your information with partner number {i} today.\n" for i in range(n))


def _markdown(n: int) -> str:
    rows = "".join(f"| cookie {i} | We keep cookie number {i} for two years. |\n" for i in range(n))
    return "# Privacy\n\n## Cookies\n| name | use |\n|---|---|\n" + rows + "\n" + _paragraphs(n)


def _one_line(n: int) -> str:  # one huge line: cut at sentence ends
    return " ".join(f"We sell your data to broker number {i}." for i in range(n)) + "\n"


@pytest.mark.parametrize(
    ("name", "text", "min_clauses"),
    [
        ("paragraphs.txt", _paragraphs(60), 120),
        ("lines.txt", _lines(100), 100),
        ("tables.md", _markdown(40), 120),
        ("one-line.txt", _one_line(80), 80),
    ],
)
def test_large_document_is_scored_in_bounded_blocks(tmp_path, monkeypatch, name, text, min_clauses):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / name).write_text(text, encoding="utf-8")
    whole = run(tmp_path, [tmp_path / "in"], tmp_path / "whole", block_size=10**6)
    assert len(whole.clauses) >= min_clauses

    windows: list[int] = []  # characters given to the segmenter at a time
    chunks: list[int] = []  # clauses scored together
    from train import segment

    real_segment, real_score = segment.segment_text, predict_scoring._score_chunk

    def spy_segment(piece, **kwargs):
        windows.append(len(piece))
        return real_segment(piece, **kwargs)

    def spy_score(predictor, chunk, batch_size):
        chunks.append(sum(len(u.clauses) for u in chunk))
        return real_score(predictor, chunk, batch_size)

    monkeypatch.setattr(segment, "segment_text", spy_segment)
    monkeypatch.setattr(predict_scoring, "_score_chunk", spy_score)
    monkeypatch.setattr(predict_units, "SEGMENT_WINDOW", 300)
    split = run(
        tmp_path,
        [tmp_path / "in"],
        tmp_path / "split",
        block_size=7,
        max_chunk_clauses=7,
        docs_per_chunk=1,
    )
    assert len(chunks) >= len(whole.clauses) // 7 and max(chunks) <= 7
    assert len(windows) > 5 and max(windows) <= 2 * 300 + 200  # never the whole text at once
    assert split.clauses == whole.clauses  # same clauses, offsets and scores
    counts = ["clauses", "flagged_clauses", *LABELS]
    assert [{k: d[k] for k in counts} for d in split.documents] == [
        {k: d[k] for k in counts} for d in whole.documents
    ]


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_forward_passes_hold_a_bounded_number_of_tokens(tiny_trained_model, backend, tmp_path):
    """On CPU both backends bound each padded batch (clauses x longest clause) by
    `MAX_BATCH_TOKENS`: a corpus of long clauses never makes one huge forward pass, and the
    probabilities are those of unbounded batches, in input order."""
    from train.inference import MAX_BATCH_TOKENS, ClausePredictor

    model = tiny_trained_model
    if backend == "onnx":
        from train.export import export_model

        result = export_model(tiny_trained_model, output_dir=tmp_path / "export", skip_int8=True)
        model = Path(result["export_dir"])
    predictor = ClausePredictor(model, backend=backend)
    texts = ["long clause " * 200] * 9 + [f"short clause {i}" for i in range(150)]
    shapes = []
    if backend == "torch":
        inner = predictor.backend.model.forward
        predictor.backend.model.forward = lambda **kw: (
            shapes.append(tuple(kw["input_ids"].shape)) or inner(**kw)
        )
    else:
        inner = predictor.backend.session.run
        predictor.backend.session.run = lambda names, feed: (
            shapes.append(feed["input_ids"].shape) or inner(names, feed)
        )
    probs = predictor.predict_proba(texts, batch_size=64)
    assert predictor.backend.max_batch_tokens == MAX_BATCH_TOKENS
    longest = predictor.meta.max_length
    assert shapes[0] == (MAX_BATCH_TOKENS // longest, longest)  # long clauses: few at a time
    assert all(n * length <= max(MAX_BATCH_TOKENS, length) for n, length in shapes)
    assert max(n for n, _ in shapes) == 64  # short ones still batch_size at a time
    assert sum(n for n, _ in shapes) == len(texts)
    predictor.backend.max_batch_tokens = 0  # unbounded: same numbers
    assert np.abs(predictor.predict_proba(texts, batch_size=64) - probs).max() <= 1e-5


def test_large_document_resumes_after_its_last_committed_block(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "big.txt").write_text(_paragraphs(20), encoding="utf-8")
    kwargs = dict(block_size=5, max_chunk_clauses=5, docs_per_chunk=1)
    killed = FakePredictor()
    killed.fail_on_call = 4  # blocks 0-2 committed (15 clauses), then a kill
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, [tmp_path / "in"], predictor=killed, **kwargs)
    resumed = run(tmp_path, [tmp_path / "in"], **kwargs)
    assert len(resumed.predictor.scored) == 40 - 15
    whole = run(tmp_path, [tmp_path / "in"], tmp_path / "whole")
    assert resumed.clauses == whole.clauses


# ---------------------------------------------------------------------------------------------
# Case 8: earlier output folders among the inputs are not scored again
# ---------------------------------------------------------------------------------------------


def _corpus_with_old_output(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "a.txt").write_text("We may use your content to train our models.\n")
    (corpus / "sub" / "b.md").write_text("We collect your location and device information.\n")
    run(tmp_path, [corpus], corpus / "sub" / "old-out")
    assert (corpus / "sub" / "old-out" / "clauses.jsonl").is_file()
    return corpus


@pytest.mark.parametrize(
    "make_inputs",
    [
        pytest.param(lambda c: [c], id="folder"),
        pytest.param(lambda c: [str(c / "**")], id="glob-everything"),
        pytest.param(
            lambda c: [str(c / "**" / "*.jsonl"), c / "a.txt", c / "sub"], id="glob+mixed"
        ),
    ],
)
def test_earlier_output_folder_is_skipped_with_a_reason(tmp_path, make_inputs):
    corpus = _corpus_with_old_output(tmp_path)
    result = run(tmp_path, make_inputs(corpus), tmp_path / "new-out")
    scored = {Path(d["doc_id"]).name for d in result.documents}
    assert not scored & {"clauses.jsonl", "report.html", "documents.csv"}
    assert not any("old-out" in d["doc_id"] for d in result.documents)
    assert "a.txt" in scored
    rows = [r for r in result.skipped if r["path"].endswith("old-out")]
    assert len(rows) == 1 and "earlier predict output folder" in rows[0]["reason"]


def test_the_current_output_folder_is_never_walked(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("We may use your content to train our models.\n")
    out = corpus / "out"
    run(tmp_path, [corpus], out)
    walked: list[str] = []
    real_walk = documents.os.walk

    def spy(top, *args, **kwargs):
        for root, dirs, files in real_walk(top, *args, **kwargs):
            walked.append(root)
            yield root, dirs, files

    monkeypatch.setattr(documents.os, "walk", spy)
    again = run(tmp_path, [corpus], out, overwrite=True)
    assert [d["doc_id"] for d in again.documents] == [_id(corpus / "a.txt")]
    assert not any(Path(w).resolve() == out.resolve() or "parts" in w for w in walked)
    assert not again.skipped  # the current output folder is left out silently


def _id(path: Path) -> str:
    return documents._doc_id(path.resolve())


# ---------------------------------------------------------------------------------------------
# Case 9: a second run into a folder in use stops with status 2 and damages nothing
# ---------------------------------------------------------------------------------------------


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != LOCK_FILE
    }


@pytest.mark.parametrize("extra", [[], ["--overwrite"]])
def test_second_run_into_a_locked_folder_exits_2(tmp_path, tiny_trained_model, capsys, extra):
    from filelock import FileLock

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("We collect your location and device information.\n")
    out = tmp_path / "out"
    argv = ["--model", str(tiny_trained_model), "--no-progress", "--output", str(out)]
    assert main([*argv, str(tmp_path / "in")]) == 0
    before = _snapshot(out)
    capsys.readouterr()
    with FileLock(out / LOCK_FILE):  # another run is writing into the folder
        assert main([*argv, *extra, str(tmp_path / "in")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: another predict run is writing into")
    assert "choose another --output" in err
    assert _snapshot(out) == before
    assert main([*argv, str(tmp_path / "in")]) == 0  # released: the folder works again


def test_temporary_names_are_unique_per_process_and_call(tmp_path):
    names = {temp_path_beside(tmp_path / "clauses.jsonl").name for _ in range(20)}
    assert len(names) == 20
    assert all(n.startswith(".clauses.jsonl.") and n.endswith(".tmp") for n in names)


# ---------------------------------------------------------------------------------------------
# Case 11: a CSV field with a missing closing quote never swallows the rows after it
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "scored_ids", "skipped_line", "reason_part"),
    [
        pytest.param(
            'id,text\nc0,we keep logs for years\nc1,"we keep data\nc2,we share data\nc3,we sell data\n',
            ["c0"],
            "3",
            "unterminated quote",
            id="open-until-end-of-file",
        ),
        pytest.param(
            'id,text\nc1,"we keep data\nc2,we share data\nc3,"we sell data"\nc4,we delete data\n',
            ["c4"],
            "2",
            "unterminated quote",
            id="closed-by-a-later-quoted-row",
        ),
        pytest.param(
            'id,text\nc1,"we keep data\nc2,we share data\nc3,we sell data"\nc4,we delete data\n',
            ["c4"],
            "2",
            "look like rows",
            id="closed-by-a-stray-quote",
        ),
        pytest.param(
            "id,text\nc1,we collect, share and sell your data\nc2,we delete data\n",
            ["c2"],
            "2",
            "unquoted comma",
            id="unquoted-comma",
        ),
        pytest.param(
            'id,text\nc1,"We collect:\nName, email address"\nc2,"we say ""no"" to brokers"\n',
            ["c1", "c2"],
            None,
            None,
            id="legit-field-with-a-comma-line",
        ),
        pytest.param(
            'id,text\nc1,"we keep data\nfor two years"\nc2,"we say ""no"" to brokers"\n',
            ["c1", "c2"],
            None,
            None,
            id="legit-multi-line-field",
        ),
    ],
)
def test_malformed_csv_records_are_listed_not_merged(
    tmp_path, content, scored_ids, skipped_line, reason_part
):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "c.csv").write_text(content, encoding="utf-8")
    result = run(tmp_path, [tmp_path / "in"])
    assert [c["id"] for c in result.clauses] == scored_ids
    if skipped_line is None:
        assert result.skipped == []
        return
    assert not any("c2," in c["text"] or "c3," in c["text"] for c in result.clauses)
    got = reasons(result.skipped)
    assert reason_part in got[("c.csv", skipped_line)]


# ---------------------------------------------------------------------------------------------
# Case 12: unique ids, max_length beyond the model, Chinese and Japanese
# ---------------------------------------------------------------------------------------------


def _jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def _rec(i: int, rid=None) -> dict:
    r = {"text": f"we retain record {i} for years"}
    if rid is not None:
        r["id"] = rid
    return r


@pytest.mark.parametrize(
    ("records", "ids", "skipped"),
    [
        pytest.param([_rec(1, 8), _rec(2, "8")], ["8"], {"2": "duplicate id '8'"}, id="8-and-'8'"),
        pytest.param(
            [_rec(1, "8"), *[_rec(i) for i in range(2, 9)]],
            ["8", *[f"line-{i}" for i in range(2, 9)]],
            {},
            id="generated-id-of-line-8-vs-explicit-8",
        ),
        pytest.param(
            [_rec(1, "line-3"), _rec(2, "x"), _rec(3)],
            ["line-3", "x", "line-3-2"],
            {},
            id="explicit-line-id-first",
        ),
        pytest.param(
            [_rec(1), _rec(2, "line-1")],
            ["line-1"],
            {"2": "duplicate id 'line-1'"},
            id="explicit-line-id-after",
        ),
        pytest.param(
            [_rec(1, ""), _rec(2, None), _rec(3, 3)],
            ["line-1", "line-2", "3"],
            {},
            id="empty-and-null-ids-are-generated",
        ),
    ],
)
def test_ids_are_unique_within_a_clause_file(tmp_path, records, ids, skipped):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "r.jsonl").write_text(_jsonl(records), encoding="utf-8")
    result = run(tmp_path, [tmp_path / "in"])
    assert [c["id"] for c in result.clauses] == ids
    got = reasons(result.skipped)
    for line, reason in skipped.items():
        assert got[("r.jsonl", line)].startswith(reason)
    assert len(result.skipped) == len(skipped)


def test_csv_generated_ids_do_not_collide(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "c.csv").write_text(
        "id,text\n3,we keep data for years\n,we share data with partners\n3,we sell data\n",
        encoding="utf-8",
    )
    result = run(tmp_path, [tmp_path / "in"])
    assert [c["id"] for c in result.clauses] == ["3", "line-3"]
    assert reasons(result.skipped)[("c.csv", "4")].startswith("duplicate id '3'")


@pytest.mark.parametrize(
    ("config", "limit"),
    [
        ({"model_type": "bert", "max_position_embeddings": 512}, 512),
        ({"model_type": "roberta", "max_position_embeddings": 514, "pad_token_id": 1}, 512),
        (
            {
                "model_type": "deberta-v2",
                "max_position_embeddings": 512,
                "position_biased_input": False,
            },
            None,
        ),
        ({"model_type": "bert"}, None),
        (None, None),
    ],
)
def test_position_limit_from_config(tmp_path, config, limit):
    if config is not None:
        (tmp_path / "config.json").write_text(json.dumps(config))
    assert position_limit(tmp_path) == limit


def test_max_length_beyond_the_model_is_clamped_at_load(tmp_path, tiny_trained_model, caplog):
    model = tmp_path / "model"
    shutil.copytree(tiny_trained_model, model)
    meta = json.loads((model / "clausewatch.json").read_text())
    meta["max_length"] = 512  # the tiny model has 64 positions
    (model / "clausewatch.json").write_text(json.dumps(meta))
    long_clause = " ".join(["we collect your location and device information"] * 30) + "."
    (tmp_path / "a.txt").write_text(long_clause + "\n")
    with caplog.at_level(logging.WARNING, logger="clausewatch.batch"):
        summary = predict_corpus(
            model, [tmp_path / "a.txt"], tmp_path / "out", backend="torch", progress=False
        )
    assert any("max_length 512" in m and "64 positions" in m for m in caplog.messages)
    assert read_csv(tmp_path / "out" / "skipped.csv") == []  # no "scoring failed" record
    assert summary["clauses"] >= 1
    run_info = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run_info["max_chars"] == max_chars_for(64)


@pytest.mark.parametrize(
    ("name", "text", "language", "first"),
    [
        (
            "zh.txt",
            "隐私政策\n\n我们会收集您的位置信息和设备信息。我们可能与广告商和合作伙伴共享您的信息！"
            "您可以随时要求删除您的数据吗？\n",
            "zh",
            "我们会收集您的位置信息和设备信息。",
        ),
        (
            "ja.txt",
            "プライバシーポリシー\n\n当社はお客様の位置情報と端末情報を収集します。"
            "当社はお客様のデータを広告主と共有することがあります。\n",
            "ja",
            "当社はお客様の位置情報と端末情報を収集します。",
        ),
    ],
)
def test_chinese_and_japanese_documents_are_segmented(tmp_path, name, text, language, first):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / name).write_text(text, encoding="utf-8")
    result = run(tmp_path, [tmp_path / "in"])
    [doc] = result.documents
    assert int(doc["clauses"]) >= 2
    assert result.clauses[0]["text"] == first  # the title is not a clause
    assert (doc["language"], doc["mostly_non_english"]) == (language, "1")
    prepared = (tmp_path / "in" / name).read_text(encoding="utf-8")
    for c in result.clauses:
        assert prepared[c["start"] : c["end"]] == c["text"]


# ---------------------------------------------------------------------------------------------
# Exit statuses
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "last_line"),
    [
        (RunError("output path x is not a folder"), 2, "error: output path x is not a folder"),
        (ValueError("boom"), 3, "internal error: ValueError: boom"),
        (KeyError("k"), 3, "internal error: KeyError: 'k'"),
        (KeyboardInterrupt(), 130, "interrupted: rerun the same command to resume"),
    ],
)
def test_exit_status_of_failures(tmp_path, monkeypatch, capsys, error, status, last_line):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(predict, "predict_corpus", fail)
    argv = ["--model", str(tmp_path), "--output", str(tmp_path / "o"), str(tmp_path)]
    assert main(argv) == status
    assert capsys.readouterr().err.strip().splitlines()[-1] == last_line


def test_usage_error_exits_2_and_the_epilog_documents_the_statuses(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--output", "o"])
    assert exc.value.code == 2
    epilog = predict.build_parser().epilog
    for part in ("0 the run finished", "2 usage or input error", "3 internal error"):
        assert part in epilog
