"""A deterministic stand-in for `ClausePredictor`, shared by the batch-inference, hostile-input,
diff and watch tests."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

LABELS = [
    "ai_training",
    "content_license",
    "data_collection",
    "data_sharing",
    "data_retention",
    "terms_change",
    "user_control",
]


class FakePredictor:
    """The ClausePredictor interface with rules instead of a model: `ai_training` when a clause
    says "train" and not "not"; `content_license` when it says "perpetual". Records every text it
    scores (`scored`) and the size of every scoring call (`calls`); call number `fail_on_call`
    raises KeyboardInterrupt instead (a simulated kill)."""

    def __init__(self, max_length: int = 64, fail_on_call: int | None = None) -> None:
        self.labels = list(LABELS)
        self.thresholds = np.full(len(LABELS), 0.5)
        self.meta = SimpleNamespace(max_length=max_length)
        self.backend_name = "torch"
        self.calls: list[int] = []
        self.scored: list[str] = []
        self.fail_on_call = fail_on_call

    def predict_proba(self, texts, batch_size=64):
        self.calls.append(len(texts))
        if len(self.calls) == self.fail_on_call:
            raise KeyboardInterrupt("simulated kill")
        self.scored += list(texts)
        probs = np.full((len(texts), len(LABELS)), 0.1, dtype=np.float32)
        for i, text in enumerate(texts):
            t = text.lower()
            if "train" in t and "not" not in t:
                probs[i, 0] = 0.9
            if "perpetual" in t:
                probs[i, 1] = 0.8
        return probs

    def flag(self, probs):
        return (np.asarray(probs) >= self.thresholds).astype(np.int64)


class EmbeddingFakePredictor(FakePredictor):
    """`FakePredictor` that also gives sentence embeddings, as exports since the diff pairs
    clauses by meaning do: texts that say "train" (or "perpetual") point the same way."""

    has_embeddings = True

    def predict_with_embeddings(self, texts, batch_size=64):
        probs = self.predict_proba(texts, batch_size)
        vectors = np.array(
            [[float("train" in t.lower()), float("perpetual" in t.lower()), 0.3] for t in texts],
            dtype=np.float32,
        ).reshape(len(texts), 3)
        return probs, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
