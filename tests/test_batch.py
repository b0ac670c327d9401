"""Batch inference (`train.predict`, `scripts/predict.py`) on the tiny fine-tuned model: every input
format, offsets, outputs, bad files, encodings, language, resume after a kill, and the CLI."""

from __future__ import annotations

import csv
import json
import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from fakes import LABELS, FakePredictor

from train.documents import SkipDocument, expand_inputs, read_document
from train.errors import RunError
from train.predict import main, predict_corpus
from train.predictor import max_chars_for
from train.segment import prepare_text

REPO = Path(__file__).resolve().parent.parent

POLICY_MD = """# Privacy Policy

## 1. Information we collect
1. We collect your location and device information when you use the service.
2. We share your information with advertisers and partners for marketing.

- You can opt out and request access to export your data in settings.
* We retain your data for years after account closure.

Short.
"""

TERMS_HTML = """<html><head><title>Terms</title><style>p {color: red}</style></head><body>
<nav>Home | About</nav><h1>Terms of Service</h1>
<p>We may use your content to <b>train</b> our artificial intelligence models.</p>
<ul><li>You grant us a worldwide perpetual licence to your content.</li>
<li>We may change these terms at any time and continued use means acceptance.</li></ul>
<script>var tracking = "We collect everything you type";</script></body></html>
"""

LONG_SENTENCE = (
    "We collect your location and device information, "
    + ", ".join(f"including data point number {i} that the service records" for i in range(40))
    + "."
)

FRENCH = (
    "Nous collectons vos données personnelles lorsque vous utilisez le service.\n\n"
    "Nous partageons vos informations avec nos partenaires commerciaux et annonceurs.\n\n"
    "Vous pouvez demander la suppression de vos données à tout moment.\n"
)


def write_corpus(root: Path) -> Path:
    """A small mixed corpus: documents, clause files, and bad files."""
    docs = root / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "policy.md").write_text(POLICY_MD, encoding="utf-8")
    (docs / "sub" / "terms.html").write_text(TERMS_HTML, encoding="utf-8")
    (docs / "long.txt").write_text(LONG_SENTENCE + "\n", encoding="utf-8")
    (docs / "french.txt").write_text(FRENCH, encoding="utf-8")
    (docs / "latin1.txt").write_bytes(
        "We collect your résumé and location when you apply at the café.\n".encode("latin-1")
    )
    (docs / "binary.txt").write_bytes(b"\x00\x01\x02\x03PK binary \x00 stuff" * 20)
    (docs / "empty.md").write_text("  \n\n", encoding="utf-8")
    (docs / "image.png").write_bytes(b"\x89PNG\r\n")
    (docs / "clauses.csv").write_text(
        'id,text\nc1,"we keep your data for years after account closure"\n'
        'c2,"you can opt out of marketing, and request access to your data"\n',
        encoding="utf-8",
    )
    extra = root / "extra"
    extra.mkdir()
    (extra / "notes.txt").write_text(
        "We may change these terms at any time.\n\nWe share your data with partners.\n",
        encoding="utf-8",
    )
    (extra / "ignored.md").write_text("We collect device information for analytics.\n")
    records = [
        {"id": "j1", "text": "we may use your prompts to train our models"},
        {"id": 2, "text": "we do not sell your data"},
        "this line is not json",
        {"id": "j1", "text": "a duplicate id"},
        {"id": "j4", "text": ""},
    ]
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    (root / "clauses.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def predictor(tiny_trained_model):
    from train.inference import ClausePredictor

    return ClausePredictor(tiny_trained_model, backend="torch")


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, tiny_trained_model):
    """One run over the mixed corpus with the torch backend, through a folder, a glob, an
    explicit file and a missing path, loading the model from its folder."""
    root = write_corpus(tmp_path_factory.mktemp("corpus"))
    out = root / "docs" / "out"  # inside an input folder: must not be read back as input
    handler = _ListHandler()
    logging.getLogger("clausewatch.batch").addHandler(handler)
    try:
        summary = predict_corpus(
            tiny_trained_model,
            [
                root / "docs",
                str(root / "extra" / "*.txt"),
                root / "clauses.jsonl",
                root / "missing.txt",
            ],
            out,
            backend="torch",
            docs_per_chunk=3,
            progress=False,
        )
    finally:
        logging.getLogger("clausewatch.batch").removeHandler(handler)
    return SimpleNamespace(
        root=root,
        out=out,
        summary=summary,
        clauses=read_jsonl(out / "clauses.jsonl"),
        documents={r["doc_id"]: r for r in read_csv(out / "documents.csv")},
        skipped=read_csv(out / "skipped.csv"),
        warnings=handler.messages,
    )


