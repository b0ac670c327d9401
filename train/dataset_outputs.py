"""What a dataset build writes beside the records: the per-split statistics and the table printed
from them, JSONL files written atomically, their content hash, and the saved dataset's schema.

Used by `train.dataset.build`.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from train.doc_labels import load_manifest
from train.outputs import write_atomic
from train.patterns import mentions_ai
from train.splits import SPLITS
from train.taxonomy import Taxonomy

if TYPE_CHECKING:
    from train.dataset import BuildConfig


def compute_stats(rows: dict[str, list[dict]], taxonomy: Taxonomy) -> dict:
    """Per split: clauses, positives / unmasked per label, per source, per origin."""
    out: dict = {}
    for split, items in rows.items():
        s: dict = {"clauses": len(items), "labels": {}, "sources": {}, "origins": {}}
        for i, name in enumerate(taxonomy.names):
            pos = [r for r in items if r["label_mask"][i] and r["labels"][i]]
            s["labels"][name] = {
                "positive": len(pos),
                "unmasked": sum(r["label_mask"][i] for r in items),
                "positive_team": sum(r["origin"] == "team" for r in pos),
                "positive_real": sum(r["origin"] == "real" for r in pos),
            }
            if name == "ai_training":
                s["labels"][name]["hard_negative_mentions_ai"] = sum(
                    r["label_mask"][i] and not r["labels"][i] and mentions_ai(r["text"])
                    for r in items
                )
        s["sources"] = dict(sorted(Counter(r["source"] for r in items).items()))
        s["origins"] = dict(sorted(Counter(r["origin"] for r in items).items()))
        s["services"] = len({r["service"] for r in items})
        out[split] = s
    return out


def labelled_document_stats(rows: dict[str, list[dict]], cfg: BuildConfig, taxonomy) -> dict:
    """Per split: exhaustively labelled documents and clauses that made it into the build (after
    leakage resolution) and each label's positives, i.e. its gold rate on real documents."""
    listed = {d.document for d in load_manifest(cfg.labelled_documents_path)}
    out: dict = {}
    for split, items in rows.items():
        mine = [r for r in items if r["document"] in listed and all(r["label_mask"])]
        out[split] = {
            "documents": len({r["document"] for r in mine}),
            "clauses": len(mine),
            "positives": {
                name: sum(r["labels"][i] for r in mine) for i, name in enumerate(taxonomy.names)
            },
        }
    return out


def write_jsonl_atomic(path: Path, rows: list[dict]) -> None:
    """Write JSONL via a temporary file so an interrupted build never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(
        path,
        lambda fh: fh.writelines(
            json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows
        ),
    )


def content_hash(paths: list[Path]) -> str:
    """SHA-256 over the JSONL files, in split order: the dataset's identity."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def print_stats(stats: dict, taxonomy: Taxonomy, out=sys.stdout) -> None:
    """The table printed at the end of a build (also in the dataset card)."""
    header = f"{'label':<16}" + "".join(f"{s:>22}" for s in SPLITS)
    print(header, file=out)
    print(
        f"{'':<16}" + "".join(f"{'pos (team/real) / unmasked':>22}"[-22:] for _ in SPLITS), file=out
    )
    for name in taxonomy.names:
        cells = []
        for split in SPLITS:
            c = stats["splits"][split]["labels"][name]
            cells.append(
                f"{c['positive']} ({c['positive_team']}/{c['positive_real']}) / {c['unmasked']}"
            )
        print(f"{name:<16}" + "".join(f"{x:>22}" for x in cells), file=out)
    print(
        f"{'clauses':<16}" + "".join(f"{stats['splits'][s]['clauses']:>22}" for s in SPLITS),
        file=out,
    )
    print(
        f"{'services':<16}" + "".join(f"{stats['splits'][s]['services']:>22}" for s in SPLITS),
        file=out,
    )


def dataset_features():
    """The built dataset's schema (explicit, so an empty split still has its columns)."""
    from datasets import Features, List, Value

    return Features(
        {
            "id": Value("string"),
            "text": Value("string"),
            "labels": List(Value("int64")),
            "label_mask": List(Value("int64")),
            "source": Value("string"),
            "service": Value("string"),
            "document": Value("string"),
            "license": Value("string"),
            "origin": Value("string"),
        }
    )
