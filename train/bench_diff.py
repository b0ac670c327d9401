"""Benchmark: `diff` of two large, unrelated versions of a document.

The worst case for the diff: nothing aligns exactly, so every clause of both versions is segmented,
scored and offered to the reworded-clause search. Two versions of about `--bytes` bytes each are
built from disjoint, seeded sets of `tosdr_corpus_text` documents; the diff runs in a fresh process
(its peak memory is its own) and reports wall time, the time in segmentation, in the model and in
the alignment, and peak RSS.

    python -m train.bench_diff --model outputs/latest/export --backend onnx-int8 --raw-dir RAW
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from train.machine import peak_rss_mb
from train.paths import default_raw_dir

DEFAULT_BYTES = 2_000_000


def make_versions(raw_dir: Path, size: int, seed: int, work: Path) -> tuple[Path, Path]:
    """Two plain-text versions of at least `size` bytes each from disjoint corpus documents."""
    from train.sources import corpus_documents
    from train.splits import seeded_order

    docs = seeded_order(corpus_documents(raw_dir), seed, lambda p: p.name)
    if not docs:
        raise FileNotFoundError(f"{raw_dir}: no tosdr_corpus_text documents (set RAW_DIR)")
    work.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in ("old.txt", "new.txt"):
        parts, total = [], 0
        while total < size:
            if not docs:
                raise ValueError(f"{raw_dir}: the corpus holds less than {2 * size} bytes")
            data = docs.pop(0).read_bytes().decode("utf-8", errors="replace")
            parts.append(data)
            total += len(data.encode("utf-8"))
        path = work / name
        path.write_text("\n\n".join(parts), encoding="utf-8")
        paths.append(path)
    return paths[0], paths[1]


def worker(argv: list[str]) -> None:
    """Subprocess entry: load the model, diff the two files, print one JSON line."""
    from train.diff import diff_documents, read_version
    from train.predictor import load_predictor

    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--backend", default="auto")
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    args = p.parse_args(argv)
    started = time.perf_counter()
    predictor = load_predictor(args.model, args.backend)
    loaded = time.perf_counter()
    old_raw, fmt = read_version(args.old)
    new_raw, _ = read_version(args.new)
    timings: dict = {}
    result = diff_documents(predictor, old_raw, new_raw, fmt, timings=timings)
    done = time.perf_counter()
    info = {
        "backend": getattr(predictor, "backend_name", args.backend),
        "load_s": loaded - started,
        "diff_s": done - loaded,
        **timings,
        "old_clauses": result["old_clauses"],
        "new_clauses": result["new_clauses"],
        "pairs_compared": result["alignment"]["pairs_compared"],
        "peak_rss_mb": peak_rss_mb(),
    }
    print(json.dumps(info))


def measure(model: str, raw_dir: Path, work: Path, size: int, seed: int, backend: str) -> dict:
    """Build the two versions and time the diff in its own process (wall time includes start-up
    and loading the model)."""
    old, new = make_versions(raw_dir, size, seed, work)
    cmd = [sys.executable, "-m", "train.bench_diff", "--worker", "--model", model]
    cmd += ["--backend", backend, str(old), str(new)]
    print(f"[bench] diff of two unrelated {size:,}-byte versions ({backend}) ...", flush=True)
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit {proc.returncode}"}
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "bytes": [old.stat().st_size, new.stat().st_size],
        "wall_s": wall,
        **info,
    }


def format_result(r: dict) -> str:
    if "error" in r:
        return f"diff of two unrelated versions: failed ({r['error']})"
    return (
        f"diff of two unrelated versions ({r['bytes'][0]:,} and {r['bytes'][1]:,} bytes, "
        f"{r['old_clauses']:,} and {r['new_clauses']:,} clauses, {r['backend']}): "
        f"{r['wall_s']:.1f} s wall (loading {r['load_s']:.1f} s, segmenting {r['segment_s']:.1f} s, "
        f"model {r['model_s']:.1f} s of which {r.get('rescore_s', 0.0):.1f} s re-scoring "
        f"{r.get('rescored', 0):,} clauses alone, alignment {r['align_s']:.1f} s with "
        f"{r['pairs_compared']:,} comparisons), peak RSS {r['peak_rss_mb']:.0f} MB"
    )


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--worker":
        worker(argv[1:])
        return {}
    p = argparse.ArgumentParser(description="Time a diff of two large unrelated versions.")
    p.add_argument("--model", default="outputs/latest/model", help="model or export folder")
    p.add_argument("--backend", default="auto", help="auto, torch, onnx or onnx-int8")
    p.add_argument("--raw-dir", type=Path, default=default_raw_dir())
    p.add_argument("--bytes", type=int, default=DEFAULT_BYTES, help="size of each version")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--output", default="outputs/bench")
    args = p.parse_args(argv)
    out = Path(args.output)
    result = measure(
        args.model, Path(args.raw_dir), out / "big_diff", args.bytes, args.seed, args.backend
    )
    print(format_result(result))
    out.mkdir(parents=True, exist_ok=True)
    (out / "big_diff.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
