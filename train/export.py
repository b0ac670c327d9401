"""Export a trained model folder for publishing and fast CPU serving.

`make export` (default `outputs/latest/model`) writes `<run>/export/`:

- `hf/`: the Hub folder: safetensors weights, `config.json` (`id2label`, `label2id`,
  `problem_type`), tokenizer, `clausewatch.json` (labels, thresholds, definitions), `README.md`.
- `onnx/model.onnx` (fp32, dynamic batch and sequence axes; outputs `probabilities`, the graph
  ending in the sigmoid, and `sentence_embedding`, which the diff pairs clauses with) and
  `onnx/model-int8.onnx` (ONNX Runtime dynamic quantisation), with the tokenizer,
  `clausewatch.json`, `config.json` and `labels.txt`, so the folder serves on its own.
- `parity.json`: probabilities of each ONNX file against PyTorch on validation clauses.

The export is built in a hidden temporary folder and renamed into place at the end, so an export
that fails leaves no half folder posing as complete. When fp32 parity fails the files are kept in
`<run>/export.failed/` for inspection, and a previous good export is left untouched.

Exporter: `torch.onnx.export(..., dynamo=True)` with `dynamic_shapes`. It is torch's default and
maintained exporter (the TorchScript exporter is deprecated since torch 2.9); on this model it
gives named dynamic `batch` / `sequence` axes and matches PyTorch to ~1e-7. Opset 18 is the
exporter's native opset: a lower one goes through a version converter.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from train.errors import DataError
from train.inference import ONNX_FILES
from train.metrics import apply_thresholds
from train.modelio import META_FILE, ModelMeta, load_meta, save_meta
from train.onnx_backend import EMBEDDING_OUTPUT
from train.paths import REPO_ROOT, repo_path

DEFAULT_MODEL = "outputs/latest/model"
DEFAULT_OPSET = 18
DEFAULT_MAX_PARITY = 2000
FP32_TOLERANCE = 1e-4
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "probabilities"
PARITY_FILE = "parity.json"
LABELS_FILE = "labels.txt"
# Committed, team-written clauses: parity data of last resort when no dataset is built.
FALLBACK_PARITY_FILES = ("data/team_clauses_ai.jsonl", "data/team_clauses_neg.jsonl")
# Above this many bytes of weights ONNX needs external data (protobuf's 2 GB limit).
EXTERNAL_DATA_BYTES = 1_500_000_000


class ExportError(RuntimeError):
    """The export could not be made, or does not match PyTorch."""


def require_onnx_tools():
    """`(onnx, onnxruntime)`, or an error that says what to install."""
    missing = []
    for name in ("onnx", "onnxscript", "onnxruntime"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ImportError(
            f"ONNX export needs {', '.join(missing)}: `pip install onnx onnxscript onnxruntime` "
            "(versions pinned in pyproject.toml), or run `make install`"
        )
    import onnx
    import onnxruntime

    return onnx, onnxruntime


# ----------------------------------------------------------------------------- Hub folder


def load_for_export(model_dir: Path, meta: ModelMeta):
    """The model (fp32, CPU, eval mode, safetensors only) and tokenizer, with the config's label
    maps and problem type set from `clausewatch.json` so the Hub folder describes itself."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if not any(model_dir.glob("*.safetensors")):
        raise ExportError(
            f"{model_dir}: no safetensors weights (ClauseWatch loads only safetensors)"
        )
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    # Eager attention: exported, it is plain MatMul/Softmax that ONNX Runtime fuses and the int8
    # quantiser covers; the SDPA graph with its mask arithmetic scored 2,000 corpus clauses about
    # a quarter slower after int8 quantisation on 2 cores. Same weights, same outputs.
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, use_safetensors=True, attn_implementation="eager"
    )
    if model.config.num_labels != len(meta.labels):
        raise ExportError(
            f"{model_dir}: the model has {model.config.num_labels} outputs but {META_FILE} "
            f"names {len(meta.labels)} labels"
        )
    model.config.id2label = dict(enumerate(meta.labels))
    model.config.label2id = {name: i for i, name in enumerate(meta.labels)}
    model.config.problem_type = "multi_label_classification"
    return model.float().cpu().eval(), tokenizer


