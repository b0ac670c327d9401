"""Benchmarks: speed and memory of every inference path side by side on the same real clauses,
and quality on real-world policy changes (`ota_ai_changes`, hand-labelled).

Each speed path runs in a fresh subprocess so its peak memory is its own and no path warms
another's caches. Everything measured is printed and written to `outputs/bench/bench.json`.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from train.machine import hardware_info, peak_rss_mb
from train.metrics import apply_thresholds
from train.paths import REPO_ROOT, default_raw_dir
from train.textnorm import normalize_text

SPEED_PATHS = ("pipeline_default", "pipeline_b32", "torch_fp32", "onnx_fp32", "onnx_int8")
GPU_PATHS = ("pipeline_b32_gpu", "torch_bf16_gpu", "torch_fp32_gpu")
# Label agreement is measured against PyTorch fp32 on CPU, or on the GPU when only GPU paths run.
REFERENCES = ("torch_fp32", "torch_fp32_gpu")
BASELINE = "pipeline_b32"


# ----------------------------------------------------------------------------- clauses


def sample_corpus_clauses(raw_dir: Path, n: int, seed: int, max_chars: int) -> list[str]:
    """A fixed, seeded sample of `n` clauses segmented from `tosdr_corpus_text` documents."""
    from train.segment import segment_document
    from train.sources import corpus_documents
    from train.splits import seeded_order

    docs = seeded_order(corpus_documents(raw_dir), seed, lambda p: p.name)
    if not docs:
        raise FileNotFoundError(f"{raw_dir}: no tosdr_corpus_text documents (set RAW_DIR)")
    pool: list[str] = []
    for path in docs:
        text = path.read_text(encoding="utf-8", errors="replace")
        pool += [c.text for c in segment_document(text, "txt", max_chars=max_chars)[1]]
        if len(pool) >= 3 * n:
            break
    return random.Random(seed).sample(pool, min(n, len(pool)))


# ----------------------------------------------------------------------------- one speed path


def run_path(
    path: str, export_dir: Path, texts: list[str], launched: float | None = None
) -> tuple[np.ndarray, float, float | None]:
    """Probabilities for `texts` through one inference path, the seconds it took (model loading
    excluded, tokenisation included) and the seconds from `launched` (the process start, as
    `time.time()`) to the first scored clause: imports, model loading and one clause."""
    from train.inference import ClausePredictor
    from train.modelio import load_meta

    hf = export_dir / "hf"
    meta = load_meta(hf)
    if path.startswith("pipeline"):
        import torch
        from transformers import pipeline

        device = 0 if path.endswith("gpu") else -1
        dtype = torch.bfloat16 if path.endswith("gpu") else torch.float32
        pipe = pipeline(
            "text-classification",
            model=str(hf),
            device=device,
            top_k=None,
            function_to_apply="sigmoid",
            dtype=dtype,
        )
        kwargs = {"truncation": True, "max_length": meta.max_length}
        pipe(texts[:1], **kwargs)
        first = time.time() - launched if launched else None
        if path != "pipeline_default":
            kwargs["batch_size"] = 32
        start = time.perf_counter()
        outputs = pipe(texts, **kwargs)
        seconds = time.perf_counter() - start
        probs = np.array(
            [[{d["label"]: d["score"] for d in out}[n] for n in meta.labels] for out in outputs]
        )
        return probs, seconds, first
    backend = {
        "torch_fp32": "torch",
        "torch_bf16_gpu": "torch",
        "torch_fp32_gpu": "torch",
        "onnx_fp32": "onnx",
        "onnx_int8": "onnx-int8",
    }[path]
    device = "cuda" if path.endswith("gpu") else "cpu"
    predictor = ClausePredictor(
        export_dir,
        backend=backend,
        device=device if backend == "torch" else None,
        precision="fp32" if path.startswith("torch_fp32") else "auto",
    )
    predictor.predict_proba(texts[:1])
    first = time.time() - launched if launched else None
    predictor.predict_proba(texts[:8])  # first-call set-up is not throughput
    start = time.perf_counter()
    # Each backend's own batch size: 64 clauses on CPU, 512 with PyTorch on a GPU.
    probs = predictor.predict_proba(texts)
    return probs, time.perf_counter() - start, first


def worker(argv: list[str]) -> None:
    """Subprocess entry: run one path, save probabilities, print a JSON line with timings."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", required=True)
    parser.add_argument("--export", type=Path, required=True)
    parser.add_argument("--clauses", type=Path, required=True)
    parser.add_argument("--probs-out", type=Path, required=True)
    parser.add_argument("--launched", type=float, default=None, help="time.time() at launch")
    args = parser.parse_args(argv)
    texts = json.loads(args.clauses.read_text())
    probs, seconds, first = run_path(args.path, args.export, texts, args.launched)
    np.save(args.probs_out, probs)
    info = {"seconds": seconds, "first_clause_s": first, "n": len(texts)}
    print(json.dumps({**info, "peak_rss_mb": peak_rss_mb()}))