def _doc(run, name: str) -> str:
    matches = [d for d in run.documents if d.endswith(name)]
    assert len(matches) == 1, (name, list(run.documents))
    return matches[0]


def test_every_input_format_is_scored(full_run):
    expected = {
        "docs/policy.md": "md",
        "docs/sub/terms.html": "html",
        "docs/long.txt": "txt",
        "docs/clauses.csv": "csv",
        "extra/notes.txt": "txt",
        "clauses.jsonl": "jsonl",
    }
    for name, fmt in expected.items():
        doc_id = _doc(full_run, name)
        assert full_run.documents[doc_id]["format"] == fmt
        assert any(c["doc_id"] == doc_id for c in full_run.clauses), name
    # the glob took only .txt from extra/; outputs inside docs/ were not read back
    assert not any("ignored.md" in d or "/out/" in d for d in full_run.documents)
    assert full_run.summary["documents"] == len(full_run.documents) == 8
    assert full_run.summary["clauses"] == len(full_run.clauses)


def test_clause_records_have_the_documented_fields(full_run, tiny_trained_model):
    meta = json.loads((tiny_trained_model / "clausewatch.json").read_text())
    thresholds = dict(zip(meta["labels"], meta["thresholds"], strict=True))
    for rec in full_run.clauses:
        assert {"doc_id", "start", "end", "text", "scores", "labels"} <= set(rec)
        assert list(rec["scores"]) == meta["labels"]
        assert all(0.0 <= p <= 1.0 for p in rec["scores"].values())
        assert rec["labels"] == [n for n in meta["labels"] if rec["scores"][n] >= thresholds[n]]


def test_offsets_round_trip_to_the_prepared_text(full_run):
    for name, fmt in (("policy.md", "md"), ("terms.html", "html"), ("long.txt", "txt")):
        doc_id = _doc(full_run, name)
        path = next(full_run.root.rglob(name))
        prepared = prepare_text(path.read_text(encoding="utf-8"), fmt)
        records = [c for c in full_run.clauses if c["doc_id"] == doc_id]
        assert records
        for rec in records:
            assert prepared[rec["start"] : rec["end"]] == rec["text"]
            assert "id" not in rec
    texts = [c["text"] for c in full_run.clauses if c["doc_id"] == _doc(full_run, "policy.md")]
    assert texts == [
        "We collect your location and device information when you use the service.",
        "We share your information with advertisers and partners for marketing.",
        "You can opt out and request access to export your data in settings.",
        "We retain your data for years after account closure.",
    ]  # headings, list markers, numbers and the fragment "Short." are gone
    html_texts = [
        c["text"] for c in full_run.clauses if c["doc_id"] == _doc(full_run, "terms.html")
    ]
    assert html_texts[0] == "We may use your content to train our artificial intelligence models."
    assert not any("<" in t or "tracking" in t or "Home" in t for t in html_texts)


def test_long_sentences_are_split_to_the_model_length(full_run):
    limit = max_chars_for(64)
    long_texts = [c["text"] for c in full_run.clauses if c["doc_id"] == _doc(full_run, "long.txt")]
    assert len(long_texts) > 3
    assert max(len(t) for t in long_texts) <= limit


