"""ONNX Runtime backend for `ClausePredictor`: the `model.onnx` / `model-int8.onnx` files written by
`make export`, whose graph already ends in the sigmoid (it outputs probabilities, not logits).

The folder of the ONNX file holds the tokenizer and `clausewatch.json`, so it serves on its own.
This path imports neither torch nor transformers: the tokenizer is the folder's `tokenizer.json`
read by the `tokenizers` library (the one transformers' fast tokenizers wrap), so scoring starts
in about a second and holds only ONNX Runtime's memory.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from train.inference import MAX_BATCH_TOKENS, length_sorted_batches
from train.modelio import ModelMeta

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


class FastTokenizer:
    """`tokenizer.json` through `tokenizers`, set up as `modelio.tokenize_texts` sets up the
    transformers tokenizer: truncation to `max_length` (special tokens included), no padding at
    encoding time; `pad` pads one batch to its longest clause with the tokenizer's pad token."""

    def __init__(self, folder: Path, max_length: int) -> None:
        from tokenizers import Tokenizer

        path = folder / "tokenizer.json"
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: no tokenizer beside the ONNX file (run `make export`)"
            )
        self.tokenizer = Tokenizer.from_file(str(path))
        # The file keeps the padding and truncation the export's example inputs used: reset both.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=max_length)
        config_path = folder / "tokenizer_config.json"
        config = (
            json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
        )
        pad_token = config.get("pad_token") or "[PAD]"
        self.pad_id = self.tokenizer.token_to_id(pad_token) or 0
        self.pad_type_id = int(config.get("pad_token_type_id") or 0)

    def encode(self, texts: list[str]) -> dict[str, list[list[int]]]:
        encodings = self.tokenizer.encode_batch(texts)
        return {
            "input_ids": [e.ids for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
        }

    def pad(self, encoded: dict[str, list[list[int]]], batch: list[int]) -> dict[str, np.ndarray]:
        width = max(len(encoded["input_ids"][i]) for i in batch)
        fill = {"input_ids": self.pad_id, "token_type_ids": self.pad_type_id, "attention_mask": 0}
        out = {}
        for name, rows in encoded.items():
            array = np.full((len(batch), width), fill[name], dtype=np.int64)
            for row, i in enumerate(batch):
                array[row, : len(rows[i])] = rows[i]
            out[name] = array
        return out


class OnnxBackend:
    """An ONNX Runtime session over an exported ClauseWatch graph (probabilities out)."""

    name = "onnx"

    def __init__(
        self,
        onnx_path: str | Path,
        meta: ModelMeta,
        providers: Sequence[str] | None = None,
        intra_op_threads: int = 0,
        max_batch_tokens: int = MAX_BATCH_TOKENS,
    ) -> None:
        """`providers` defaults to CUDA (when available) then CPU; `intra_op_threads=0` lets
        ONNX Runtime pick (one thread per physical core); `max_batch_tokens` bounds one padded
        batch (0 = batches of `batch_size` whatever their length)."""
        ort = import_onnxruntime()

        path = Path(onnx_path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such ONNX file (run `make export`)")
        self.tokenizer = FastTokenizer(path.parent, meta.max_length)
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
        self.max_batch_tokens = max_batch_tokens

    def _feed(self, encoded: dict, batch: list[int]) -> dict[str, np.ndarray]:
        """One padded batch with only the inputs the graph declares (a graph may take
        `token_type_ids` or not), in the integer type it declares."""
        padded = self.tokenizer.pad(encoded, batch)
        shape = padded["input_ids"].shape
        return {
            name: padded[name].astype(dtype, copy=False)
            if name in padded
            else np.zeros(shape, dtype=dtype)
            for name, dtype in self.inputs.items()
        }

    def _batches(self, encoded: dict, batch_size: int) -> list[list[int]]:
        lengths = [len(x) for x in encoded["input_ids"]]
        return length_sorted_batches(lengths, batch_size, self.max_batch_tokens)

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Probabilities, (n, n_labels), in input order (batches sorted by length, padded per batch)."""
        encoded = self.tokenizer.encode(list(texts))
        out = np.zeros((len(texts), self.n_labels), dtype=np.float32)
        for batch in self._batches(encoded, batch_size):
            out[batch] = self.session.run([self.output_name], self._feed(encoded, batch))[0]
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
        encoded = self.tokenizer.encode(list(texts))
        out = np.zeros((len(texts), self.n_labels), dtype=np.float32)
        vectors = None
        names = [self.output_name, EMBEDDING_OUTPUT]
        for batch in self._batches(encoded, batch_size):
            probs, emb = self.session.run(names, self._feed(encoded, batch))
            if vectors is None:
                vectors = np.zeros((len(texts), emb.shape[1]), dtype=np.float32)
            out[batch], vectors[batch] = probs, emb
        return out, vectors
