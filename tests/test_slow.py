"""Tests that need the real bundled base model (all-MiniLM-L6-v2): `make test-slow`."""

from __future__ import annotations

import json

import pytest
from conftest import train_tiny

from train.inference import ClausePredictor
from train.training import resolve_model_path

pytestmark = pytest.mark.slow


def test_bundled_model_trains_and_predicts_offline(tmp_path, tiny_clauses):
    base = resolve_model_path("bundled:all-MiniLM-L6-v2")
    run = train_tiny(base, tiny_clauses, tmp_path, "training.max_steps=2", "model.max_length=64")
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["global_step"] == 2
    predictor = ClausePredictor(run / "model", backend="torch")
    probs = predictor.predict_proba(["We may use your content to train our AI models."])
    assert probs.shape == (1, 7) and ((probs >= 0) & (probs <= 1)).all()