def save_hub_folder(model, tokenizer, meta: ModelMeta, folder: Path) -> None:
    """Weights (safetensors), config, tokenizer and `clausewatch.json`; nothing pickled
    (the Trainer's `training_args.bin` stays behind)."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    save_meta(folder, meta)


# ----------------------------------------------------------------------------- ONNX


def probability_module(model, input_names: list[str]):
    """A module whose forward takes the named inputs positionally and returns
    `sigmoid(logits)` and the sentence embedding (`train.inference.mean_pool` of the last hidden
    states), so the ONNX graph outputs probabilities and embeddings from one pass."""
    import torch

    from train.inference import mean_pool

    class Probabilities(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def _outputs(self, attention_mask, **inputs):
            out = self.model(attention_mask=attention_mask, output_hidden_states=True, **inputs)
            return torch.sigmoid(out.logits), mean_pool(out.hidden_states[-1], attention_mask)

        def forward(self, input_ids, attention_mask):
            return self._outputs(attention_mask, input_ids=input_ids)

    class ProbabilitiesWithTypes(Probabilities):
        def forward(self, input_ids, attention_mask, token_type_ids):
            return self._outputs(attention_mask, input_ids=input_ids, token_type_ids=token_type_ids)

    wrapper = ProbabilitiesWithTypes() if "token_type_ids" in input_names else Probabilities()
    return wrapper.eval()


def example_inputs(tokenizer, input_names: list[str], max_length: int):
    """Two clauses padded to one length, as tensors. Batch (2) and sequence (> 2) sizes differ
    so torch.export does not tie the two dynamic axes together."""
    texts = [
        "We may use your content and prompts to train and improve our models.",
        "You can opt out in settings.",
    ]
    length = max(3, min(16, max_length))
    enc = tokenizer(
        texts, padding="max_length", truncation=True, max_length=length, return_tensors="pt"
    )
    return tuple(enc[name] for name in input_names)


def export_onnx(
    model, tokenizer, path: Path, max_length: int, opset: int = DEFAULT_OPSET
) -> list[str]:
    """Write the fp32 graph (inputs the tokenizer produces, outputs `probabilities` and
    `sentence_embedding`) with dynamic batch and sequence axes, check it, and return its input names."""
    import torch

    onnx, _ = require_onnx_tools()
    produced = set(tokenizer("a")) & set(INPUT_NAMES)
    input_names = [name for name in INPUT_NAMES if name in produced]
    wrapper = probability_module(model, input_names)
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    dynamic_shapes = {name: {0: batch, 1: sequence} for name in input_names}
    n_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), _quiet_exporter():
        torch.onnx.export(
            wrapper,
            example_inputs(tokenizer, input_names, max_length),
            str(path),
            input_names=input_names,
            output_names=[OUTPUT_NAME, EMBEDDING_OUTPUT],
            dynamic_shapes=dynamic_shapes,
            opset_version=opset,
            dynamo=True,
            external_data=n_bytes > EXTERNAL_DATA_BYTES,
            verbose=False,
        )
    onnx.checker.check_model(str(path))
    graph = onnx.load(str(path), load_external_data=False).graph
    for tensor in graph.input:
        dims = tensor.type.tensor_type.shape.dim
        if len(dims) != 2 or not all(d.dim_param for d in dims):
            raise ExportError(f"{path}: input {tensor.name} is not dynamic in batch and sequence")
    return input_names


@contextmanager
def _quiet_exporter():
    """Hide the exporter's notices that say nothing about this model: optional torchvision ops it
    skips, pytree deprecations, and the axis-renaming notice for inputs sharing one `Dim`."""
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", message=r"# The axis name")
            yield
    finally:
        registration.setLevel(level)


@contextmanager
def _quiet_preprocess_hint():
    """onnxruntime's quantiser logs (on the root logger) a hint to run its pre-processing first;
    that pre-processing's symbolic shape inference fails on dynamo-exported graphs, so the hint
    would only mislead."""

    def drop(record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)


@contextmanager
def _working_dir(path: Path):
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def quantize_int8(src: Path, dst: Path) -> None:
    """ONNX Runtime dynamic quantisation: int8 weights (QInt8), activations quantised at run time.
    Per-channel weight scales: on all-MiniLM-L6-v2 (untrained head) they halve the probability
    error of per-tensor scales (max |diff| 0.07 vs 0.14 against fp32 on 300 validation clauses)
    at the same file size."""
    require_onnx_tools()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src, dst = Path(src).resolve(), Path(dst).resolve()
    external = (src.parent / f"{src.name}.data").is_file()
    # The quantiser's shape inference saves `sym_shape_infer_temp.onnx` and an external-data file
    # into the working directory: run it inside the export's own temporary folder.
    with _quiet_preprocess_hint(), _working_dir(dst.parent):
        quantize_dynamic(
            src,
            dst,
            weight_type=QuantType.QInt8,
            per_channel=True,
            use_external_data_format=external,
        )


def save_onnx_folder(tokenizer, model, meta: ModelMeta, folder: Path) -> None:
    """What serving needs beside the graphs: tokenizer, `clausewatch.json` (labels, thresholds,
    max length), `config.json` and `labels.txt` (one label per line, in output order)."""
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(folder)
    model.config.to_json_file(folder / "config.json")
    save_meta(folder, meta)
    (folder / LABELS_FILE).write_text(
        "".join(f"{name}\n" for name in meta.labels), encoding="utf-8"
    )


# ----------------------------------------------------------------------------- parity


def default_parity_file(run_dir: Path) -> Path | None:
    """The validation clauses of the run (its config), else of the built dataset, else None."""
    config_path = run_dir / "config.yaml"
    candidates = []
    if config_path.is_file():
        import yaml

        data = (yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}).get("data", {})
        if data.get("validation_file"):
            candidates.append(repo_path(data["validation_file"]))
        if data.get("dataset_dir"):
            candidates.append(repo_path(data["dataset_dir"]) / "jsonl" / "validation.jsonl")
    candidates.append(REPO_ROOT / "data" / "processed" / "jsonl" / "validation.jsonl")
    return next((p for p in candidates if p.is_file()), None)


def read_texts(path: Path) -> list[str]:
    """The `text` of every clause of a JSONL or CSV file (labels are not needed for parity)."""
    import csv

    if not path.is_file():
        raise DataError(path, "file not found")
    texts = []
    if path.suffix == ".jsonl":
        from train.jsonio import iter_jsonl

        for line_no, item in iter_jsonl(path):
            if not isinstance(item, dict) or not str(item.get("text", "")).strip():
                raise DataError(path, "empty or missing `text`", line_no)
            texts.append(str(item["text"]))
    elif path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            if "text" not in (reader.fieldnames or []):
                raise DataError(path, "needs a `text` column", 1)
            for row in reader:
                if not (row.get("text") or "").strip():
                    raise DataError(path, "empty `text`", reader.line_num)
                texts.append(row["text"])
    else:
        raise DataError(path, "expected a .jsonl or .csv file of clauses with a `text` field")
    if not texts:
        raise DataError(path, "no clauses")
    return texts


def load_parity_texts(
    run_dir: Path, parity_data: str | Path | None, limit: int
) -> tuple[list[str], str]:
    """Clauses for the parity check and where they came from. `limit` > 0 keeps that many,
    evenly spread over the file (files are grouped by source, so the head is not representative)."""
    if parity_data:
        sources = [Path(parity_data)]
    else:
        found = default_parity_file(run_dir)
        if found is None:
            sources = [REPO_ROOT / p for p in FALLBACK_PARITY_FILES]
            print("parity: no validation split found; using the committed team-written clauses")
        else:
            sources = [found]
    texts = [t for source in sources for t in read_texts(source)]
    if 0 < limit < len(texts):
        keep = np.linspace(0, len(texts) - 1, limit).round().astype(int)
        texts = [texts[i] for i in keep]
    return texts, ", ".join(str(s) for s in sources)


def compare(reference: np.ndarray, other: np.ndarray, thresholds) -> dict:
    """Max / mean absolute probability difference and flag agreement (per entry and per clause)."""
    diff = np.abs(reference.astype(np.float64) - other.astype(np.float64))
    same = apply_thresholds(reference, thresholds) == apply_thresholds(other, thresholds)
    return {
        "max_abs_diff": float(diff.max()) if diff.size else 0.0,
        "mean_abs_diff": float(diff.mean()) if diff.size else 0.0,
        "label_agreement": float(same.mean()) if same.size else 1.0,
        "clause_agreement": float(same.all(axis=1).mean()) if same.size else 1.0,
    }


def measure_parity(export_dir: Path, texts: list[str], batch_size: int = 64) -> dict:
    """Each ONNX file against PyTorch fp32 on CPU (the reference), through the same prediction
    path as inference."""
    from train.inference import TorchBackend
    from train.onnx_backend import OnnxBackend

    meta = load_meta(export_dir / "hf")
    reference = TorchBackend(export_dir / "hf", meta, device="cpu").predict_proba(texts, batch_size)
    result: dict = {"n_clauses": len(texts)}
    for key, filename in ONNX_FILES.items():
        path = export_dir / "onnx" / filename
        if not path.is_file():
            continue
        backend = OnnxBackend(path, meta, providers=["CPUExecutionProvider"])
        name = "fp32" if key == "onnx" else "int8"
        result[name] = compare(reference, backend.predict_proba(texts, batch_size), meta.thresholds)
    return result


# ----------------------------------------------------------------------------- export


EXPORT_MARKER = ".clausewatch-export"


def check_output_dir(target: Path, overwrite: bool) -> None:
    """Refuse to replace a folder this tool did not write (one without `EXPORT_MARKER`) unless
    `overwrite`: an export never deletes a user's files by accident."""
    if not target.exists():
        return
    if not target.is_dir():
        raise DataError(target, "the export output exists and is not a folder")
    entries = list(target.iterdir())
    if entries and not (target / EXPORT_MARKER).is_file() and not overwrite:
        raise DataError(
            target,
            f"the folder holds {len(entries)} file(s) that no export wrote; choose an empty or "
            "new folder, or pass --overwrite to replace it",
        )
    if target.resolve() in (Path.cwd().resolve(), *Path.cwd().resolve().parents):
        raise DataError(target, "the export output cannot be the working folder or one above it")


