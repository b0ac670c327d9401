"""The model card (`README.md` of the Hub folder), rendered offline with `huggingface_hub.ModelCard`
from `data/model_card_template.md` and the run's real files:

- `eval/metrics.json` (`make eval`): test tables for the model and the baselines and the
  `model-index` metadata. Without it the card says evaluation was not run and has no `model-index`.
- `train_summary.json` and `config.yaml` (`make train`): hardware, time, hyper-parameters.
- `clausewatch.json`: labels, definitions, thresholds.
- the built dataset's `stats.json`: sources and their licences (the card's licence follows them).
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from train.card import SOURCE_LICENSES
from train.modelio import ModelMeta
from train.paths import REPO_ROOT, repo_path
from train.splits import SPLITS

MODEL_CARD_TEMPLATE = REPO_ROOT / "data" / "model_card_template.md"
PLACEHOLDER_REPO_ID = "your-username/clausewatch"
NONCOMMERCIAL_LICENSE = "opp115-noncommercial"
NONCOMMERCIAL_LICENSE_NAME = "opp115-research-non-commercial"

TAGS = [
    "clausewatch",
    "terms-of-service",
    "privacy-policy",
    "legal",
    "ai-training",
    "multi-label-classification",
    "onnx",
]
SYSTEM_NAMES = {
    "model": "this model",
    "tfidf_logreg": "TF-IDF + logistic regression",
    "keyword": "keyword rules",
}
# `model.model_name_or_path` values that stand for a Hub model.
BUNDLED_BASE_MODELS = {"bundled:all-MiniLM-L6-v2": "sentence-transformers/all-MiniLM-L6-v2"}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def python_snippets(card_text: str) -> list[str]:
    """The fenced ```python blocks of a card, in order."""
    return _PYTHON_BLOCK.findall(card_text)


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def load_run_files(run_dir: Path) -> dict:
    """metrics (None when `make eval` was not run), summary, config and dataset stats of a run."""
    import yaml

    config_path = run_dir / "config.yaml"
    config = (
        yaml.safe_load(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    )
    data = (config or {}).get("data", {})
    stats = None
    if not data.get("train_file") and data.get("dataset_dir"):
        stats = _read_json(repo_path(data["dataset_dir"]) / "stats.json")
    metrics = _read_json(run_dir / "eval" / "metrics.json")
    return {
        "metrics": metrics if metrics and isinstance(metrics.get("test"), dict) else None,
        "summary": _read_json(run_dir / "train_summary.json") or {},
        "config": config or {},
        "stats": stats,
    }


def hub_base_model(name: str) -> str | None:
    """The Hub id behind `model.model_name_or_path`, or None for a local folder."""
    if name in BUNDLED_BASE_MODELS:
        return BUNDLED_BASE_MODELS[name]
    if _HUB_ID.match(name) and not Path(name).exists():
        return name
    return None


def card_license(licenses: list[str] | None, override: str | None = None) -> tuple[str, str | None]:
    """(license, license_name) for the metadata: OPP-115 makes the model non-commercial."""
    if override:
        return override, ("custom" if override == "other" else None)
    if licenses is None:
        return "other", "unrecorded-training-data"
    if NONCOMMERCIAL_LICENSE in licenses:
        return "other", NONCOMMERCIAL_LICENSE_NAME
    return "apache-2.0", None


def license_text(licenses: list[str] | None, license: str, override: str | None) -> str:
    """The card's licence section, in words."""
    if override:
        return f"Released under `{license}` (set by whoever exported the model)."
    if licenses is None:
        return (
            "This model was trained on clause files supplied by the user, whose licences were not "
            "recorded: check the terms of that data before using or sharing the model, then set the "
            "licence with `make export ARGS=--license <id>`."
        )
    if NONCOMMERCIAL_LICENSE in licenses:
        return (
            "**Research and non-commercial use only.** This model was trained on OPP-115 "
            "(Wilson et al., 2016), whose annotations are made available for research and teaching "
            "only, not for commercial use. A model trained on them inherits that restriction: you may "
            "use it for research, teaching and non-commercial work, but not in a commercial product "
            "or service. The other sources' licences are listed under Training data. To make a model "
            "without this restriction, rebuild the dataset without OPP-115 "
            "(`make data EXCLUDE_LICENSES=opp115-noncommercial`) and retrain; labels that OPP-115 "
            "supplied (collection, sharing, retention, user control) then have fewer examples. The "
            "ClauseWatch code is Apache-2.0."
        )
    return (
        "The weights are released under Apache-2.0, like the ClauseWatch code. The training data "
        f"was built from sources under {', '.join(f'`{x}`' for x in sorted(licenses))} (listed "
        "per source under Training data); check whether their terms matter for your use."
    )


def _fmt(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{float(value):.{digits}f}"


def _ci(value) -> str:
    if not value or len(value) != 2 or None in value:
        return "n/a"
    return f"[{value[0]:.3f}, {value[1]:.3f}]"


def headline_metrics(metrics: dict) -> tuple[dict, str]:
    """The results a reader should see first: the real clauses of the test split
    (`by_origin.real`, with intervals) when evaluation recorded them, else all test clauses."""
    real = (metrics.get("by_origin") or {}).get("real") or {}
    model = real.get("model") if isinstance(real, dict) else None
    if (
        isinstance(model, dict)
        and "macro_f1" in model
        and any(isinstance(v, dict) and "f1_ci95" in v for v in model.values())
    ):
        return real, "real"
    return metrics["test"], "all"


def eval_results(
    test: dict, labels: list[str], dataset_type: str, dataset_name: str
) -> list[EvalResult]:
    """`model-index` entries from the model's test metrics: macro and micro F1, and precision,
    recall and F1 of each label, rounded to 4 decimals."""
    common = dict(
        task_type="text-classification",
        task_name="Multi-label clause classification",
        dataset_type=dataset_type,
        dataset_name=dataset_name,
        dataset_split="test",
    )
    results = [
        EvalResult(
            **common,
            metric_type="f1",
            metric_name=f"{avg.capitalize()} F1",
            metric_config=avg,
            metric_value=round(float(test[f"{avg}_f1"]), 4),
        )
        for avg in ("macro", "micro")
    ]
    for label in labels:
        for kind in ("precision", "recall", "f1"):
            value = test.get(label, {}).get(kind)
            if value is None:
                continue
            results.append(
                EvalResult(
                    **common,
                    metric_type=kind,
                    metric_name=f"{'F1' if kind == 'f1' else kind.capitalize()} ({label})",
                    metric_config=label,
                    metric_value=round(float(value), 4),
                )
            )
    return results


def _breakdowns(metrics: dict) -> list[dict]:
    """Macro/micro F1 tables for `by_source` / `by_origin`, whichever shape holds them
    ({group: metrics}, {group: {"model": metrics}}, or either under a "test" key)."""
    tables = []
    for key, title in (("by_source", "By source (test)"), ("by_origin", "By origin (test)")):
        section = metrics.get(key)
        if isinstance(section, dict) and isinstance(section.get("test"), dict):
            section = section["test"]
        rows = []
        for name, value in (section or {}).items() if isinstance(section, dict) else []:
            block = value.get("model", value) if isinstance(value, dict) else None
            if isinstance(block, dict) and "macro_f1" in block:
                rows.append(
                    {
                        "name": f"`{name}`",
                        "macro": _fmt(block["macro_f1"]),
                        "micro": _fmt(block.get("micro_f1")),
                    }
                )
        if rows:
            tables.append({"title": title, "key": key.removeprefix("by_"), "rows": rows})
    return tables


def _evaluation_context(metrics: dict, labels: list[str], built_dataset: bool) -> dict:
    test, subset = headline_metrics(metrics)
    systems = [s for s in ("model", "tfidf_logreg", "keyword") if s in test]
    systems += [s for s in test if s not in systems and isinstance(test[s], dict)]
    model = test["model"]
    names = [SYSTEM_NAMES.get(s, s) for s in systems]
    baselines = [s for s in systems if s != "model"]
    best = max(baselines, key=lambda s: test[s].get("macro_f1", 0.0), default=None)
    split = (
        "Test split: services that appear in neither training nor validation (the split is by "
        "service)"
        if built_dataset
        else "Test split: the test clause file given for training"
    )
    if subset == "real":
        team = (metrics.get("by_origin") or {}).get("team") or {}
        split += (
            f"; **real clauses only** ({test.get('clauses', 'n/a')} clauses from public documents; "
            f"the {team.get('clauses', 'n/a')} team-written test clauses are reported apart, "
            "under by origin)"
        )
    intro = (
        f"{split}, with the thresholds tuned on validation. Baselines were trained and scored on "
        f"the same splits in the same run. Macro-F1 {_fmt(model['macro_f1'])}"
        + (
            f" against {_fmt(test[best]['macro_f1'])} for the best baseline ({SYSTEM_NAMES.get(best, best)})."
            if best
            else "."
        )
    )
    return {
        "evaluated": True,
        "eval_intro": intro,
        "system_names": names,
        "system_rows": [
            {
                "name": f"**{SYSTEM_NAMES.get(s, s)}**" if s == "model" else SYSTEM_NAMES.get(s, s),
                "macro": _fmt(test[s].get("macro_f1")),
                "micro": _fmt(test[s].get("micro_f1")),
                "ai": _fmt(test[s].get("ai_training", {}).get("f1")),
            }
            for s in systems
        ],
        "model_rows": [
            {
                "name": label,
                "precision": _fmt(model.get(label, {}).get("precision")),
                "recall": _fmt(model.get(label, {}).get("recall")),
                "f1": _fmt(model.get(label, {}).get("f1")),
                "ci": _ci(model.get(label, {}).get("f1_ci95")),
                "ap": _fmt(model.get(label, {}).get("average_precision")),
                "support": model.get(label, {}).get("support", "n/a"),
            }
            for label in labels
        ],
        "f1_rows": [
            {"name": label, "cells": [_fmt(test[s].get(label, {}).get("f1")) for s in systems]}
            for label in labels
        ],
        "breakdowns": _breakdowns(metrics),
        "headline": (
            f"On {'held-out services' if built_dataset else 'the test split'}: "
            f"macro-F1 **{_fmt(model['macro_f1'])}**, micro-F1 "
            f"**{_fmt(model['micro_f1'])}**, `ai_training` F1 "
            f"**{_fmt(model.get('ai_training', {}).get('f1'))}** (details under Evaluation)."
        ),
    }


def _data_context(stats: dict | None, config: dict, summary: dict, trained_hash: str = "") -> dict:
    if stats is None and not config:
        return {
            "source_rows": [],
            "data_summary": "Not recorded: the run folder has no `config.yaml`.",
            "licenses": None,
        }
    if stats is None:
        data = config.get("data", {})
        files = [
            Path(data[k]).name
            for k in ("train_file", "validation_file", "test_file")
            if data.get(k)
        ]
        described = ", ".join(f"`{f}`" for f in files) or "files not recorded"
        return {
            "source_rows": [],
            "data_summary": (
                f"Trained on the user's own clause files ({described}); "
                f"{summary.get('train_clauses', 'an unrecorded number of')} training clauses."
            ),
            "licenses": None,
        }
    sources = sorted(
        {s for split in SPLITS for s in stats["splits"].get(split, {}).get("sources", {})}
    )
    rows = [
        {
            "source": source,
            "license": SOURCE_LICENSES.get(source, "unknown"),
            **{
                split: stats["splits"].get(split, {}).get("sources", {}).get(source, 0)
                for split in SPLITS
            },
        }
        for source in sources
    ]
    counts = ", ".join(
        f"{stats['splits'][s]['clauses']} {s}" for s in SPLITS if s in stats["splits"]
    )
    services = ", ".join(
        f"{stats['splits'][s].get('services', '?')} {s}" for s in SPLITS if s in stats["splits"]
    )
    excluded = ", ".join(stats.get("exclude_licenses") or []) or "none"
    summary_text = (
        f"The ClauseWatch clause dataset (content hash `{stats.get('content_hash', '')[:12]}`): "
        f"{counts} clauses; services {services}. Splits are by service: a service is in one split "
        "only, and near-duplicate text never sits in two splits. Licences excluded from this build: "
        f"{excluded}. Clauses per source:"
    )
    built_hash = stats.get("content_hash", "")
    if trained_hash and built_hash and trained_hash != built_hash:
        # The dataset was rebuilt after training: say so rather than describe it as the model's.
        warnings.warn(
            f"the built dataset ({built_hash[:12]}) is not the one the model was trained on "
            f"({trained_hash[:12]}); the card's data counts describe the current build",
            stacklevel=2,
        )
        summary_text = (
            f"**Note:** the model was trained on dataset `{trained_hash[:12]}`, but the dataset "
            "was rebuilt since; the counts and licences below describe the current build "
            f"`{built_hash[:12]}`.\n\n{summary_text}"
        )
    return {
        "source_rows": rows,
        "data_summary": summary_text,
        "licenses": list(stats.get("licenses", [])),
    }


def _duration(seconds) -> str:
    if seconds is None:
        return "n/a"
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _training_items(config: dict, summary: dict, meta: ModelMeta) -> list[str]:
    t = config.get("training", {})
    items = [
        f"Base model `{meta.base_model}`; sequence classification head with {len(meta.labels)} "
        f"outputs; inputs truncated to {meta.max_length} tokens.",
        "Loss: binary cross-entropy over annotated label entries only (masked entries count for "
        f"nothing), positive weights `{t.get('pos_weight', 'n/a')}` (cap {t.get('pos_weight_cap', 'n/a')}).",
    ]
    if t:
        items.append(
            f"AdamW, learning rate {t.get('learning_rate')}, {t.get('lr_scheduler_type')} schedule with "
            f"warm-up {t.get('warmup_ratio')}, weight decay {t.get('weight_decay')}, batch size "
            f"{t.get('per_device_train_batch_size')} x {t.get('gradient_accumulation_steps', 1)} "
            f"accumulation, up to {t.get('num_train_epochs')} epochs with early stopping on "
            f"validation macro-F1, seed {t.get('seed')}."
        )
    if summary:
        items.append(
            f"{summary.get('train_clauses', 'n/a')} training clauses; {summary.get('global_step', 'n/a')} "
            f"steps, {_fmt(summary.get('epochs_completed'), 2)} epochs completed."
        )
    tuned_on = (summary or {}).get("thresholds_tuned_on") or {}
    real = [name for name, rows in tuned_on.items() if rows == "real"]
    if real:
        items.append(
            "Per-label thresholds chosen on the validation split to maximise F1, on its real clauses "
            f"alone for {', '.join(f'`{n}`' for n in real)} (the labels with at least 20 real "
            "validation positives), on every validation clause for the rest."
        )
    else:
        items.append("Per-label thresholds chosen on the validation split to maximise F1.")
    return items


def _hardware_items(summary: dict) -> list[str]:
    if not summary:
        return ["Not recorded (the run folder has no `train_summary.json`)."]
    hw = summary.get("hardware", {})
    if hw.get("gpu"):
        device = f"{hw.get('gpu_count', 1)} x {hw['gpu']}"
    else:
        cpu = f"{hw['cpu']}, " if hw.get("cpu") else ""
        device = f"CPU only ({cpu}{hw.get('cpu_count', '?')} cores, {hw.get('torch_threads', '?')} torch threads)"
    speed = summary.get("train_samples_per_second")
    return [
        f"Hardware: {device}; {hw.get('platform', 'platform not recorded')}.",
        f"Software: Python {hw.get('python', '?')}, PyTorch {hw.get('torch', '?')}.",
        f"Training time {_duration(summary.get('train_runtime_s'))} "
        f"({_fmt(speed, 1)} training samples/s); whole run {_duration(summary.get('wall_time_s'))}.",
    ]


def build_model_card(
    run_dir: str | Path,
    meta: ModelMeta,
    parity: dict | None = None,
    repo_id: str | None = None,
    license: str | None = None,
    dataset_id: str | None = None,
    onnx_files: list[str] | None = None,
    onnx_inputs: list[str] | None = None,
) -> ModelCard:
    """Render the card from the run folder's files; never touches the network."""
    run_dir = Path(run_dir)
    files = load_run_files(run_dir)
    metrics, summary, config = files["metrics"], files["summary"], files["config"]
    repo_id = repo_id or PLACEHOLDER_REPO_ID
    model_name = repo_id.split("/")[-1]
    labels = list(meta.labels)
    data = _data_context(files["stats"], config, summary, meta.dataset_hash)
    license_id, license_name = card_license(data["licenses"], license)
    base = hub_base_model(meta.base_model)
    dataset_type = dataset_id or "clausewatch-clauses"
    onnx_files = onnx_files if onnx_files is not None else ["model.onnx", "model-int8.onnx"]

    card_data = ModelCardData(
        language="en",
        license=license_id,
        license_name=license_name,
        library_name="transformers",
        pipeline_tag="text-classification",
        tags=TAGS,
        base_model=base,
        datasets=[dataset_id] if dataset_id else None,
        metrics=["f1", "precision", "recall"],
        model_name=model_name if metrics else None,
        eval_results=(
            eval_results(
                headline_metrics(metrics)[0]["model"],
                labels,
                dataset_type,
                "ClauseWatch clauses"
                + (" (real text)" if headline_metrics(metrics)[1] == "real" else ""),
            )
            if metrics
            else None
        ),
        widget=[{"text": "We may use your content to train and improve our AI models."}],
    )
    context = {
        "model_name": model_name,
        "repo_id": repo_id,
        "labels": labels,
        "base_model": meta.base_model if not base else base,
        "base_model_link": base,
        "taxonomy_version": meta.taxonomy_version or "n/a",
        "dataset_hash_short": (meta.dataset_hash or "n/a")[:12],
        "max_length": meta.max_length,
        "noncommercial": license_name == NONCOMMERCIAL_LICENSE_NAME,
        "label_rows": [
            {
                "name": name,
                "threshold": f"{threshold:.2f}",
                "report_threshold": f"{report:.2f}",
                "definition": meta.label_definitions.get(name, ""),
            }
            for name, threshold, report in zip(
                labels, meta.thresholds, meta.report_thresholds or meta.thresholds, strict=True
            )
        ],
        "has_int8": "model-int8.onnx" in onnx_files,
        "onnx_file": "model-int8.onnx" if "model-int8.onnx" in onnx_files else "model.onnx",
        "onnx_inputs": onnx_inputs or ["input_ids", "attention_mask", "token_type_ids"],
        "parity": _parity_context(parity),
        "source_rows": data["source_rows"],
        "data_summary": data["data_summary"],
        "license_text": license_text(data["licenses"], license_id, license),
        "evaluated": False,
        "headline": "",
        "model_path_hint": str(run_dir / "model"),
        "training_items": _training_items(config, summary, meta),
        "hardware_items": _hardware_items(summary),
    }
    if metrics:
        context.update(_evaluation_context(metrics, labels, files["stats"] is not None))
    return ModelCard.from_template(card_data, template_path=str(MODEL_CARD_TEMPLATE), **context)


def _parity_context(parity: dict | None) -> dict | None:
    if not parity or "fp32" not in parity:
        return None
    out = {
        "n_clauses": parity["n_clauses"],
        "fp32_max": f"{parity['fp32']['max_abs_diff']:.1e}",
        "fp32_mean": f"{parity['fp32']['mean_abs_diff']:.1e}",
        "int8_max": None,
    }
    if "int8" in parity:
        out["int8_max"] = f"{parity['int8']['max_abs_diff']:.1e}"
        out["int8_agreement"] = f"{100 * parity['int8']['label_agreement']:.1f}%"
    return out


def write_model_card(folder: str | Path, run_dir: str | Path, meta: ModelMeta, **kwargs) -> Path:
    """Render the card (see `build_model_card`) into `folder/README.md`."""
    path = Path(folder) / "README.md"
    card = build_model_card(run_dir, meta, **kwargs)
    path.write_text(str(card), encoding="utf-8")
    return path
