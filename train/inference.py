"""Score clauses with a trained model: the one prediction path used by evaluation, batch
inference, diff, export parity and benchmarks.

Backends: PyTorch (CUDA with bf16 where supported, else CPU fp32) and ONNX Runtime (fp32 or int8
from `make export`). Batches are sorted by length and padded dynamically.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from train.metrics import apply_thresholds, sigmoid
from train.modelio import META_FILE, ModelMeta, load_meta, tokenize_texts

BACKENDS = ("auto", "torch", "onnx", "onnx-int8")
ONNX_FILES = {"onnx": "model.onnx", "onnx-int8": "model-int8.onnx"}

# Tokens in one padded batch on CPU (clauses x longest clause). A runtime keeps the largest
# activations it has served (ONNX Runtime's arena: over a gigabyte after 64 clauses of 256 tokens),
# so long clauses go in smaller batches and short ones still 64 at a time. Small batches also stay
# in the cores' caches: on 2,000 corpus clauses with 2 cores, 1,024 tokens scored int8 faster than
# 2,048 or 4,096 and peaked lowest. PyTorch on a GPU is not bounded (memory is not the limit
# there); the ONNX backend keeps the bound whatever its execution provider.
MAX_BATCH_TOKENS = 1024
# Clauses per forward pass when the caller names none: 64 on CPU; on a GPU bigger batches keep
# the card busy (a 22M-parameter encoder in bf16 barely notices 512 clauses).
CPU_BATCH_SIZE = 64
GPU_BATCH_SIZE = 512


def length_sorted_batches(
    lengths: Sequence[int], batch_size: int, max_tokens: int | None = None
) -> list[list[int]]:
    """Indices grouped into batches of similar length (longest first), so padding stays small.

    With `max_tokens`, a batch also stops growing before its padded size (clauses x its longest
    clause, the first one) would pass that many tokens: long clauses go in smaller batches, so
    the activations of one batch, and the memory a runtime keeps for them, stay bounded whatever
    the documents hold. A clause longer than the budget still gets a batch of its own."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    if not max_tokens:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    batches: list[list[int]] = []
    for i in order:
        batch = batches[-1] if batches else None
        if (
            batch is None
            or len(batch) >= batch_size
            or (len(batch) + 1) * lengths[batch[0]] > max_tokens
        ):
            batches.append([i])
        else:
            batch.append(i)
    return batches


