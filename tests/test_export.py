"""Export on the tiny model: Hub folder, ONNX fp32/int8 parity, model card, push."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from train.export import ExportError, export_model, load_for_export, load_parity_texts
from train.inference import MAX_BATCH_TOKENS, ClausePredictor
from train.metrics import apply_thresholds, bootstrap_f1_ci, multilabel_metrics
from train.model_card import PLACEHOLDER_REPO_ID, build_model_card, python_snippets
from train.modelio import load_meta

REPO = Path(__file__).resolve().parent.parent
REPO_ID = "someone/clausewatch-tiny"
VARIED = [
    "we",
    "we may use your data content prompts to train improve our models " * 6,
    "you can opt out",
    "we share your information with advertisers and partners and we sell it to data brokers",
    "",
    "keep retain delete after days years account closure change these terms at any time",
    "this privacy policy is for the service",
]
KEYWORDS = {
    "ai_training": "train",
    "content_license": "licence",
    "data_collection": "collect",
    "data_sharing": "share",
    "data_retention": "retain",
    "terms_change": "change",
    "user_control": "opt out",
}


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _scores(pred, gold, mask, names, probs=None) -> dict:
    result = multilabel_metrics(pred, gold, mask, names, probs)
    for j, name in enumerate(names):
        result[name]["f1_ci95"] = list(
            bootstrap_f1_ci(pred[:, j], gold[:, j], mask[:, j], n_resamples=50)
        )
    return result


def write_metrics(run_dir: Path, test_file: Path) -> dict:
    """eval/metrics.json in `make eval`'s shape, from numbers computed on the tiny test split:
    the model through ClausePredictor, an all-positive system and a keyword rule as baselines."""
    rows = _rows(test_file)
    texts = [r["text"] for r in rows]
    gold, mask = (np.array([r[k] for r in rows]) for k in ("labels", "label_mask"))
    predictor = ClausePredictor(run_dir / "model", backend="torch")
    names = predictor.labels
    probs = predictor.predict_proba(texts)
    pred = predictor.flag(probs)
    keyword = np.array([[int(KEYWORDS[n] in t) for n in names] for t in texts])
    by_source = {}
    for source in sorted({r["source"] for r in rows}):
        idx = [i for i, r in enumerate(rows) if r["source"] == source]
        by_source[source] = {"model": multilabel_metrics(pred[idx], gold[idx], mask[idx], names)}
    metrics = {
        "test": {
            "model": _scores(pred, gold, mask, names, probs),
            "tfidf_logreg": _scores(np.ones_like(gold), gold, mask, names),
            "keyword": _scores(keyword, gold, mask, names),
        },
        "by_source": by_source,
        "by_origin": {},
    }
    (run_dir / "eval").mkdir(exist_ok=True)
    (run_dir / "eval" / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


@pytest.fixture(scope="module")
def exported(tiny_trained_model, tiny_clauses, tmp_path_factory):
    """A private copy of the tiny run (model, config, summary) with a metrics file, exported once."""
    run = tmp_path_factory.mktemp("export-run") / "tiny"
    shutil.copytree(tiny_trained_model, run / "model")
    for name in ("config.yaml", "train_summary.json"):
        shutil.copy(tiny_trained_model.parent / name, run / name)
    metrics = write_metrics(run, tiny_clauses["test"])
    result = export_model(run / "model", repo_id=REPO_ID)
    return {"run": run, "export": Path(result["export_dir"]), "result": result, "metrics": metrics}


def test_export_writes_every_file(exported):
    export = exported["export"]
    assert export == exported["run"] / "export"
    for name in [
        "hf/model.safetensors",
        "hf/config.json",
        "hf/tokenizer.json",
        "hf/clausewatch.json",
        "hf/README.md",
        "onnx/model.onnx",
        "onnx/model-int8.onnx",
        "onnx/tokenizer.json",
        "onnx/clausewatch.json",
        "onnx/labels.txt",
        "parity.json",
    ]:
        assert (export / name).is_file(), name
    assert not list((export / "hf").glob("*.bin")), "nothing pickled goes to the Hub"
    assert not [p for p in exported["run"].iterdir() if p.name.startswith(".")], "temp left over"

    meta = load_meta(export / "hf")
    config = json.loads((export / "hf" / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    assert config["id2label"] == {str(i): n for i, n in enumerate(meta.labels)}
    assert config["label2id"] == {n: i for i, n in enumerate(meta.labels)}
    assert (export / "onnx" / "labels.txt").read_text().split() == meta.labels
    assert load_meta(export / "onnx").thresholds == meta.thresholds

    parity = json.loads((export / "parity.json").read_text())
    assert parity["n_clauses"] == 32  # the tiny run's validation split, found via its config.yaml
    assert parity["fp32"]["max_abs_diff"] <= 1e-4
    assert parity["fp32"]["label_agreement"] == 1.0
    assert set(parity["int8"]) >= {"max_abs_diff", "mean_abs_diff", "label_agreement"}


def test_onnx_fp32_matches_torch_with_dynamic_axes(exported):
    import onnx

    export = exported["export"]
    graph = onnx.load(str(export / "onnx" / "model.onnx")).graph
    assert [i.name for i in graph.input] == ["input_ids", "attention_mask", "token_type_ids"]
    for tensor in graph.input:
        assert [d.dim_param for d in tensor.type.tensor_type.shape.dim] == ["batch", "sequence"]
    assert [o.name for o in graph.output] == ["probabilities", "sentence_embedding"]
    producers = {out: node.op_type for node in graph.node for out in node.output}
    assert producers["probabilities"] == "Sigmoid"

    torch_probs = ClausePredictor(export, backend="torch").predict_proba(VARIED, batch_size=5)
    onnx_predictor = ClausePredictor(export, backend="onnx")
    assert onnx_predictor.backend_name == "onnx"
    for batch_size in (1, 5):  # batches of 1 and of 5 with different padded lengths
        probs = onnx_predictor.predict_proba(VARIED, batch_size=batch_size)
        assert probs.shape == (len(VARIED), 7)
        assert np.abs(probs - torch_probs).max() <= 1e-4
    # a token budget of one clause's worth splits the long clauses into batches of their own:
    # the same probabilities in the same order
    onnx_predictor.backend.max_batch_tokens = 16
    assert np.abs(onnx_predictor.predict_proba(VARIED) - torch_probs).max() <= 1e-4
    onnx_predictor.backend.max_batch_tokens = MAX_BATCH_TOKENS
    assert np.all((torch_probs > 0) & (torch_probs < 1))
    # the sentence embeddings the diff pairs clauses with: the same from both backends, unit length
    _, torch_vectors = ClausePredictor(export, backend="torch").predict_with_embeddings(VARIED, 5)
    probs, vectors = onnx_predictor.predict_with_embeddings(VARIED, batch_size=2)
    assert onnx_predictor.has_embeddings
    assert np.abs(probs - torch_probs).max() <= 1e-4
    assert np.abs(vectors - torch_vectors).max() <= 1e-4
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_export_traces_eager_attention(tiny_trained_model):
    """The graph is traced from eager attention (plain MatMul and Softmax, which the int8
    quantiser and ONNX Runtime's fusions cover), not from the SDPA kernel with its mask
    arithmetic, which scored a quarter slower after quantisation."""
    model, _ = load_for_export(tiny_trained_model, load_meta(tiny_trained_model))
    assert model.config._attn_implementation == "eager"


def test_onnx_scoring_needs_neither_torch_nor_transformers(exported):
    """The ONNX path tokenises with `tokenizers` from the export's tokenizer.json: the same ids as
    the transformers tokenizer (truncation included), and scoring imports no torch, transformers,
    scikit-learn or scipy (they cost seconds of start-up and hundreds of MB)."""
    from transformers import AutoTokenizer

    from train.modelio import tokenize_texts
    from train.onnx_backend import FastTokenizer

    folder = exported["export"] / "onnx"
    max_length = load_meta(folder).max_length
    texts = [*VARIED, "word " * (3 * max_length), "Ünïcödé 数据 🙂 café", "a\n\nb", ""]
    reference = tokenize_texts(AutoTokenizer.from_pretrained(folder), texts, max_length)
    ours = FastTokenizer(folder, max_length).encode(texts)
    for name in ("input_ids", "token_type_ids", "attention_mask"):
        assert ours[name] == reference[name], name
    assert max(len(ids) for ids in ours["input_ids"]) == max_length

    code = (
        "import sys; from train.inference import ClausePredictor; "
        f"p = ClausePredictor({str(exported['export'])!r}, backend='onnx-int8'); "
        "p.predict_proba(['We may use your data to train models.', 'Hi']); "
        "p.predict_with_embeddings(['We sell data.']); "
        "print([m for m in ('torch', 'transformers', 'sklearn', 'scipy') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


def test_int8_runs_and_mostly_agrees(exported):
    import onnx

    export = exported["export"]
    ops = {n.op_type for n in onnx.load(str(export / "onnx" / "model-int8.onnx")).graph.node}
    assert {"MatMulInteger", "DynamicQuantizeLinear"} <= ops
    predictor = ClausePredictor(export, backend="onnx-int8")
    clauses = VARIED * 3
    int8 = predictor.predict_proba(clauses, batch_size=4)
    reference = ClausePredictor(export, backend="torch").predict_proba(clauses)
    assert int8.shape == reference.shape
    assert np.abs(int8 - reference).max() < 0.05
    agreement = (predictor.flag(int8) == apply_thresholds(reference, predictor.thresholds)).mean()
    assert agreement >= 0.9


def test_card_parses_back_with_model_index_from_metrics(exported):
    from huggingface_hub import ModelCard

    card = ModelCard.load(exported["export"] / "hf" / "README.md")
    data = card.data
    assert data.pipeline_tag == "text-classification"
    assert data.library_name == "transformers"
    assert data.language == "en"
    assert data.base_model is None  # the tiny base model is a local folder, not a Hub id
    assert data.license == "other"  # user clause files: licences not recorded
    assert data.model_name == "clausewatch-tiny"

    model = exported["metrics"]["test"]["model"]
    expected = {("f1", "macro"): model["macro_f1"], ("f1", "micro"): model["micro_f1"]}
    for label in load_meta(exported["export"] / "hf").labels:
        for kind in ("precision", "recall", "f1"):
            expected[(kind, label)] = model[label][kind]
    found = {(r.metric_type, r.metric_config): r.metric_value for r in data.eval_results}
    assert found == {key: round(value, 4) for key, value in expected.items()}
    assert {r.dataset_split for r in data.eval_results} == {"test"}

    text = card.text
    for heading in ("## Labels", "## How to use", "## Training data", "## Evaluation"):
        assert heading in text
    for heading in ("## Limitations", "## Hardware and time"):
        assert heading in text
    assert "TF-IDF + logistic regression" in text and "keyword rules" in text
    assert f"| {model['macro_f1']:.3f} |" in text
    assert "By source (test)" in text
    assert "Not legal advice" in text and "English only" in text


def test_card_snippets_run_against_the_export(exported, capsys):
    export = exported["export"]
    snippets = python_snippets((export / "hf" / "README.md").read_text())
    assert len(snippets) == 2 and all(REPO_ID in s for s in snippets)

    namespace: dict = {}
    exec(snippets[0].replace(REPO_ID, str(export / "hf")), namespace)
    expected = ClausePredictor(export, backend="torch").predict_proba(namespace["clauses"])
    assert np.abs(namespace["probs"] - expected).max() <= 1e-5

    namespace = {}
    exec(snippets[1].replace(REPO_ID, str(export)), namespace)
    reference = ClausePredictor(export, backend="torch").predict_proba(namespace["clauses"])
    assert namespace["probs"].shape == reference.shape
    assert np.abs(namespace["probs"] - reference).max() < 0.05  # int8
    out = capsys.readouterr().out
    assert all(clause in out for clause in namespace["clauses"])  # one printed line per clause


def test_card_without_eval_or_with_opp115(tiny_trained_model, tmp_path):
    from huggingface_hub import ModelCard

    meta = load_meta(tiny_trained_model)
    run = tmp_path / "run"
    (run / "data").mkdir(parents=True)
    (run / "config.yaml").write_text(f"data:\n  dataset_dir: {run / 'data'}\n  train_file: ''\n")
    stats = {
        "content_hash": meta.dataset_hash,
        "licenses": ["cc-by-4.0", "opp115-noncommercial"],
        "splits": {
            s: {"clauses": 10, "services": 2, "sources": {"opp115": 4, "team": 6}}
            for s in ("train", "validation", "test")
        },
    }
    (run / "data" / "stats.json").write_text(json.dumps(stats))
    card = ModelCard(str(build_model_card(run, meta)))
    assert card.data.eval_results is None and "model-index:" not in str(card)
    assert "Evaluation was not run" in card.text
    assert card.data.license == "other"
    assert card.data.license_name == "opp115-research-non-commercial"
    assert "Non-commercial use only" in card.text
    assert "EXCLUDE_LICENSES=opp115-noncommercial" in card.text
    assert "| `opp115` | opp115-noncommercial | 4 | 4 | 4 |" in card.text
    assert PLACEHOLDER_REPO_ID in card.text
    assert "Open Terms Archive contributors" not in card.text

    assert "was rebuilt since" not in card.text

    # Open Terms Archive documents in the data: the card credits them (ODC-BY attribution).
    for split in stats["splits"].values():
        split["sources"]["ota_contrib_2026"] = 3
    (run / "data" / "stats.json").write_text(json.dumps(stats))
    card = ModelCard(str(build_model_card(run, meta)))
    assert "© Open Terms\nArchive contributors" in card.text
    assert "| `ota_contrib_2026` | odc-by-1.0 | 3 | 3 | 3 |" in card.text

    stats["licenses"] = ["cc-by-4.0"]
    stats["content_hash"] = "ab" * 32  # rebuilt after training: the card must say so
    (run / "data" / "stats.json").write_text(json.dumps(stats))
    with pytest.warns(UserWarning, match="not the one the model was trained on"):
        card = ModelCard(str(build_model_card(run, meta)))
    assert card.data.license == "apache-2.0"
    assert "was rebuilt since" in card.text


def test_push_dry_run_lists_the_files(exported, capsys):
    from train.hub import main

    listed = main(["--export", str(exported["export"]), "--repo-id", REPO_ID, "--dry-run"])
    export = exported["export"]
    expected = sorted(p.relative_to(export / "hf").as_posix() for p in (export / "hf").iterdir())
    expected += sorted(f"onnx/{p.name}" for p in (export / "onnx").iterdir())
    assert listed == expected
    out = capsys.readouterr().out
    assert f"would upload {len(expected)} files to {REPO_ID}" in out
    assert "onnx/model-int8.onnx" in out and "model.safetensors" in out and "KB" in out
    assert "parity.json" not in listed


def _push(export: Path, env_extra: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
    env.update(HF_HOME=str(tmp_path / "hf-home"), **env_extra)
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "push.py"), "--export", str(export)]
        + ["--repo-id", REPO_ID],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )


def test_push_offline_or_without_token_fails_cleanly(exported, tmp_path):
    offline = _push(exported["export"], {"HF_HUB_OFFLINE": "1", "HF_TOKEN": "hf_fake"}, tmp_path)
    assert offline.returncode == 1
    assert "Traceback" not in offline.stderr
    assert offline.stderr.strip() == (
        "error: Cannot reach the Hugging Face Hub: offline mode is on (HF_HUB_OFFLINE=1); "
        "unset it to push."
    )
    no_token = _push(exported["export"], {"HF_HUB_OFFLINE": "1"}, tmp_path)
    assert no_token.returncode == 1
    assert no_token.stderr.strip() == (
        "error: No Hugging Face token found: run `hf auth login` or set HF_TOKEN."
    )


class _FakeHub:
    """A local stand-in for the Hub endpoints a push uses (create repo, card metadata check,
    pre-upload, commit),
    recording every request; anything else is a 404 that the test sees in `requests`."""

    def __init__(self) -> None:
        import http.server
        import threading

        hub = self
        self.requests: list[dict] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                hub.requests.append({"method": "GET", "path": self.path})
                self._reply(404, {"error": "not in the fake hub"})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                entry = {"method": "POST", "path": self.path, "body": body}
                entry["auth"] = self.headers.get("Authorization")
                hub.requests.append(entry)
                repo = f"/api/models/{REPO_ID}"
                if self.path == "/api/validate-yaml":  # the model card's metadata
                    self._reply(200, {"errors": [], "warnings": []})
                elif self.path == "/api/repos/create":
                    self._reply(200, {"url": f"{hub.endpoint}/{REPO_ID}", "name": REPO_ID})
                elif self.path.startswith(f"{repo}/preupload/"):
                    files = json.loads(body)["files"]
                    modes = [
                        {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                        for f in files
                    ]
                    self._reply(200, {"files": modes, "commitOid": "0" * 40})
                elif self.path.startswith(f"{repo}/commit/"):
                    url = f"{hub.endpoint}/{REPO_ID}/commit/{'1' * 40}"
                    self._reply(200, {"commitUrl": url, "commitOid": "1" * 40})
                else:
                    self._reply(404, {"error": "not in the fake hub"})

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_push_uploads_every_export_file_in_one_commit(exported, tmp_path):
    """The success path against a local fake Hub (HF_ENDPOINT): the repository is created with
    the token, and one commit adds every file of hf/ (at the root) and onnx/ (under onnx/)."""
    import base64

    from train.hub import list_export_files

    hub = _FakeHub()
    try:
        env = {"HF_ENDPOINT": hub.endpoint, "HF_TOKEN": "hf_fake", "HF_HUB_OFFLINE": "0"}
        env["HF_HUB_DISABLE_XET"] = "1"
        result = _push(exported["export"], env, tmp_path)
    finally:
        hub.close()
    assert result.returncode == 0, result.stderr[-2000:]
    files = list_export_files(exported["export"])
    assert f"uploaded {len(files)} files to {hub.endpoint}/{REPO_ID}" in result.stdout
    posts = [r for r in hub.requests if r["method"] == "POST"]
    assert posts[0]["path"] == "/api/repos/create"
    assert any(r["path"] == "/api/validate-yaml" for r in posts)
    assert json.loads(posts[0]["body"])["name"] == REPO_ID.split("/")[1]
    assert all(r["auth"] == "Bearer hf_fake" for r in posts)
    commits = [r for r in posts if "/commit/" in r["path"]]
    assert len(commits) == 1
    lines = [json.loads(line) for line in commits[0]["body"].decode().splitlines() if line]
    added = {x["value"]["path"]: x["value"] for x in lines if x["key"] == "file"}
    assert sorted(added) == sorted(f.path_in_repo for f in files)
    assert "onnx/model-int8.onnx" in added and "config.json" in added
    config = next(f for f in files if f.path_in_repo == "config.json")
    assert base64.b64decode(added["config.json"]["content"]) == config.local.read_bytes()


def test_parity_failure_raises_and_keeps_the_previous_export(exported, monkeypatch, tmp_path):
    import train.export as export_module
    from train.onnx_backend import OnnxBackend

    good_graph = exported["export"] / "onnx" / "model.onnx"

    def reuse_graph(model, tokenizer, path, max_length, opset):  # skip a second real export
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(good_graph, path)
        return ["input_ids", "attention_mask", "token_type_ids"]

    real = OnnxBackend.predict_proba
    monkeypatch.setattr(export_module, "export_onnx", reuse_graph)
    monkeypatch.setattr(
        OnnxBackend, "predict_proba", lambda self, *a, **k: real(self, *a, **k) + 1e-3
    )
    target = tmp_path / "export"
    target.mkdir()
    (target / export_module.EXPORT_MARKER).write_text("previous export")
    with pytest.raises(ExportError, match="differs from PyTorch by 0.001"):
        export_model(exported["run"] / "model", output_dir=target, skip_int8=True)
    assert [p.name for p in target.iterdir()] == [export_module.EXPORT_MARKER]
    parity = json.loads((tmp_path / "export.failed" / "parity.json").read_text())
    assert parity["fp32"]["max_abs_diff"] == pytest.approx(1e-3, abs=1e-5)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_parity_texts_from_csv_capped_and_bad_file(tmp_path):
    from train.errors import DataError

    csv_file = tmp_path / "clauses.csv"
    csv_file.write_text("text,ai_training\n" + "".join(f"clause {i},1\n" for i in range(10)))
    texts, source = load_parity_texts(tmp_path, csv_file, limit=4)
    assert texts == ["clause 0", "clause 3", "clause 6", "clause 9"]
    assert source == str(csv_file)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"text": \n')
    with pytest.raises(DataError, match=r"bad.jsonl:2: malformed JSON"):
        load_parity_texts(tmp_path, bad, limit=0)


def _reuse_graph(exported, monkeypatch):
    import train.export as export_module

    good_graph = exported["export"] / "onnx" / "model.onnx"

    def reuse_graph(model, tokenizer, path, max_length, opset):  # skip a second real export
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(good_graph, path)
        return ["input_ids", "attention_mask", "token_type_ids"]

    monkeypatch.setattr(export_module, "export_onnx", reuse_graph)


def test_export_never_replaces_a_folder_of_user_files(exported, monkeypatch, tmp_path):
    from train.errors import DataError
    from train.export import EXPORT_MARKER

    _reuse_graph(exported, monkeypatch)
    target = tmp_path / "mydocs"
    target.mkdir()
    (target / "thesis.txt").write_text("my own work")
    with pytest.raises(DataError, match="--overwrite"):
        export_model(exported["run"] / "model", output_dir=target, skip_int8=True)
    assert (target / "thesis.txt").read_text() == "my own work"
    # An export folder (it carries the marker) is replaced by the next export, no flag needed.
    fresh = tmp_path / "fresh"
    export_model(exported["run"] / "model", output_dir=fresh, skip_int8=True)
    assert (fresh / EXPORT_MARKER).is_file()
    export_model(exported["run"] / "model", output_dir=fresh, skip_int8=True)
    assert (fresh / "onnx" / "model.onnx").is_file()
    # --overwrite is the explicit way to replace a folder that holds other files.
    export_model(exported["run"] / "model", output_dir=target, skip_int8=True, overwrite=True)
    assert not (target / "thesis.txt").exists() and (target / EXPORT_MARKER).is_file()


def test_export_into_the_working_folder_is_refused_with_exit_2(exported, tmp_path):
    (tmp_path / "notes.md").write_text("keep me")
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "export.py"),
            "--model",
            str(exported["run"] / "model"),
            "--output",
            ".",
            "--overwrite",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 2, result.stderr
    assert "cannot be the working folder" in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "notes.md").read_text() == "keep me"


def test_quantiser_writes_no_temp_files_into_the_working_folder(exported, monkeypatch, tmp_path):
    from train.export import quantize_int8

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    out = tmp_path / "q"
    out.mkdir()
    shutil.copy(exported["export"] / "onnx" / "model.onnx", out / "model.onnx")
    quantize_int8(Path("../q/model.onnx"), Path("../q/model-int8.onnx"))
    assert (out / "model-int8.onnx").is_file()
    assert list(cwd.iterdir()) == []
    assert Path.cwd() == cwd


def test_card_headline_is_real_clauses_when_evaluated_by_origin(exported, tmp_path):
    from huggingface_hub import ModelCard

    from train.model_card import headline_metrics

    metrics = json.loads(json.dumps(exported["metrics"]))
    assert headline_metrics(metrics)[1] == "all"  # no by-origin results: all test clauses
    real = json.loads(json.dumps(metrics["test"]))
    real["model"]["macro_f1"] = 0.4321
    real["clauses"] = 17
    metrics["by_origin"] = {"real": real, "team": {"clauses": 15}}
    assert headline_metrics(metrics) == (real, "real")

    run = tmp_path / "run"
    shutil.copytree(exported["run"], run, ignore=shutil.ignore_patterns("export"))
    (run / "eval" / "metrics.json").write_text(json.dumps(metrics))
    card = ModelCard(str(build_model_card(run, load_meta(run / "model"))))
    macro = [r for r in card.data.eval_results if r.metric_config == "macro"][0]
    assert macro.metric_value == 0.4321
    assert macro.dataset_name == "ClauseWatch clauses (real text)"
    assert "**real clauses only** (17 clauses" in card.text
    assert "the 15 team-written test clauses are reported apart" in card.text
