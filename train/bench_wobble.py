"""Benchmark: how much an int8 clause score depends on the clauses batched beside it.

Dynamic int8 quantisation gives each batch one activation range, so a clause's int8 score moves
with the clauses it is batched with. The diff scores a changed clause again on its own when its
batched score lies within `train.diff.NEAR_DECISION` logits of a flag or report threshold. This
scores a seeded sample of corpus clauses both ways and reports how far the two scores lie apart,
which flag and report decisions differ and how far from the threshold their batched scores were
(the margin has to reach past the farthest), and how many clauses each margin would score again.

    python -m train.bench_wobble --model outputs/latest/export --clauses 2000
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from train.diff import CachedScorer, _logits, max_clause_chars
from train.paths import default_raw_dir

MARGINS = (0.5, 1.0, 1.5, 2.0, 3.0)
NEAR = 2.0  # score differences are summarised over scores this close (logits) to a threshold


def measure(predictor, texts: Sequence[str], batch_size: int = 64, margins=MARGINS) -> dict:
    """Batched and lone scores of `texts` compared (see the module docstring)."""
    texts = list(texts)
    started = time.perf_counter()
    batched = np.asarray(predictor.predict_proba(texts, batch_size))
    batched_s = time.perf_counter() - started
    started = time.perf_counter()
    alone = np.concatenate([np.asarray(predictor.predict_proba([t], 1)) for t in texts])
    alone_s = time.perf_counter() - started
    # The diff's own decisions: flag and report thresholds as its scorer reads them.
    scorer = CachedScorer(predictor)
    flag, report, decisions = scorer.thresholds, scorer.report_thresholds, scorer.decision_logits
    lb, la = _logits(batched), _logits(alone)
    gap = np.abs(lb - la)
    close = (np.abs(la[:, None, :] - decisions[None]) < NEAR).any(axis=1)
    quantiles = {str(q): float(np.quantile(gap[close], q)) for q in (0.5, 0.99, 0.999, 1.0)}
    differ, distances = {}, []
    for name, t, t_logits in zip(("flag", "report"), (flag, report), decisions, strict=True):
        mask = (batched >= t) != (alone >= t)
        distance = np.abs(lb - t_logits)[mask]
        distances.append(distance)
        differ[name] = {
            "decisions": int(mask.sum()),
            "farthest_batched_logits": float(distance.max()) if distance.size else 0.0,
        }
    distances = np.concatenate(distances)
    nearest = np.abs(lb[:, None, :] - decisions[None]).min(axis=(1, 2))
    return {
        "clauses": len(texts),
        "backend": getattr(predictor, "backend_name", ""),
        "batched_s": batched_s,
        "alone_s": alone_s,
        "logit_gap_near_threshold": quantiles,
        "differing": differ,
        # per margin: clauses the diff would score again, and differing decisions it would miss
        "rescored_at_margin": {str(m): int((nearest < m).sum()) for m in margins},
        "missed_at_margin": {str(m): int((distances >= m).sum()) for m in margins},
    }


def format_result(r: dict) -> str:
    q = r["logit_gap_near_threshold"]
    f, rep = r["differing"]["flag"], r["differing"]["report"]
    cost = ", ".join(
        f"{m}: {n} ({r['missed_at_margin'][m]} missed)" for m, n in r["rescored_at_margin"].items()
    )
    return (
        f"{r['clauses']:,} clauses ({r['backend']}): batched {r['batched_s']:.1f} s, one at a time "
        f"{r['alone_s']:.1f} s; batched vs alone logit gap near a threshold: median {q['0.5']:.2f}, "
        f"99% {q['0.99']:.2f}, max {q['1.0']:.2f}; decisions that differ: flag {f['decisions']} "
        f"(batched score at most {f['farthest_batched_logits']:.2f} logits from the threshold), "
        f"report {rep['decisions']} (at most {rep['farthest_batched_logits']:.2f}); clauses "
        f"scored again by margin (differing decisions missed): {cost}"
    )


def main(argv: list[str] | None = None) -> dict:
    from train.bench import sample_corpus_clauses
    from train.predictor import load_predictor

    p = argparse.ArgumentParser(description="Measure how int8 scores depend on their batch.")
    p.add_argument("--model", default="outputs/latest/export", help="export folder")
    p.add_argument("--backend", default="onnx-int8")
    p.add_argument("--raw-dir", type=Path, default=default_raw_dir())
    p.add_argument("--clauses", type=int, default=2000)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--output", default="outputs/bench")
    args = p.parse_args(argv)
    predictor = load_predictor(args.model, args.backend)
    texts = sample_corpus_clauses(
        Path(args.raw_dir), args.clauses, args.seed, max_clause_chars(predictor)
    )
    result = measure(predictor, texts)
    print(format_result(result))
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    (out / "batch_wobble.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
