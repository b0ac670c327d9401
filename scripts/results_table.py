"""Print the README's results tables (Markdown) from the JSON files runs wrote, so every number
quoted comes from a file a run produced."""

import argparse
import json
from pathlib import Path


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def eval_table(block: dict, title: str) -> str:
    """One results block (all test clauses, or real / team-written ones): the model's precision,
    recall and F1 with its interval, and each baseline's F1."""
    systems = [s for s in ("model", "tfidf_logreg", "keyword") if s in block]
    labels = [k for k, v in block["model"].items() if isinstance(v, dict) and "f1" in v]
    baselines = systems[1:]
    lines = [
        f"| {title} | model P | model R | model F1 [95% CI] | "
        + " | ".join(f"{b} F1" for b in baselines)
        + " |",
        "|---|---|---|---|" + "---|" * len(baselines),
    ]
    for name in labels:
        m = block["model"][name]
        ci = m.get("f1_ci95")
        f1 = f"{m['f1']:.3f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")
        cells = [f"{m['precision']:.3f}", f"{m['recall']:.3f}", f1]
        cells += [f"{block[b][name]['f1']:.3f}" for b in baselines]
        lines.append(f"| `{name}` (n={m['support']}) | " + " | ".join(cells) + " |")
    for key in ("macro_f1", "micro_f1"):
        cells = ["", "", f"**{block['model'][key]:.3f}**"] + [
            f"**{block[b][key]:.3f}**" for b in baselines
        ]
        lines.append(f"| **{key.replace('_', '-')}** | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def document_rate_table(docs: dict) -> str:
    """Gold rate against each system's predicted rate on the exhaustively labelled documents."""
    systems = list(docs["predicted_rate"])
    lines = [
        f"| label ({docs['documents']} documents, {docs['clauses']} clauses) | gold | "
        + " | ".join(systems)
        + " |",
        "|---|---|" + "---|" * len(systems),
    ]
    for name, gold in docs["gold_rate"].items():
        cells = [f"{100 * docs['predicted_rate'][s][name]:.1f}%" for s in systems]
        lines.append(f"| `{name}` | {100 * gold:.1f}% | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def flag_rate_table(speed: dict) -> str:
    """Share of the benchmark's real corpus clauses each label flags, per path."""
    paths = [p for p, r in speed.items() if "flag_rate" in r]
    if not paths:
        return ""
    labels = list(speed[paths[0]]["flag_rate"])
    lines = ["| flagged share of corpus clauses | " + " | ".join(paths) + " |"]
    lines.append("|---|" + "---|" * len(paths))
    for name in labels:
        cells = [f"{100 * speed[p]['flag_rate'][name]:.1f}%" for p in paths]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def peer_table(results: dict) -> str:
    """Our runs of a peer task (model and TF-IDF, per run and mean) beside the published scores."""
    lines = [
        f"| {results['task']} run | system | micro-F1 | macro-F1 | epochs | wall (min) |",
        "|---|---|---|---|---|---|",
    ]
    rows = list(results["runs"].items())
    if len(rows) > 1:
        rows.append(("mean", results["mean"]))
    for run, entry in rows:
        for system in ("model", "tfidf_logreg"):
            scores = entry[system]
            epochs = entry.get("epochs_completed", "")
            wall = f"{entry['wall_time_s'] / 60:.1f}" if "wall_time_s" in entry else ""
            lines.append(
                f"| {run} | {system} | {100 * scores['micro_f1']:.1f} | "
                f"{100 * scores['macro_f1']:.1f} | {epochs if system == 'model' else ''} | "
                f"{wall if system == 'model' else ''} |"
            )
    pub = results["published"]
    for name, score in pub["scores"].items():
        lines.append(f"| published | {name} |  | {score:.1f} |  |  |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", default="outputs/latest")
    parser.add_argument("--bench", default="outputs/bench/bench.json")
    parser.add_argument("--peers", default="outputs/peers", help="folder of peer task results")
    args = parser.parse_args()
    run = Path(args.run)
    summary = _load(run / "train_summary.json")
    if summary:
        print(
            f"training: {summary['global_step']} steps, {summary['epochs_completed']:.1f} epochs, "
            f"{summary['train_runtime_s'] / 60:.1f} min ({summary['train_samples_per_second']:.1f} clauses/s), "
            f"wall {summary['wall_time_s'] / 60:.1f} min; hardware: {summary['hardware']}"
        )
    metrics = _load(run / "eval" / "metrics.json")
    if metrics:
        origins = metrics.get("by_origin", {})
        for origin, title in (("real", "real test clauses"), ("team", "team-written test clauses")):
            if "model" in origins.get(origin, {}) and "f1_ci95" in next(
                (v for v in origins[origin]["model"].values() if isinstance(v, dict)), {}
            ):
                print(f"{title}: {origins[origin]['clauses']}")
                print(eval_table(origins[origin], title))
        print(eval_table(metrics["test"], "all test clauses"))
        if metrics.get("labelled_documents"):
            print(document_rate_table(metrics["labelled_documents"]))
    parity = _load(run / "export" / "parity.json")
    if parity:
        print(
            "parity:",
            json.dumps({k: parity[k] for k in parity if k in ("n_clauses", "fp32", "int8")}),
        )
    bench = _load(Path(args.bench))
    if bench:
        print("| path | clauses/s | x pipeline b32 | peak RSS MB | label agreement vs torch fp32 |")
        print("|---|---|---|---|---|")
        for path, r in bench.get("speed", {}).items():
            if "error" not in r:
                print(
                    f"| {path} | {r['clauses_per_s']:.1f} | {r.get('speedup_vs_pipeline_b32', 0):.2f} | "
                    f"{r['peak_rss_mb']:.0f} | {r.get('label_agreement_vs_torch_fp32', 0):.4f} |"
                )
        flags = flag_rate_table(bench.get("speed", {}))
        if flags:
            print(flags)
        ota = bench.get("ota")
        if ota:
            print(
                "| system | precision | recall | F1 | denials flagged | user restrictions flagged |"
            )
            print("|---|---|---|---|---|---|")
            for name, r in ota["clauses"].items():
                by = r["flagged_by_direction"]
                print(
                    f"| {name} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | "
                    f"{by.get('denial', 0)} | {by.get('user_restriction', 0)} |"
                )
            print(f"diff pairs right: {ota['pairs_correct']} / {ota['pairs_total']}")
        print("bench hardware:", bench.get("hardware"))
    for task in ("claudette", "opp115"):
        results = _load(Path(args.peers) / task / "results.json")
        if results:
            print(peer_table(results))
            first = next(iter(results["runs"].values()))
            print(f"{task} hardware: {first['hardware']}; settings: {first['settings']}")


if __name__ == "__main__":
    main()