def measure_speed(export_dir: Path, texts: list[str], work: Path, paths: list[str]) -> dict:
    """Run each path in its own process; clauses/s, ratio to the batch-32 pipeline, peak memory,
    and label agreement with PyTorch fp32 (same thresholds)."""
    from train.modelio import load_meta

    meta = load_meta(export_dir / "hf")
    clause_file = work / "bench_clauses.json"
    clause_file.write_text(json.dumps(texts))
    results: dict = {}
    probs: dict = {}
    for path in paths:
        out = work / f"probs_{path}.npy"
        cmd = [
            sys.executable,
            "-m",
            "train.bench",
            "--worker",
            "--path",
            path,
            "--export",
            str(export_dir),
            "--clauses",
            str(clause_file),
            "--probs-out",
            str(out),
            "--launched",
        ]
        print(f"[bench] {path} ...", flush=True)
        proc = subprocess.run([*cmd, repr(time.time())], capture_output=True, text=True)
        if proc.returncode != 0:
            results[path] = {
                "error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"
            }
            print(f"[bench] {path} failed: {results[path]['error']}")
            continue
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        results[path] = {
            "clauses_per_s": info["n"] / info["seconds"],
            "seconds": info["seconds"],
            "peak_rss_mb": info["peak_rss_mb"],
            "first_clause_s": info.get("first_clause_s"),
        }
        probs[path] = np.load(out)
    reference = next((p for p in REFERENCES if p in probs), None)
    ref_flags = apply_thresholds(probs[reference], meta.thresholds) if reference else None
    base = results.get(BASELINE, {}).get("clauses_per_s")
    for path, p in probs.items():
        r = results[path]
        flags = apply_thresholds(p, meta.thresholds)
        # Share of these real corpus clauses each label flags: what a user sees on whole documents.
        r["flag_rate"] = dict(zip(meta.labels, flags.mean(axis=0).tolist(), strict=True))
        if base:
            r["speedup_vs_pipeline_b32"] = r["clauses_per_s"] / base
        if ref_flags is not None:
            r["agreement_reference"] = reference
            r["label_agreement_vs_torch_fp32"] = float((flags == ref_flags).mean())
            r["clause_agreement_vs_torch_fp32"] = float((flags == ref_flags).all(axis=1).mean())
            r["max_abs_prob_diff_vs_torch_fp32"] = float(np.abs(p - probs[reference]).max())
    return results


# ----------------------------------------------------------------------------- real-world changes


