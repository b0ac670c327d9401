"""Kill a batch-inference run halfway, rerun it, and check the result equals an uninterrupted run.

    python scripts/check_resume.py --model outputs/latest/export --n-docs 300 RAW_DIR/tosdr_corpus_text/corpus/text

Writes `<work>/resume_check.json`: documents, clauses, when the kill happened, and whether the
two `clauses.jsonl` files (sorted by doc_id, start) hold the same records with scores within 1e-6.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from train.jsonio import iter_jsonl
from train.predict import predict_corpus

REPO = Path(__file__).resolve().parent.parent


def _records(path: Path) -> list[dict]:
    rows = [row for _, row in iter_jsonl(path)]
    return sorted(rows, key=lambda r: (r["doc_id"], r["start"]))


def _same(a: list[dict], b: list[dict], tol: float) -> tuple[bool, float]:
    if len(a) != len(b):
        return False, float("inf")
    worst = 0.0
    for x, y in zip(a, b, strict=True):
        if {k: v for k, v in x.items() if k != "scores"} != {
            k: v for k, v in y.items() if k != "scores"
        }:
            return False, float("inf")
        worst = max(worst, *(abs(x["scores"][k] - y["scores"][k]) for k in x["scores"]))
    return worst <= tol, worst


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True)
    parser.add_argument("--backend", default="onnx-int8")
    parser.add_argument("--n-docs", type=int, default=300)
    parser.add_argument("--work", default="outputs/resume_check")
    parser.add_argument("folder")
    args = parser.parse_args()
    docs = sorted(str(p) for p in Path(args.folder).glob("*.txt"))[: args.n_docs]
    work = Path(args.work)
    if work.exists():
        raise SystemExit(f"error: {work} exists; choose a new --work folder")

    started = time.time()
    predict_corpus(args.model, docs, work / "uninterrupted", backend=args.backend, progress=False)
    uninterrupted_s = time.time() - started

    cmd = [
        sys.executable,
        str(REPO / "scripts" / "predict.py"),
        "--model",
        args.model,
        "--backend",
        args.backend,
        "--output",
        str(work / "resumed"),
        *docs,
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    parts = work / "resumed" / "parts"
    total_chunks = -(-len(docs) // 32)
    while proc.poll() is None and len(list(parts.glob("*.done.json"))) < total_chunks // 2:
        time.sleep(0.2)
    killed = proc.poll() is None
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_at_kill = len(list(parts.glob("*.done.json")))
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)

    a = _records(work / "uninterrupted" / "clauses.jsonl")
    b = _records(work / "resumed" / "clauses.jsonl")
    same, worst = _same(a, b, 1e-6)
    result = {
        "documents": len(docs),
        "clauses": len(a),
        "killed_mid_run": killed,
        "chunks_done_at_kill": done_at_kill,
        "chunks_total": total_chunks,
        "identical_within_1e-6": same,
        "max_score_diff": worst,
        "uninterrupted_seconds": uninterrupted_s,
    }
    (work / "resume_check.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if not same or not killed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