def test_clause_files_are_records_not_segmented(full_run):
    jsonl = [c for c in full_run.clauses if c["doc_id"] == _doc(full_run, "clauses.jsonl")]
    assert [(c["id"], c["text"]) for c in jsonl] == [
        ("j1", "we may use your prompts to train our models"),
        ("2", "we do not sell your data"),
    ]
    rows = [c for c in full_run.clauses if c["doc_id"] == _doc(full_run, "clauses.csv")]
    assert [c["id"] for c in rows] == ["c1", "c2"]
    for rec in jsonl + rows:
        assert (rec["start"], rec["end"]) == (0, len(rec["text"]))


def test_documents_csv_counts_equal_the_clause_flags(full_run):
    for doc_id, row in full_run.documents.items():
        records = [c for c in full_run.clauses if c["doc_id"] == doc_id]
        assert int(row["clauses"]) == len(records)
        assert int(row["flagged_clauses"]) == sum(1 for c in records if c["labels"])
        for name in LABELS:
            assert int(row[name]) == sum(name in c["labels"] for c in records), (doc_id, name)
    assert full_run.summary["labels"]["ai_training"]["clauses"] == sum(
        "ai_training" in c["labels"] for c in full_run.clauses
    )


def test_bad_files_and_records_are_listed_in_skipped_csv(full_run):
    reasons = {(Path(r["path"]).name, r["line"]): r["reason"] for r in full_run.skipped}
    assert "binary" in reasons[("binary.txt", "")]
    assert "empty" in reasons[("empty.md", "")]
    assert "unsupported" in reasons[("image.png", "")]
    assert reasons[("missing.txt", "")] == "no such file or folder"
    assert "malformed JSON" in reasons[("clauses.jsonl", "3")]
    assert "duplicate id 'j1'" in reasons[("clauses.jsonl", "4")]
    assert "empty `text`" in reasons[("clauses.jsonl", "5")]
    assert not any(name in d for d in full_run.documents for name in ("binary", "empty", "image"))


def test_latin1_document_is_decoded_with_a_warning(full_run):
    doc_id = _doc(full_run, "latin1.txt")
    row = full_run.documents[doc_id]
    assert row["encoding"] == "cp1252"
    assert "not valid UTF-8" in row["note"]
    text = next(c["text"] for c in full_run.clauses if c["doc_id"] == doc_id)
    assert "résumé" in text and "café" in text
    assert any("latin1.txt" in m and "not valid UTF-8" in m for m in full_run.warnings)


def test_mostly_non_english_document_is_flagged(full_run):
    french = full_run.documents[_doc(full_run, "french.txt")]
    assert (french["language"], french["mostly_non_english"]) == ("fr", "1")
    english = full_run.documents[_doc(full_run, "policy.md")]
    assert (english["language"], english["mostly_non_english"]) == ("en", "0")
    assert full_run.summary["non_english_documents"] == 1
    assert any("french.txt" in m and "mostly not English" in m for m in full_run.warnings)


