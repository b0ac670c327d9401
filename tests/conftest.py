"""Test setup: offline, quiet, few threads, and tiny random models built from configs."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Offline and quiet before any Hugging Face / wandb import.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["WANDB_MODE"] = "disabled"
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="clausewatch-hf-home-")
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("OMP_NUM_THREADS", "2")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(2)

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def raw_dir() -> Path:
    """The real raw data (RAW_DIR); tests that need it are skipped when it is not set."""
    value = os.environ.get("RAW_DIR")
    if not value or not Path(value).is_dir():
        pytest.skip("RAW_DIR is not set to the raw data folder (e.g. RAW_DIR=../shared/data/raw)")
    return Path(value)


TINY_WORDS = (
    "we may use your data content prompts to train improve our models artificial intelligence "
    "machine learning ai do not will never you grant us a worldwide licence license perpetual "
    "collect location device information share with third parties advertisers partners sell "
    "keep retain delete after days years account closure change these terms at any time continued "
    "use means acceptance opt out access export correct request settings privacy policy service "
    "the of and or to for in on by is are be it this that with from as an at its their any all"
).split()


def make_tiny_model(folder: Path) -> Path:
    """A 2-layer BERT with hidden size 32 and a word-level vocabulary, randomly initialised from a
    config: no download, a few hundred KB, fast enough for end-to-end tests."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(set(TINY_WORDS)), ".", ",", "'"]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), model_max_length=64)
    tokenizer.save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """Folder of the tiny random base model (shared by the whole session; do not modify)."""
    return make_tiny_model(tmp_path_factory.mktemp("tiny-bert"))


def make_tiny_clauses(
    folder: Path, n_train: int = 96, n_eval: int = 32, seed: int = 0
) -> dict[str, Path]:
    """Small labelled JSONL splits in the dataset format, built from templates (tests only),
    with one label masked on a third of the rows so masking is exercised."""
    import json
    import random

    from train.taxonomy import load_taxonomy

    names = load_taxonomy().names
    templates = {
        "ai_training": "we may use your content to train our ai models",
        "content_license": "you grant us a worldwide perpetual licence to your content",
        "data_collection": "we collect your location and device information",
        "data_sharing": "we share your information with advertisers and partners",
        "data_retention": "we retain your data for years after account closure",
        "terms_change": "we may change these terms at any time and continued use means acceptance",
        "user_control": "you can opt out and request access to export your data in settings",
    }
    negatives = [
        "we do not use your content to train ai models",
        "this privacy policy is for the service",
    ]
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, n in (("train", n_train), ("validation", n_eval), ("test", n_eval)):
        rows = []
        for i in range(n):
            chosen = [lab for lab in names if rng.random() < 0.25]
            text = " and ".join(templates[lab] for lab in chosen) or rng.choice(negatives)
            mask = [1] * len(names)
            if i % 3 == 0:
                mask[names.index("data_retention")] = 0
            rows.append(
                {
                    "id": f"{split}-{i}",
                    "text": text,
                    "labels": [int(lab in chosen) for lab in names],
                    "label_mask": mask,
                    "source": "fixture" if i % 2 else "team",
                    "origin": "team" if i % 2 else "real",
                }
            )
        paths[split] = folder / f"{split}.jsonl"
        paths[split].write_text("".join(json.dumps(r) + "\n" for r in rows))
    return paths


@pytest.fixture(scope="session")
def tiny_clauses(tmp_path_factory) -> dict[str, Path]:
    return make_tiny_clauses(tmp_path_factory.mktemp("tiny-clauses"))


def train_tiny(model_dir: Path, clauses: dict[str, Path], out: Path, *extra: str) -> Path:
    """Train the tiny model for a few steps through the real entry point; returns the run folder."""
    from train.training import main

    main(
        [
            "--config",
            str(Path(__file__).parent.parent / "configs" / "base.yaml"),
            f"model.model_name_or_path={model_dir}",
            f"data.train_file={clauses['train']}",
            f"data.validation_file={clauses['validation']}",
            f"data.test_file={clauses['test']}",
            f"training.output_root={out}",
            "training.run_name=tiny",
            "training.num_train_epochs=2",
            "training.per_device_train_batch_size=16",
            "training.learning_rate=1.0e-03",
            "training.logging_steps=5",
            "training.report_to=none",
            *extra,
        ]
    )
    return out / "tiny"


@pytest.fixture(scope="session")
def tiny_trained_model(tmp_path_factory, tiny_model_dir, tiny_clauses) -> Path:
    """A fine-tuned tiny model folder (`<run>/model`) with thresholds and clausewatch.json.
    Shared by the session: copy it before changing anything inside."""
    run = train_tiny(tiny_model_dir, tiny_clauses, tmp_path_factory.mktemp("tiny-run"))
    return run / "model"