class TorchBackend:
    """A transformers sequence-classification model, loaded from safetensors only."""

    name = "torch"

    def __init__(
        self,
        model_dir: str | Path,
        meta: ModelMeta,
        device: str | None = None,
        max_batch_tokens: int | None = None,
        precision: str = "auto",
    ) -> None:
        """`max_batch_tokens` bounds one padded batch (default: `MAX_BATCH_TOKENS` on CPU, no
        bound on a GPU; 0 = batches of `batch_size` whatever their length). `precision`: `auto`
        (bf16 on a GPU that has it, else fp32) or `fp32`."""
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.torch = torch
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if precision not in ("auto", "fp32"):
            raise ValueError(f"precision must be auto or fp32, got {precision!r}")
        dtype = torch.float32
        if precision == "auto" and self.device.type == "cuda" and torch.cuda.is_bf16_supported():
            dtype = torch.bfloat16
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForSequenceClassification.from_pretrained(
            model_dir, use_safetensors=True, dtype=dtype
        )
        self.model.to(self.device).eval()
        self.max_length = meta.max_length
        self.dtype = dtype
        if max_batch_tokens is None:
            max_batch_tokens = 0 if self.device.type == "cuda" else MAX_BATCH_TOKENS
        self.max_batch_tokens = max_batch_tokens
        # Where the tokeniser, not the model, is the bottleneck (a GPU), tokenise in worker
        # processes beside the model (`_batches`).
        self.tokenize_in_workers = self.device.type == "cuda"

    def forward(
        self, texts: Sequence[str], batch_size: int = 64, embeddings: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Raw logits, (n, n_labels), and with `embeddings` the L2-normalised mean of the
        encoder's last hidden states, (n, hidden), both in input order."""
        torch = self.torch
        out = np.zeros((len(texts), self.model.config.num_labels), dtype=np.float32)
        vectors = np.zeros((len(texts), self.model.config.hidden_size), dtype=np.float32)
        with torch.inference_mode():
            for batch, inputs in self._batches(list(texts), batch_size):
                inputs = {k: v.to(self.device, non_blocking=True) for k, v in inputs.items()}
                result = self.model(**inputs, output_hidden_states=embeddings)
                out[batch] = result.logits.float().cpu().numpy()
                if embeddings:
                    pooled = mean_pool(result.hidden_states[-1], inputs["attention_mask"])
                    vectors[batch] = pooled.float().cpu().numpy()
        return out, (vectors if embeddings else None)

    def _batches(self, texts: list[str], batch_size: int):
        """(indices, padded tensors) for every batch. On CPU: the clauses tokenised once, grouped
        by token length under `max_batch_tokens`. On a GPU the tokeniser, not the model, is the
        bottleneck: batches are grouped by character length and tokenised (with padding) in
        `torch.utils.data.DataLoader` worker processes while the GPU scores earlier batches."""
        if not self.tokenize_in_workers:
            encoded = tokenize_texts(self.tokenizer, texts, self.max_length)
            lengths = [len(x) for x in encoded["input_ids"]]
            for batch in length_sorted_batches(lengths, batch_size, self.max_batch_tokens):
                features = [{k: encoded[k][i] for k in encoded} for i in batch]
                yield batch, self.tokenizer.pad(features, return_tensors="pt")
            return
        from torch.utils.data import DataLoader

        batches = length_sorted_batches([len(t) for t in texts], batch_size)
        workers = gpu_tokenizer_workers(len(batches))
        loader = DataLoader(
            batches,
            batch_size=None,
            num_workers=workers,
            collate_fn=_BatchTokenizer(self.tokenizer, texts, self.max_length),
            pin_memory=self.device.type == "cuda",
            prefetch_factor=4 if workers else None,
        )
        yield from loader

    def logits(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Raw logits, (n, n_labels), in input order."""
        return self.forward(texts, batch_size)[0]

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Probabilities (sigmoid of the logits), (n, n_labels), in input order."""
        return sigmoid(self.logits(texts, batch_size=batch_size)).astype(np.float32)

    def predict_with_embeddings(
        self, texts: Sequence[str], batch_size: int = 64
    ) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and sentence embeddings from one forward pass."""
        logits, vectors = self.forward(texts, batch_size, embeddings=True)
        return sigmoid(logits).astype(np.float32), vectors


def gpu_tokenizer_workers(n_batches: int) -> int:
    """Tokeniser processes beside a GPU: none for a few batches (starting processes would cost
    more), else one per spare core up to 8."""
    import os

    if n_batches < 4:
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(0, min(8, (cores or 1) - 1, n_batches // 2))


class _BatchTokenizer:
    """Turns a batch of clause indices into (indices, padded tensors); picklable, so it also
    runs in `DataLoader` worker processes started with spawn or forkserver."""

    def __init__(self, tokenizer, texts: list[str], max_length: int) -> None:
        self.tokenizer, self.texts, self.max_length = tokenizer, texts, max_length

    def __call__(self, batch: list[int]):
        texts = [self.texts[i] for i in batch]
        encoded = tokenize_texts(self.tokenizer, texts, self.max_length, True, "pt")
        return batch, dict(encoded)


def mean_pool(hidden, attention_mask):
    """Sentence embedding: the mean of the token states under the attention mask, L2-normalised
    (the pooling the bundled sentence encoder was trained with). Works on torch tensors; the
    ONNX graph computes the same inside the export."""
    import torch

    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * mask).sum(dim=1)
    pooled = summed / mask.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2, dim=1)


def resolve_model_dirs(path: str | Path) -> dict[str, Path]:
    """Find the PyTorch folder and ONNX folder behind a model folder or an export folder."""
    path = Path(path)
    found: dict[str, Path] = {}
    candidates = [
        path,
        path / "hf",
        path / "onnx",
        path.parent / "export" / "hf",
        path.parent / "export" / "onnx",
    ]
    for folder in candidates:
        if not (folder / META_FILE).is_file():
            continue
        if (folder / "model.safetensors").is_file() and "torch" not in found:
            found["torch"] = folder
        for backend, filename in ONNX_FILES.items():
            if (folder / filename).is_file() and backend not in found:
                found[backend] = folder
    if not found:
        raise FileNotFoundError(
            f"{path}: no model found (expected {META_FILE} with model.safetensors or model.onnx, "
            "or an export folder with hf/ and onnx/)"
        )
    return found


def choose_backend(found: dict[str, Path], requested: str = "auto") -> str:
    """`auto`: PyTorch on a GPU; on CPU the int8 ONNX model when exported, else fp32 ONNX, else PyTorch."""
    if requested not in BACKENDS:
        raise ValueError(f"unknown backend {requested!r}; choose from {', '.join(BACKENDS)}")
    if requested != "auto":
        if requested not in found:
            raise FileNotFoundError(
                f"backend {requested!r} needs {ONNX_FILES.get(requested, 'model.safetensors')}; "
                f"available here: {', '.join(sorted(found))} (run `make export` for ONNX)"
            )
        return requested
    import importlib.util

    if "torch" in found and importlib.util.find_spec("torch") is not None:
        import torch

        if torch.cuda.is_available():
            return "torch"
    for backend in ("onnx-int8", "onnx", "torch"):
        if backend in found:
            return backend
    raise FileNotFoundError("no usable backend")


class ClausePredictor:
    """Scores clauses and flags labels with the model's own thresholds."""

    def __init__(
        self,
        model_dir: str | Path,
        backend: str = "auto",
        device: str | None = None,
        precision: str = "auto",
    ) -> None:
        """`device` and `precision` (`auto`: bf16 on a GPU that has it; `fp32`) apply to the
        PyTorch backend."""
        found = resolve_model_dirs(model_dir)
        self.backend_name = choose_backend(found, backend)
        folder = found[self.backend_name]
        self.meta = load_meta(folder)
        if self.backend_name == "torch":
            self.backend = TorchBackend(folder, self.meta, device=device, precision=precision)
        else:
            from train.onnx_backend import OnnxBackend

            self.backend = OnnxBackend(folder / ONNX_FILES[self.backend_name], self.meta)
        self.labels = list(self.meta.labels)
        self.thresholds = np.asarray(self.meta.thresholds, dtype=float)

    @property
    def default_batch_size(self) -> int:
        """Clauses per forward pass when none is asked for: `GPU_BATCH_SIZE` with PyTorch on a
        GPU, else `CPU_BATCH_SIZE`."""
        device = getattr(self.backend, "device", None)
        return GPU_BATCH_SIZE if getattr(device, "type", "cpu") == "cuda" else CPU_BATCH_SIZE

    def predict_proba(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Probabilities, (n, n_labels), in input order."""
        if len(texts) == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return self.backend.predict_proba(texts, batch_size=batch_size or self.default_batch_size)

    @property
    def has_embeddings(self) -> bool:
        """Whether this backend gives sentence embeddings (PyTorch always; ONNX when exported
        with the `embedding` output)."""
        return hasattr(self.backend, "predict_with_embeddings") and getattr(
            self.backend, "has_embeddings", True
        )

    def predict_with_embeddings(
        self, texts: Sequence[str], batch_size: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities (n, n_labels) and L2-normalised sentence embeddings (n, hidden) from
        one forward pass; see `has_embeddings`."""
        if len(texts) == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32), np.zeros((0, 0), np.float32)
        return self.backend.predict_with_embeddings(
            texts, batch_size=batch_size or self.default_batch_size
        )

    def flag(self, probs: np.ndarray) -> np.ndarray:
        """0/1 flags from probabilities with the per-label thresholds."""
        return apply_thresholds(probs, self.thresholds)