def test_report_is_written_with_a_summary(full_run):
    html = (full_run.out / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>")
    assert f'<td class="n">{full_run.summary["clauses"]}</td>' in html


def test_report_highlights_flagged_clauses_escaped(tmp_path, tiny_trained_model):
    (tmp_path / "a.txt").write_text(
        "Intro text that sets the scene for readers.\n\n"
        "We may use your <b>posts</b> & photos to train our models.\n\n"
        "We do not use your messages to train anything.\n",
        encoding="utf-8",
    )
    summary = predict_corpus(
        tiny_trained_model,
        [tmp_path / "a.txt"],
        tmp_path / "out",
        predictor=FakePredictor(),
        progress=False,
    )
    assert summary["labels"]["ai_training"] == {"clauses": 1, "documents": 1}
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert (
        "<mark>We may use your &lt;b&gt;posts&lt;/b&gt; &amp; photos to train our models.</mark>"
        in html
    )
    assert "Intro text that sets the scene for readers." in html  # context around the clause
    assert "<b>posts</b>" not in html
    assert "We do not use your messages" not in html.split("<mark>", 1)[1].split("</mark>")[0]


def _write_resume_corpus(folder: Path) -> None:
    folder.mkdir()
    for i in range(5):
        (folder / f"doc{i}.txt").write_text(
            f"We may use your content number {i} to train our models.\n\n"
            f"We collect your location and device information for service {i}.\n\n"
            "We share your information with advertisers and partners.\n",
            encoding="utf-8",
        )
    (folder / "z.jsonl").write_text(
        "".join(
            json.dumps({"id": f"r{i}", "text": f"we retain record {i} for years"}) + "\n"
            for i in range(5)
        )
    )


class Counting:
    """Wraps a real predictor: counts the texts scored; raises on a given call (a kill)."""

    def __init__(self, inner, fail_on_call: int | None = None) -> None:
        self.inner = inner
        self.labels, self.thresholds, self.meta = inner.labels, inner.thresholds, inner.meta
        self.backend_name = inner.backend_name
        self.fail_on_call = fail_on_call
        self.calls = 0
        self.scored: list[str] = []

    def predict_proba(self, texts, batch_size=64):
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise KeyboardInterrupt("simulated kill")
        self.scored += list(texts)
        return self.inner.predict_proba(texts, batch_size=batch_size)

    def flag(self, probs):
        return self.inner.flag(probs)


def _sorted_records(path: Path) -> list[dict]:
    return sorted(read_jsonl(path), key=lambda r: (r["doc_id"], r["start"], r.get("id", "")))


def test_resume_after_a_kill_skips_finished_documents(tmp_path, tiny_trained_model, predictor):
    corpus = tmp_path / "corpus"
    _write_resume_corpus(corpus)
    # block_size 3: a document (3 clauses) is one block; z.jsonl is blocks of 3 and 2 records
    kwargs = dict(docs_per_chunk=2, progress=False, block_size=3)

    reference = Counting(predictor)
    predict_corpus(tiny_trained_model, [corpus], tmp_path / "ref", predictor=reference, **kwargs)
    total = len(reference.scored)
    assert total == 5 * 3 + 5

    out = tmp_path / "out"
    # chunks of 2 units: doc0+doc1, doc2+doc3, doc4+z.jsonl[0:3], z.jsonl[3:5]
    killed = Counting(predictor, fail_on_call=4)
    with pytest.raises(KeyboardInterrupt):
        predict_corpus(tiny_trained_model, [corpus], out, predictor=killed, **kwargs)
    committed = killed.scored  # the three chunks committed before the kill
    assert len(committed) == 5 * 3 + 3
    assert not (out / "clauses.jsonl").exists()  # final outputs only once everything is done
    assert len(list((out / "parts").glob("*.done.json"))) == 3
    orphan = out / "parts" / "9999999999999-r000-000099.jsonl"  # killed between part and marker
    orphan.write_text('{"k": "x", "b": 0}\n')

    resumed = Counting(predictor)
    summary = predict_corpus(tiny_trained_model, [corpus], out, predictor=resumed, **kwargs)
    assert resumed.scored == [f"we retain record {i} for years" for i in (3, 4)]
    assert summary["clauses_scored"] == total - len(committed) == 2
    assert not orphan.exists()

    got, want = (
        _sorted_records(out / "clauses.jsonl"),
        _sorted_records(tmp_path / "ref" / "clauses.jsonl"),
    )
    assert len(got) == len(want) == total
    for a, b in zip(got, want, strict=True):
        assert {k: v for k, v in a.items() if k != "scores"} == {
            k: v for k, v in b.items() if k != "scores"
        }
        assert max(abs(a["scores"][n] - b["scores"][n]) for n in LABELS) < 1e-6
    assert read_csv(out / "documents.csv") == read_csv(tmp_path / "ref" / "documents.csv")

    again = Counting(predictor)
    predict_corpus(tiny_trained_model, [corpus], out, predictor=again, **kwargs)
    assert again.scored == []  # a finished run rescores nothing

    # a file changed since it was scored is scored again, and only that file
    (corpus / "z.jsonl").write_text(
        (corpus / "z.jsonl").read_text() + '{"id": "r5", "text": "we keep logs"}\n'
    )
    changed = Counting(predictor)
    predict_corpus(tiny_trained_model, [corpus], out, predictor=changed, **kwargs)
    assert len(changed.scored) == 6
    assert sum(1 for r in read_jsonl(out / "clauses.jsonl") if r["doc_id"].endswith("z.jsonl")) == 6


def test_resume_refuses_another_model(tmp_path, tiny_trained_model):
    corpus = tmp_path / "corpus"
    _write_resume_corpus(corpus)
    predict_corpus(
        tiny_trained_model, [corpus], tmp_path / "out", predictor=FakePredictor(), progress=False
    )
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    run["fingerprint"] = "another model"
    (tmp_path / "out" / "run.json").write_text(json.dumps(run))
    with pytest.raises(RunError, match="--overwrite"):
        predict_corpus(
            tiny_trained_model,
            [corpus],
            tmp_path / "out",
            predictor=FakePredictor(),
            progress=False,
        )
    fresh = FakePredictor()
    predict_corpus(
        tiny_trained_model,
        [corpus],
        tmp_path / "out",
        predictor=fresh,
        progress=False,
        overwrite=True,
    )
    assert len(fresh.scored) == 20


class FakeOnnxBackend:
    """Stands in for train.onnx_backend.OnnxBackend (written separately): same constructor and
    predict_proba, so the ONNX path through ClausePredictor is exercised without an export."""

    instances: list[FakeOnnxBackend] = []

    def __init__(self, onnx_path, meta) -> None:
        self.onnx_path = Path(onnx_path)
        self.meta = meta
        self.scored: list[str] = []
        FakeOnnxBackend.instances.append(self)

    def predict_proba(self, texts, batch_size=64):
        self.scored += list(texts)
        return FakePredictor().predict_proba(texts, batch_size)


def test_onnx_backend_goes_through_clause_predictor(tmp_path, tiny_trained_model, monkeypatch):
    model = tmp_path / "model"
    shutil.copytree(tiny_trained_model, model)
    (model / "model.onnx").write_bytes(b"not really onnx")
    monkeypatch.setitem(
        sys.modules, "train.onnx_backend", SimpleNamespace(OnnxBackend=FakeOnnxBackend)
    )
    (tmp_path / "a.txt").write_text("We may use your content to train our models.\n")
    summary = predict_corpus(
        model, [tmp_path / "a.txt"], tmp_path / "out", backend="onnx", progress=False
    )
    backend = FakeOnnxBackend.instances[-1]
    assert backend.onnx_path == model / "model.onnx"
    assert backend.scored == ["We may use your content to train our models."]
    assert summary["backend"] == "onnx"
    assert summary["labels"]["ai_training"]["clauses"] == 1
    # the same output folder cannot be resumed with another backend
    with pytest.raises(RunError, match="backend"):
        predict_corpus(
            model, [tmp_path / "a.txt"], tmp_path / "out", backend="torch", progress=False
        )


def test_oversized_documents_and_clause_files_without_text_are_skipped(
    tmp_path, tiny_trained_model
):
    (tmp_path / "big.txt").write_text("We collect your location. " * 50)
    (tmp_path / "small.txt").write_text("We collect your location and device information.\n")
    (tmp_path / "bad.csv").write_text("id,body\n1,we collect your data\n")
    summary = predict_corpus(
        tiny_trained_model,
        [tmp_path],
        tmp_path / "out",
        predictor=FakePredictor(),
        progress=False,
        max_document_bytes=200,
    )
    reasons = {
        Path(r["path"]).name: r["reason"] for r in read_csv(tmp_path / "out" / "skipped.csv")
    }
    assert reasons["big.txt"].startswith("too large")
    assert reasons["bad.csv"] == "no `text` column (columns: id, body)"
    assert summary["documents"] == 1


def test_expand_inputs_deduplicates_sorts_and_reports(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.md").write_text("x")
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / ".hidden.txt").write_text("h")
    (tmp_path / "c.pdf").write_text("c")
    docs, skipped = expand_inputs(
        [tmp_path, tmp_path / "a.txt", str(tmp_path / "*.txt"), str(tmp_path / "none" / "*.md")]
    )
    assert [d.path.name for d in docs] == ["a.txt", "x.md"]
    assert [(Path(r["path"]).name, r["reason"]) for r in skipped] == [
        ("c.pdf", "unsupported file type '.pdf'"),
        ("*.md", "glob matched nothing"),
    ]


def test_read_document_encodings_and_binary(tmp_path):
    (tmp_path / "u16.txt").write_bytes("We collect your data.".encode("utf-16"))
    assert read_document(tmp_path / "u16.txt").text == "We collect your data."
    (tmp_path / "cyr.txt").write_bytes(
        ("Мы собираем ваши данные и передаём их партнёрам. " * 3).encode("cp1251")
    )
    decoded = read_document(tmp_path / "cyr.txt")
    assert decoded.text.startswith("Мы собираем") and decoded.warning
    (tmp_path / "x.txt").write_bytes(b"%PDF-1.7 ...")
    with pytest.raises(SkipDocument, match="PDF"):
        read_document(tmp_path / "x.txt")


def test_cli_errors_exit_2(tmp_path, tiny_trained_model, capsys):
    (tmp_path / "a.txt").write_text("We collect your location and device information.\n")
    assert (
        main(["--model", str(tmp_path / "nope"), "--output", str(tmp_path / "o"), str(tmp_path)])
        == 2
    )
    assert "no model found" in capsys.readouterr().err
    argv = [
        "--model",
        str(tiny_trained_model),
        "--backend",
        "onnx",
        "--output",
        str(tmp_path / "o"),
    ]
    assert main([*argv, str(tmp_path)]) == 2
    assert "make export" in capsys.readouterr().err
    argv = ["--model", str(tiny_trained_model), "--output", str(tmp_path / "a.txt"), str(tmp_path)]
    assert main(argv) == 2
    assert "not a folder" in capsys.readouterr().err


def test_cli_runs_and_no_input_exits_2(tmp_path, tiny_trained_model, capsys):
    """No input document is an input error: status 2 (it was 1, now reserved for --fail-on)."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("We collect your location and device information.\n")
    argv = ["--model", str(tiny_trained_model), "--no-progress", "--output"]
    assert main([*argv, str(tmp_path / "o"), str(tmp_path / "in")]) == 0
    assert "1 documents, 1 clauses" in capsys.readouterr().out
    assert len(read_jsonl(tmp_path / "o" / "clauses.jsonl")) == 1
    assert main([*argv, str(tmp_path / "o2"), str(tmp_path / "nothing-here")]) == 2
    assert read_csv(tmp_path / "o2" / "skipped.csv")[0]["reason"] == "no such file or folder"


def test_script_starts_without_torch_and_reports_a_bad_model(tmp_path):
    code = "import sys, train.predict, train.diff; print('torch' in sys.modules, 'train.training' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.split() == ["False", "False"]
    proc = subprocess.run(
        [
            sys.executable,
            "scripts/predict.py",
            "--model",
            str(tmp_path / "none"),
            "--output",
            str(tmp_path / "o"),
            "x",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: cannot load model")


class PoisonPredictor(FakePredictor):
    """Raises on any batch that holds the word POISON, as a tokenizer does on text it cannot take."""

    def predict_proba(self, texts, batch_size=64):
        if any("POISON" in t for t in texts):
            raise ValueError("cannot tokenize this text")
        return super().predict_proba(texts, batch_size)


def test_one_failing_record_never_blocks_the_corpus(tmp_path, tiny_trained_model):
    (tmp_path / "a.txt").write_text("We may use your data to train our models.\n")
    (tmp_path / "b.txt").write_text(
        "We collect your location data.\n\nPOISON clause that breaks the scorer.\n"
    )
    summary = predict_corpus(
        tiny_trained_model,
        [tmp_path],
        tmp_path / "out",
        predictor=PoisonPredictor(),
        progress=False,
        docs_per_chunk=5,
    )
    texts = [r["text"] for r in read_jsonl(tmp_path / "out" / "clauses.jsonl")]
    assert texts == ["We may use your data to train our models.", "We collect your location data."]
    [row] = read_csv(tmp_path / "out" / "skipped.csv")
    assert row["path"].endswith("b.txt")
    assert row["reason"].startswith("scoring failed at offset 32: ValueError: cannot tokenize")
    assert summary["documents"] == 2


def test_lone_surrogate_and_symlink_loop_are_skipped_and_the_run_exits_0(
    tmp_path, tiny_trained_model
):
    corpus = tmp_path / "in"
    corpus.mkdir()
    (corpus / "good.txt").write_text("We collect your location and device information.\n")
    (corpus / "records.jsonl").write_text(
        '{"id": "ok", "text": "we share your data with partners"}\n'
        '{"id": "bad", "text": "broken \\ud800 text"}\n',
        encoding="utf-8",
    )
    (corpus / "loop.txt").symlink_to(corpus / "loop.txt")
    argv = ["--model", str(tiny_trained_model), "--no-progress", "--output", str(tmp_path / "o")]
    assert main([*argv, str(corpus)]) == 0
    scored = {r["text"] for r in read_jsonl(tmp_path / "o" / "clauses.jsonl")}
    assert scored == {
        "We collect your location and device information.",
        "we share your data with partners",
    }
    reasons = {
        (Path(r["path"]).name, r["line"]): r["reason"]
        for r in read_csv(tmp_path / "o" / "skipped.csv")
    }
    assert reasons[("loop.txt", "")] == "symlink loop"
    assert reasons[("records.jsonl", "2")].startswith("`text` holds a character that is not valid")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_processes_split_the_documents_and_merge_what_one_process_writes(
    tmp_path, tiny_trained_model
):
    """Two processes (torchrun, CPU, gloo; `accelerate launch` sets the same environment): each
    process scores its own share of the documents, the main process waits for the other and merges, and
    the outputs equal a one-process run's."""
    import os
    import subprocess
    import sys

    corpus = tmp_path / "corpus"
    _write_resume_corpus(corpus)
    script = [str(REPO / "scripts" / "predict.py"), "--model", str(tiny_trained_model)]
    script += ["--backend", "torch", "--no-progress", "--docs-per-chunk", "1", str(corpus)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    single = subprocess.run(
        [sys.executable, *script, "--output", str(tmp_path / "one")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert single.returncode == 0, single.stderr[-2000:]
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    launch += ["--master_port", str(_free_port())]
    multi = subprocess.run(
        [*launch, *script, "--output", str(tmp_path / "two")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert multi.returncode == 0, multi.stderr[-3000:]
    assert "2 process(es)" in multi.stderr
    main_share = re.search(r"(\d+) clauses scored in this run by the main process", multi.stdout)
    assert main_share and 0 < int(main_share.group(1)) < 5 * 3 + 5, multi.stdout
    got, want = (
        _sorted_records(tmp_path / "two" / "clauses.jsonl"),
        _sorted_records(tmp_path / "one" / "clauses.jsonl"),
    )
    assert len(got) == len(want) == 5 * 3 + 5
    for a, b in zip(got, want, strict=True):
        assert {k: v for k, v in a.items() if k != "scores"} == {
            k: v for k, v in b.items() if k != "scores"
        }
    assert read_csv(tmp_path / "two" / "documents.csv") == read_csv(
        tmp_path / "one" / "documents.csv"
    )