def _replace_dir(tmp: Path, target: Path) -> None:
    """Move `tmp` to `target`, replacing an existing folder (old one removed only after the swap)."""
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def export_model(
    model_dir: str | Path,
    output_dir: str | Path | None = None,
    parity_data: str | Path | None = None,
    opset: int = DEFAULT_OPSET,
    max_parity: int = DEFAULT_MAX_PARITY,
    skip_int8: bool = False,
    repo_id: str | None = None,
    license: str | None = None,
    dataset_id: str | None = None,
    overwrite: bool = False,
) -> dict:
    """Export `model_dir` (a run's `model/` folder) to `output_dir` (default `<run>/export`).

    Returns `{"export_dir", "files", "parity"}`. Raises `ExportError` when fp32 ONNX differs from
    PyTorch by more than 1e-4 (after writing `parity.json` into `<output>.failed/`).
    `repo_id`, `license` and `dataset_id` go into the model card (see `train.model_card`).
    """
    import torch

    from train.model_card import write_model_card

    require_onnx_tools()
    model_dir = repo_path(model_dir)
    meta = load_meta(model_dir)
    run_dir = model_dir.resolve().parent
    target = (Path(output_dir) if output_dir else run_dir / "export").resolve()
    check_output_dir(target, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    t0 = time.time()
    try:
        # --- Hub folder
        model, tokenizer = load_for_export(model_dir, meta)
        save_hub_folder(model, tokenizer, meta, tmp / "hf")
        (tmp / EXPORT_MARKER).write_text("written by clausewatch export\n", encoding="utf-8")

        # --- ONNX fp32 and int8, and what serving needs beside them
        onnx_dir = tmp / "onnx"
        print(f"exporting ONNX (opset {opset}) ...")
        input_names = export_onnx(
            model, tokenizer, onnx_dir / ONNX_FILES["onnx"], meta.max_length, opset
        )
        if not skip_int8:
            quantize_int8(onnx_dir / ONNX_FILES["onnx"], onnx_dir / ONNX_FILES["onnx-int8"])
        save_onnx_folder(tokenizer, model, meta, onnx_dir)
        del model

        # --- parity against PyTorch
        texts, source = load_parity_texts(run_dir, parity_data, max_parity)
        print(f"parity: {len(texts)} clauses from {source}")
        parity = measure_parity(tmp, texts)
        import onnxruntime

        parity.update(
            data=source,
            tolerance_fp32=FP32_TOLERANCE,
            opset=opset,
            exporter="torch.onnx.export(dynamo=True)",
            torch=torch.__version__,
            onnxruntime=onnxruntime.__version__,
        )
        (tmp / PARITY_FILE).write_text(json.dumps(parity, indent=2) + "\n", encoding="utf-8")
        if parity["fp32"]["max_abs_diff"] > FP32_TOLERANCE:
            failed = target.parent / f"{target.name}.failed"
            _replace_dir(tmp, failed)
            raise ExportError(
                f"ONNX fp32 differs from PyTorch by {parity['fp32']['max_abs_diff']:.3g} "
                f"(tolerance {FP32_TOLERANCE:g}) on {len(texts)} clauses; the failed export is "
                f"in {failed} (see its {PARITY_FILE}); {target} was not changed"
            )

        # --- model card, from the run's real files
        write_model_card(
            tmp / "hf",
            run_dir,
            meta,
            parity=parity,
            repo_id=repo_id,
            license=license,
            dataset_id=dataset_id,
            onnx_files=[f for f in ONNX_FILES.values() if (onnx_dir / f).is_file()],
            onnx_inputs=input_names,
        )
        _replace_dir(tmp, target)
        shutil.rmtree(target.parent / f"{target.name}.failed", ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    files = _files(target)
    print(f"exported to {target} in {time.time() - t0:.0f}s: {len(files)} files")
    return {"export_dir": str(target), "files": files, "parity": parity}


def main(argv: list[str] | None = None) -> dict:
    """`python scripts/export.py --model outputs/latest/model [--parity-data clauses.jsonl]`."""
    parser = argparse.ArgumentParser(
        description="Export a ClauseWatch model: Hub folder, ONNX fp32/int8, parity, model card."
    )
    parser.add_argument("--model", default=DEFAULT_MODEL, help="model folder (a run's model/)")
    parser.add_argument("--output", default=None, help="export folder (default: <run>/export)")
    parser.add_argument(
        "--parity-data",
        default=os.environ.get("PARITY_DATA") or None,
        help="JSONL/CSV clauses with `text` for the parity check (env PARITY_DATA; "
        "default: the run's validation split)",
    )
    parser.add_argument(
        "--max-parity",
        type=int,
        default=DEFAULT_MAX_PARITY,
        help="at most this many parity clauses, evenly spread (0 = all)",
    )
    parser.add_argument("--skip-int8", action="store_true", help="do not write model-int8.onnx")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an output folder that holds files no export wrote",
    )
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset")
    parser.add_argument(
        "--repo-id",
        default=os.environ.get("REPO_ID") or None,
        help="Hub repo id the model card's snippets load from (env REPO_ID)",
    )
    parser.add_argument("--license", default=None, help="override the card's licence (e.g. mit)")
    parser.add_argument("--dataset-id", default=None, help="Hub id of the training dataset, if any")
    args = parser.parse_args(argv)
    try:
        result = export_model(
            args.model,
            output_dir=args.output,
            parity_data=args.parity_data,
            opset=args.opset,
            max_parity=args.max_parity,
            skip_int8=args.skip_int8,
            repo_id=args.repo_id,
            license=args.license,
            dataset_id=args.dataset_id,
            overwrite=args.overwrite,
        )
    except (DataError, FileNotFoundError, ImportError) as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    except ExportError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(3) from None
    for name in ("fp32", "int8"):
        if name in result["parity"]:
            p = result["parity"][name]
            print(
                f"{name}: max |diff| {p['max_abs_diff']:.2e}, mean {p['mean_abs_diff']:.2e}, "
                f"label agreement {p['label_agreement']:.4f}"
            )
    return result
