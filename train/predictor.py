"""The model a command scores with: loading a `ClausePredictor` (any failure is a one-line
`RunError`; a `max_length` beyond the model's position embeddings is clamped with a warning),
its fingerprint, and the longest clause the segmenter should produce for it."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from train.errors import RunError

logger = logging.getLogger("clausewatch.batch")


CHARS_PER_TOKEN = 4  # English legal text averages ~4 characters per word-piece token


def max_chars_for(max_length: int) -> int:
    """Longest clause (in characters) the segmenter should produce for a model that reads
    `max_length` tokens, so long sentences are split rather than silently truncated."""
    return max(64, CHARS_PER_TOKEN * int(max_length))


# Models whose position ids start after the padding index (RoBERTa family): usable positions are
# max_position_embeddings - (pad_token_id + 1).
_OFFSET_POSITIONS = {"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "mpnet", "longformer"}


def position_limit(model_folder: str | Path) -> int | None:
    """Most tokens the model in `model_folder` can read, from its `config.json`
    (`max_position_embeddings`); None when it does not say (or has no absolute positions)."""
    try:
        config = json.loads((Path(model_folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    limit = config.get("max_position_embeddings") if isinstance(config, dict) else None
    if not isinstance(limit, int) or limit <= 0 or config.get("position_biased_input") is False:
        return None
    if config.get("model_type") in _OFFSET_POSITIONS:
        pad = config.get("pad_token_id")
        limit -= (1 if pad is None else int(pad)) + 1
    return limit


def _clamp_max_length(predictor, model_folder: str | Path | None) -> None:
    """A `max_length` (clausewatch.json) beyond the model's position embeddings fails on the first
    long clause; clamp it, with a warning, in the predictor and its backend."""
    limit = position_limit(model_folder) if model_folder is not None else None
    meta = getattr(predictor, "meta", None)
    if limit is None or meta is None or meta.max_length <= limit:
        return
    logger.warning(
        "%s: max_length %d in clausewatch.json is more than the model's %d positions "
        "(config.json max_position_embeddings); clauses are cut at %d tokens",
        model_folder,
        meta.max_length,
        limit,
        limit,
    )
    meta.max_length = limit
    backend = getattr(predictor, "backend", None)
    if backend is not None and hasattr(backend, "max_length"):
        backend.max_length = limit


def load_predictor(model_dir: str | Path, backend: str = "auto", device: str | None = None):
    """A `ClausePredictor`, with any failure turned into a one-line `RunError`; a `max_length`
    longer than the model's position embeddings is clamped with a warning."""
    from train.inference import ClausePredictor, resolve_model_dirs

    try:
        predictor = ClausePredictor(model_dir, backend=backend, device=device)
    except Exception as err:  # any failure to load is "bad model": one line, not a traceback
        raise RunError(f"cannot load model {model_dir}: {err}") from err
    folder = resolve_model_dirs(model_dir).get(getattr(predictor, "backend_name", ""))
    _clamp_max_length(predictor, folder)
    return predictor


def model_fingerprint(model_dir: str | Path, backend: str) -> str:
    """SHA-256 of the model's `clausewatch.json` and the weights the backend reads."""
    from train.inference import ONNX_FILES, resolve_model_dirs
    from train.modelio import META_FILE

    digest = hashlib.sha256()
    try:
        folder = resolve_model_dirs(model_dir).get(backend)
    except FileNotFoundError:
        folder = None
    if folder is None:
        return ""
    weights = ONNX_FILES.get(backend, "model.safetensors")
    files = [folder / META_FILE, *sorted(folder.glob(weights + "*"))]
    for path in files:
        digest.update(path.name.encode())
        with path.open("rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
