"""Configuration values and files that are wrong: each is one sentence naming where the value came
from (file:line or command line), the key, what is allowed and the value given."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from train.config import load_config
from train.errors import ConfigError
from train.training import main

REPO = Path(__file__).resolve().parent.parent
BASE = REPO / "configs" / "base.yaml"

# (key, value as written in YAML or on the command line, what the message says after the key)
BAD_VALUES = [
    ("training.per_device_train_batch_size", "0", "expected a whole number >= 1, got 0"),
    ("training.per_device_train_batch_size", "-4", "expected a whole number >= 1, got -4"),
    ("training.per_device_train_batch_size", "2.7", "expected a whole number >= 1, got 2.7"),
    ("training.per_device_eval_batch_size", "0", "expected a whole number >= 1, got 0"),
    ("training.gradient_accumulation_steps", "0", "expected a whole number >= 1, got 0"),
    ("training.max_steps", "true", "expected a whole number >= -1, got true (YAML reads"),
    ("training.num_train_epochs", "yes", "expected a number > 0, got true (YAML reads"),
    ("training.num_train_epochs", "three", "expected a number > 0, got 'three'"),
    ("training.num_train_epochs", "0", "expected a number > 0, got 0"),
    ("training.learning_rate", "-1.0e-05", "expected a number > 0, got -1e-05"),
    ("training.learning_rate", ".nan", "expected a number > 0, got nan"),
    ("training.warmup_ratio", "1.5", "expected a number >= 0 and < 1, got 1.5"),
    ("training.pos_weight_cap", "-2.0", "expected a number >= 1, got -2.0"),
    ("training.pos_weight", "auto", "expected one of none, sqrt, ratio, got 'auto'"),
    ("training.lr_scheduler_type", "cosine_annealing", "got 'cosine_annealing'"),
    ("training.bf16", "maybe", "expected one of auto, true, false, got 'maybe'"),
    ("training.group_by_length", "1", "expected true or false, got 1"),
    ("training.group_by_length", "sometimes", "expected true or false, got 'sometimes'"),
    ("training.seed", "-1", "expected a whole number >= 0 and <= 4294967295, got -1"),
    ("training.report_to", "tensorboard", "expected one of wandb, none, got 'tensorboard'"),
    ("training.run_name", "[a, b]", "expected text, got ['a', 'b']"),
    ("data.max_train_samples", "-1", "expected a whole number >= 0, got -1"),
    ("data.max_eval_samples", "-5", "expected a whole number >= 0, got -5"),
    ("model.max_length", "4", "expected a whole number >= 8, got 4"),
]


@pytest.mark.parametrize(("key", "value", "expected"), BAD_VALUES)
@pytest.mark.parametrize("origin", ["file", "command line"])
def test_bad_value_names_origin_key_allowed_and_value(tmp_path, origin, key, value, expected):
    section, name = key.split(".")
    if origin == "file":
        path = tmp_path / "exp.yaml"
        path.write_text(f"defaults: {BASE}\n{section}:\n  {name}: {value}\n")
        where = f"{path}:3"
        call = lambda: load_config(path)  # noqa: E731
    else:
        where = "command line"
        call = lambda: load_config(BASE, [f"{key}={value}"])  # noqa: E731
    with pytest.raises(ConfigError) as err:
        call()
    assert str(err.value).startswith(f"{where}: {key}: "), str(err.value)
    assert expected in str(err.value)


def test_scheduler_choices_come_from_transformers():
    from transformers.trainer_utils import SchedulerType

    with pytest.raises(ConfigError) as err:
        load_config(BASE, ["training.lr_scheduler_type=cosine_annealing"])
    for scheduler in SchedulerType:
        assert scheduler.value in str(err.value)


# (key, value, what the config holds afterwards)
GOOD_VALUES = [
    ("training.per_device_train_batch_size", "8.0", 8),
    ("training.per_device_train_batch_size", "'8'", 8),
    ("training.num_train_epochs", "2", 2.0),
    ("training.learning_rate", "2e-5", 2e-5),  # PyYAML reads this as a string
    ("training.max_steps", "-1", -1),
    ("training.group_by_length", "false", False),
    ("training.group_by_length", "'True'", True),
    ("training.bf16", "true", "true"),
    ("training.bf16", "false", "false"),
    ("training.lr_scheduler_type", "cosine", "cosine"),
    ("training.warmup_ratio", "0", 0.0),
    ("training.run_name", "2024", "2024"),
    ("training.overwrite_output_dir", "true", True),
]


@pytest.mark.parametrize(("key", "value", "expected"), GOOD_VALUES)
def test_good_values_keep_their_type(key, value, expected):
    section, name = key.split(".")
    got = getattr(getattr(load_config(BASE, [f"{key}={value}"]), section), name)
    assert got == expected and type(got) is type(expected)


# (file text, line the message names, what it says)
MALFORMED = [
    ("training:\n  learning_rate: [1.0e-04\n  seed: 3\n", 4, "flow sequence from line 3"),
    ("training:\n\tseed: 3\n", 3, "found character '\\t' that cannot start any token"),
    ("training:\n  seed: 3\n bad: 4\n", 4, "block mapping from line 1"),
    ('training:\n  run_name: "abc\n', 4, "quoted scalar from line 3"),
    ("training:\n  seed: 1\n  seed: : 2\n", 4, "mapping values are not allowed here"),
]


@pytest.mark.parametrize(("text", "line", "expected"), MALFORMED)
@pytest.mark.parametrize("where", ["experiment", "defaults"])
def test_malformed_yaml_names_file_and_line(tmp_path, where, text, line, expected):
    broken = tmp_path / "broken.yaml"
    broken.write_text(f"defaults: {BASE}\n" + text)
    path = broken
    if where == "defaults":
        path = tmp_path / "exp.yaml"
        path.write_text("defaults: broken.yaml\ntraining:\n  seed: 1\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{broken}:{line}: not valid YAML: "), str(err.value)
    assert expected in str(err.value)


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("training.run_name=[oops", "command line: training.run_name: cannot read the value"),
        ("training.seed", "override 'training.seed': write it as section.key=value"),
        ("optimiser.lr=1", "command line: unknown section 'optimiser'"),
    ],
)
def test_bad_override_is_one_sentence(item, expected):
    with pytest.raises(ConfigError, match=expected.replace(".", r"\.").replace("[", r"\[")):
        load_config(BASE, [item])


@pytest.mark.parametrize(
    "override",
    [
        "training.per_device_train_batch_size=0",
        "training.lr_scheduler_type=cosine_annealing",
        "data.max_train_samples=-1",
    ],
)
def test_main_stops_with_the_sentence_before_any_work(tmp_path, override):
    with pytest.raises(SystemExit) as err:
        main(["--config", str(BASE), f"training.output_root={tmp_path}", override])
    assert str(err.value).startswith(f"error: command line: {override.split('=')[0]}: expected")
    assert not any(tmp_path.iterdir())


def _tiny_variant(folder: Path, source: Path, tokenizer_max: int | None, **config) -> Path:
    """A copy of the tiny model with other config values (weights initialised to match) and,
    with tokenizer_max None, a tokenizer without a length limit of its own."""
    import torch
    from transformers import BertConfig, BertModel

    shutil.copytree(source, folder)
    torch.manual_seed(0)
    BertModel(BertConfig.from_pretrained(source, **config)).save_pretrained(folder)
    tokenizer_config = folder / "tokenizer_config.json"
    values = json.loads(tokenizer_config.read_text())
    values.pop("model_max_length", None)
    if tokenizer_max is not None:
        values["model_max_length"] = tokenizer_max
    tokenizer_config.write_text(json.dumps(values))
    return folder


@pytest.mark.parametrize(
    ("positions", "tokenizer_max", "max_length"),
    [
        (16, 64, 256),  # the tokenizer caps 256 at 64, still more than 16 positions
        (16, 64, 32),
        (64, None, 128),  # a tokenizer without a limit of its own
    ],
)
def test_max_length_beyond_position_embeddings_is_a_sentence(
    tmp_path, tiny_model_dir, tiny_clauses, positions, tokenizer_max, max_length
):
    model = _tiny_variant(
        tmp_path / "base", tiny_model_dir, tokenizer_max, max_position_embeddings=positions
    )
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as err:
        main(
            [
                "--config",
                str(BASE),
                f"model.model_name_or_path={model}",
                f"model.max_length={max_length}",
                f"data.train_file={tiny_clauses['train']}",
                f"data.validation_file={tiny_clauses['validation']}",
                f"training.output_root={out}",
                "training.run_name=tiny",
                "training.max_steps=1",
                "training.report_to=none",
            ]
        )
    assert str(err.value) == (
        f"error: model.max_length: {max_length} tokens is more than the base model {model} takes "
        f"(max_position_embeddings {positions} in its config.json); "
        f"set model.max_length to {positions} or less"
    )
    assert not out.exists()
