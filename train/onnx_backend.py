"""ONNX Runtime backend for `ClausePredictor`: the `model.onnx` / `model-int8.onnx` files written by
`make export`, whose graph already ends in the sigmoid (it outputs probabilities, not logits).

The folder of the ONNX file holds the tokenizer and `clausewatch.json`, so it serves on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from train.inference import length_sorted_batches
from train.modelio import ModelMeta, tokenize_texts

EMBEDDING_OUTPUT = "sentence_embedding"

# ONNX tensor element types of the graph inputs we can feed.
_INT_TYPES = {"tensor(int64)": np.int64, "tensor(int32)": np.int32}


def import_onnxruntime():
    """`onnxruntime`, or an error that says how to install it."""
    try:
        import onnxruntime
    except ImportError:
        raise ImportError(
            "the ONNX backend needs onnxruntime: `pip install onnxruntime` "
            "(or `onnxruntime-gpu` on a CUDA machine), or run `make install`"
        ) from None
    return onnxruntime


def default_providers(ort) -> list[str]:
    """CUDA first when this onnxruntime build has it, CPU always as the fallback."""
    available = ort.get_available_providers()
    providers = ["CUDAExecutionProvider"] if "CUDAExecutionProvider" in available else []
    return [*providers, "CPUExecutionProvider"]


class OnnxBackend:
    """An ONNX Runtime session over an exported ClauseWatch graph (probabilities out)."""

    name = "onnx"

    def __init__(
        self,
        onnx_path: str | Path,
        meta: ModelMeta,
        providers: Sequence[str] | None = None,
        intra_op_threads: int = 0,
    ) -> None:
        """`providers` defaults to CUDA (when available) then CPU; `intra_op_threads=0` lets
        ONNX Runtime pick (one thread per physical core)."""
        ort = import_onnxruntime()
        from transformers import AutoTokenizer

        path = Path(onnx_path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such ONNX file (run `make export`)")
        self.tokenizer = AutoTokenizer.from_pretrained(path.parent)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = intra_op_threads
        options.log_severity_level = 3  # errors only: node-placement notices are not for users
        # Every batch has a new (batch, length) shape: ORT's memory-pattern cache would keep a plan
        # per shape, so over a long corpus memory would only grow. The arena stays (a third faster).
        options.enable_mem_pattern = False
        self.session = ort.InferenceSession(
            str(path), sess_options=options, providers=list(providers or default_providers(ort))
        )
        self.inputs = {i.name: _INT_TYPES.get(i.type, np.int64) for i in self.session.get_inputs()}
        self.output_name = self.session.get_outputs()[0].name
        outputs = [o.name for o in self.session.get_outputs()]
        # Exports since the diff pairs clauses by meaning also output sentence embeddings.
        self.has_embeddings = EMBEDDING_OUTPUT in outputs
        self.max_length = meta.max_length
        self.n_labels = len(meta.labels)
        self.path = path

    def _feed(self, features: list[dict]) -> dict[str, np.ndarray]:
        """Pad one batch and keep only the inputs the graph declares (a graph may take
        `token_type_ids` or not); a declared input the tokenizer does not give is all zeros."""
        padded = self.tokenizer.pad(features, return_tensors="np")
        shape = padded["input_ids"].shape
        return {
            name: np.asarray(padded[name], dtype=dtype)
            if name in padded
            else np.zeros(shape, dtype=dtype)
            for name, dtype in self.inputs.items()
        }

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Probabilities, (n, n_labels), in input order (batches sorted by length, padded per batch)."""
        encoded = tokenize_texts(self.tokenizer, list(texts), self.max_length)
        keys = [k for k in encoded if k in self.inputs]
        out = np.zeros((len(texts), self.n_labels), dtype=np.float32)
        for batch in length_sorted_batches([len(x) for x in encoded["input_ids"]], batch_size):
            features = [{k: encoded[k][i] for k in keys} for i in batch]
            out[batch] = self.session.run([self.output_name], self._feed(features))[0]
        return out

    def predict_with_embeddings(
        self, texts: Sequence[str], batch_size: int = 64
    ) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and the graph's `sentence_embedding` output (L2-normalised mean pooling), in
        input order; needs an export that has that output (`has_embeddings`)."""
        if not self.has_embeddings:
            raise ValueError(
                f"{self.path}: exported without sentence embeddings; run `make export`"
            )
        encoded = tokenize_texts(self.tokenizer, list(texts), self.max_length)
        keys = [k for k in encoded if k in self.inputs]
        out = np.zeros((len(texts), self.n_labels), dtype=np.float32)
        vectors = None
        names = [self.output_name, EMBEDDING_OUTPUT]
        for batch in length_sorted_batches([len(x) for x in encoded["input_ids"]], batch_size):
            features = [{k: encoded[k][i] for k in keys} for i in batch]
            probs, emb = self.session.run(names, self._feed(features))
            if vectors is None:
                vectors = np.zeros((len(texts), emb.shape[1]), dtype=np.float32)
            out[batch], vectors[batch] = probs, emb
        return out, vectors