def _pr(pred: np.ndarray, gold: np.ndarray) -> dict:
    tp = int(((pred == 1) & (gold == 1)).sum())
    fp = int(((pred == 1) & (gold == 0)).sum())
    fn = int(((pred == 0) & (gold == 1)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def denials_listed(result: dict, denials: Sequence[str]) -> int:
    """How many of `denials` (texts of the hand-labelled denials and restrictions on users that a
    pair's new version adds) the diff `result` lists as newly flagged `ai_training`: what a reader
    of the diff would take for a grant. (The model may flag such a clause on its own and the diff
    still not list it, when the clause is a list item read with a lead-in that forbids it.)"""
    wanted = {normalize_text(t) for t in denials}
    return sum(
        1
        for x in result["newly_flagged"]
        if "ai_training" in x["new_labels"] and normalize_text(x["text"]) in wanted
    )


def pair_is_right(change: str, expect: dict, added_denials_flagged: int) -> bool:
    """One `ota_ai_changes` pair is right when the diff's `ai_training` change says what a reader
    found: `granted` or `widened` count as a new grant, `withdrawn` or `narrowed` as a removed one
    (`reworded` and `unchanged` as neither), and no added denial or restriction on users is
    flagged. `expect` holds `expect_new_ai_grant` and `expect_removed_ai_grant` ("0" / "1")."""
    from train.label_changes import GAINS, LOSSES

    return (
        (change in GAINS) == bool(int(expect["expect_new_ai_grant"]))
        and (change in LOSSES) == bool(int(expect["expect_removed_ai_grant"]))
        and not added_denials_flagged
    )


def ota_quality(model_dir: Path, raw_dir: Path, dataset_dir: Path, backend: str) -> dict:
    """`ai_training` precision/recall of the model and both baselines on the hand-labelled
    clauses added or removed in the `ota_ai_changes` pairs, and how many pairs the diff gets right."""
    import csv

    from train.baselines import KeywordBaseline, TfidfLogRegBaseline
    from train.diff import diff_documents
    from train.evaluation import load_baseline_rows
    from train.inference import ClausePredictor
    from train.label_changes import GAINS, LOSSES
    from train.ota import OTA_LABELS, load_ota_labels, load_ota_pairs, read_version
    from train.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    ai = taxonomy.index("ai_training")
    records = load_ota_labels(OTA_LABELS, raw_dir)
    texts = [r["text"] for r in records]
    gold = np.array([r["ai_training"] for r in records])
    predictor = ClausePredictor(model_dir, backend=backend)
    systems = {"model": predictor.flag(predictor.predict_proba(texts))[:, ai]}
    train_rows, val_rows = load_baseline_rows(dataset_dir, None, taxonomy)
    for name, baseline in (
        ("tfidf_logreg", TfidfLogRegBaseline(taxonomy.names)),
        ("keyword", KeywordBaseline(taxonomy.names)),
    ):
        baseline.fit(train_rows, val_rows)
        systems[name] = apply_thresholds(baseline.predict_proba(texts), baseline.thresholds)[:, ai]
    clauses = {name: _pr(pred, gold) for name, pred in systems.items()}
    directions = sorted({r["direction"] for r in records})
    for name, pred in systems.items():
        clauses[name]["flagged_by_direction"] = {
            d: int(sum(p for p, r in zip(pred, records, strict=True) if r["direction"] == d))
            for d in directions
        }
    counts = {d: sum(r["direction"] == d for r in records) for d in directions}

    expectations = {}
    with (REPO_ROOT / "data" / "ota_pair_expectations.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            expectations[int(row["pair_id"])] = row
    flagged_denials, denial_texts = {}, {}
    for r, p in zip(records, systems["model"], strict=True):
        if r["side"] == "added" and r["direction"] in ("denial", "user_restriction"):
            denial_texts.setdefault(r["pair_id"], []).append(r["text"])
            if p:
                flagged_denials[r["pair_id"]] = flagged_denials.get(r["pair_id"], 0) + 1
    pairs = []
    for pair in load_ota_pairs():
        pid = int(pair["pair_id"])
        result = diff_documents(
            predictor,
            read_version(raw_dir, pair["before_file"]),
            read_version(raw_dir, pair["after_file"]),
            "md",
        )
        ai_change = next(c for c in result["label_changes"] if c["label"] == "ai_training")
        new, lost = ai_change["change"] in GAINS, ai_change["change"] in LOSSES
        expect = expectations[pid]
        listed = denials_listed(result, denial_texts.get(pid, []))
        ok = pair_is_right(ai_change["change"], expect, listed)
        pairs.append(
            {
                "pair_id": pid,
                "service": pair["service"],
                "document": pair["document_type"],
                "ai_training_change": ai_change["change"],
                "new_grant_flagged": new,
                "removed_grant_flagged": lost,
                "expected_new": int(expect["expect_new_ai_grant"]),
                "expected_removed": int(expect["expect_removed_ai_grant"]),
                "added_denials_flagged": listed,
                "added_denials_flagged_alone": flagged_denials.get(pid, 0),
                "correct": ok,
            }
        )
    return {
        "n_clauses": len(records),
        "n_positive": int(gold.sum()),
        "directions": counts,
        "backend": predictor.backend_name,
        "clauses": clauses,
        "pairs": pairs,
        "pairs_correct": sum(p["correct"] for p in pairs),
        "pairs_total": len(pairs),
    }


# ----------------------------------------------------------------------------- report


def format_speed(speed: dict) -> str:
    lines = [
        f"{'path':<18}{'clauses/s':>11}{'x pipe b32':>12}{'peak MB':>10}{'first s':>9}{'agree':>9}"
    ]
    for path, r in speed.items():
        if "error" in r:
            lines.append(f"{path:<18}  failed: {r['error']}")
            continue
        lines.append(
            f"{path:<18}{r['clauses_per_s']:>11.1f}{r.get('speedup_vs_pipeline_b32', float('nan')):>12.2f}"
            f"{r['peak_rss_mb']:>10.0f}{r.get('first_clause_s') or float('nan'):>9.2f}"
            f"{r.get('label_agreement_vs_torch_fp32', float('nan')):>9.4f}"
        )
    return "\n".join(lines)


def labelled_gold_rates(dataset_dir: Path) -> dict | None:
    """Each label's share of positives on the exhaustively labelled real documents of the built
    dataset (all splits, and the test split alone): the rate a careful reader flags, to set
    beside what the model flags on ordinary corpus clauses."""
    stats_path = dataset_dir / "stats.json"
    if not stats_path.is_file():
        return None
    docs = json.loads(stats_path.read_text(encoding="utf-8")).get("labelled_documents") or {}
    if not docs or not sum(d.get("clauses", 0) for d in docs.values()):
        return None
    labels = list(next(iter(docs.values()))["positives"])
    total = sum(d["clauses"] for d in docs.values())
    out = {
        "documents": sum(d["documents"] for d in docs.values()),
        "clauses": total,
        "all": {n: sum(d["positives"][n] for d in docs.values()) / total for n in labels},
    }
    if docs.get("test", {}).get("clauses"):
        out["test"] = {n: docs["test"]["positives"][n] / docs["test"]["clauses"] for n in labels}
    return out


def format_rates(speed: dict, gold: dict | None) -> str:
    """Corpus flag rates of each path beside the gold rates of the labelled documents."""
    paths = [p for p, r in speed.items() if "flag_rate" in r]
    if not paths:
        return ""
    labels = list(speed[paths[0]]["flag_rate"])
    head = f"{'label':<18}" + ("" if gold is None else f"{'gold (docs)':>12}")
    lines = [head + "".join(f"{p[:16]:>18}" for p in paths)]
    for n in labels:
        row = f"{n:<18}" + ("" if gold is None else f"{gold['all'][n]:>12.3f}")
        lines.append(row + "".join(f"{speed[p]['flag_rate'][n]:>18.3f}" for p in paths))
    return "\n".join(lines)


def format_ota(ota: dict) -> str:
    lines = [
        f"real-world changes: {ota['n_clauses']} hand-labelled clauses, {ota['n_positive']} ai_training grants",
        f"{'system':<14}{'precision':>10}{'recall':>8}{'f1':>7}{'  flagged denials / user restrictions':>38}",
    ]
    for name, r in ota["clauses"].items():
        by = r["flagged_by_direction"]
        lines.append(
            f"{name:<14}{r['precision']:>10.3f}{r['recall']:>8.3f}{r['f1']:>7.3f}"
            f"{by.get('denial', 0):>20} / {by.get('user_restriction', 0)}"
        )
    lines.append(f"diff pairs right: {ota['pairs_correct']} / {ota['pairs_total']}")
    return "\n".join(lines)


def speed_paths(value: str | None) -> list[str]:
    """The speed paths asked for (`--paths`), or every CPU path and, on a CUDA machine, the GPU
    paths."""
    if value:
        paths = [p.strip() for p in value.split(",") if p.strip()]
        unknown = [p for p in paths if p not in SPEED_PATHS + GPU_PATHS]
        if unknown:
            raise SystemExit(
                f"error: --paths: unknown path(s) {', '.join(unknown)}; choose from "
                f"{', '.join(SPEED_PATHS + GPU_PATHS)}"
            )
        return paths
    import torch

    return list(SPEED_PATHS) + (list(GPU_PATHS) if torch.cuda.is_available() else [])


def speed_clauses(args: argparse.Namespace, raw_dir: Path, export_dir: Path) -> list[str]:
    """The clauses every speed path scores: `--clauses` (a JSON list of strings) or `--n`
    sampled from the corpus."""
    from train.modelio import load_meta

    if args.clauses is None:
        return sample_corpus_clauses(
            raw_dir, args.n, args.seed, 4 * load_meta(export_dir / "hf").max_length
        )
    try:
        texts = json.loads(args.clauses.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise SystemExit(f"error: --clauses {args.clauses}: {err}") from None
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise SystemExit(
            f"error: --clauses {args.clauses}: expected a non-empty JSON list of strings"
        )
    return texts


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--worker":
        worker(argv[1:])
        return {}
    parser = argparse.ArgumentParser(description="Speed and real-world benchmarks.")
    parser.add_argument("--model", default="outputs/latest/model", help="trained model folder")
    parser.add_argument("--export", default=None, help="export folder (default: <run>/export)")
    parser.add_argument("--raw-dir", type=Path, default=default_raw_dir())
    parser.add_argument(
        "--data", default="data/processed", help="built dataset (baselines train on it)"
    )
    parser.add_argument("--n", type=int, default=5000, help="clauses for the speed table")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", default="outputs/bench")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument(
        "--paths",
        default=None,
        help=f"comma-separated speed paths (default: {', '.join(SPEED_PATHS)}, and "
        f"{', '.join(GPU_PATHS)} on a CUDA machine)",
    )
    parser.add_argument(
        "--clauses",
        type=Path,
        default=None,
        help="a JSON list of clause texts for the speed table instead of --n clauses sampled "
        "from RAW_DIR's corpus (for a machine without the raw sources)",
    )
    parser.add_argument("--skip-ota", action="store_true")
    parser.add_argument("--ota-backend", default="torch", help="backend for the real-world table")
    parser.add_argument("--skip-diff", action="store_true", help="skip the large-diff timing")
    parser.add_argument(
        "--diff-bytes", type=int, default=2_000_000, help="size of each version in the diff timing"
    )
    parser.add_argument("--diff-backend", default="onnx-int8", help="backend for the diff timing")
    args = parser.parse_args(argv)
    model_dir = Path(args.model)
    export_dir = Path(args.export) if args.export else model_dir.resolve().parent / "export"
    raw_dir = Path(args.raw_dir)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    if not (export_dir / "hf").is_dir():
        raise SystemExit(f"error: no export at {export_dir}; run `make export` first")
    report: dict = {
        "hardware": hardware_info(),
        "model": str(model_dir.resolve()),
        "n_clauses": args.n,
    }
    started = time.time()
    if not args.skip_speed:
        paths = speed_paths(args.paths)
        texts = speed_clauses(args, raw_dir, export_dir)
        report["n_clauses"] = len(texts)
        report["speed"] = measure_speed(export_dir, texts, out, paths)
        print(format_speed(report["speed"]))
        report["labelled_document_gold_rates"] = labelled_gold_rates(Path(args.data))
        print("share of corpus clauses flagged, beside the gold rate of the labelled documents")
        print(format_rates(report["speed"], report["labelled_document_gold_rates"]))
    if not args.skip_diff:
        from train import bench_diff

        report["big_diff"] = bench_diff.measure(
            str(export_dir),
            raw_dir,
            out / "big_diff",
            args.diff_bytes,
            args.seed,
            args.diff_backend,
        )
        print(bench_diff.format_result(report["big_diff"]))
    if not args.skip_ota:
        report["ota"] = ota_quality(model_dir, raw_dir, Path(args.data), args.ota_backend)
        print(format_ota(report["ota"]))
    report["wall_time_s"] = time.time() - started
    (out / "bench.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out / 'bench.json'} ({report['wall_time_s']:.0f}s)")
    return report


if __name__ == "__main__":
    main()
