"""Peers' task data: the rows of each task, prepared from the raw sources as JSONL that
`train.peers` trains and evaluates on.

Two published tasks, each with its own taxonomy (`data/peers/<task>_taxonomy.yaml`) and its own
data, written as JSONL in the built-dataset row format so `data.train_file` & co. read them:

- `claudette`: CLAUDETTE unfair-clause detection (the task of LexGLUE's UNFAIR-ToS), one sentence
  at a time, 8 categories. A category is positive when the sentence carries its tag at degree 2
  (potentially unfair) or 3 (clearly unfair); degree 1 (clearly fair) and no tag are negatives.
  `pinc` and `countrym` are not among the 8 and are ignored. The corpus's own document-level folds
  (`corpus/lists/LIST_TRAIN_k.txt` / `LIST_TEST_k.txt`) give `fold{k}/{train,validation,test}.jsonl`;
  validation is a seeded-hash choice of 10% of each fold's training documents.
- `opp115`: OPP-115 segments with the 10 practice categories of the 0.75 consolidation. Segments
  with no consolidated annotation (and empty ones) are dropped, as in the usual setup. Policies are
  grouped: each policy lies in one split (75/10/15 of the segments, seeded), never in two.

Every label is annotated on every row (`label_mask` all 1).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from train.errors import DataError
from train.paths import REPO_ROOT
from train.sources import (
    LICENSES,
    _opp115_categories,
    claudette_documents,
    opp115_policies,
    read_claudette_document,
    read_opp115_segments,
)
from train.splits import SPLITS, assign_splits, seeded_order
from train.taxonomy import Taxonomy, load_taxonomy

TASKS = ("claudette", "opp115")
# The labels each task's taxonomy must have (its order is the taxonomy file's).
CLAUDETTE_CATEGORIES = ("a", "ch", "cr", "j", "law", "ltd", "ter", "use")
PEERS_DIR = REPO_ROOT / "data" / "peers"
DEFAULT_SEED = 0

# CLAUDETTE tags that are not one of the 8 categories: privacy policy incorporated by reference,
# and a country marker that `list_tags.txt` does not even list.
CLAUDETTE_IGNORED_TAGS = frozenset({"pinc", "countrym"})
CLAUDETTE_POSITIVE_DEGREES = frozenset({"2", "3"})
# About 4 of a fold's 40 training documents become its validation documents, more when needed
# for every label to have a few validation positives (arbitration is in 21 of the 50 documents).
CLAUDETTE_VALIDATION_SHARE = 0.1
CLAUDETTE_MIN_VALIDATION_POSITIVES = 3
_TAG = re.compile(r"([a-z]+?)([123])?")

# OPP-115 category (as written in the consolidation CSVs) -> label of the OPP-115 taxonomy.
OPP115_PEER_CATEGORIES = {
    "First Party Collection/Use": "first_party_collection_use",
    "Third Party Sharing/Collection": "third_party_sharing_collection",
    "User Choice/Control": "user_choice_control",
    "User Access, Edit and Deletion": "user_access_edit_deletion",
    "Data Retention": "data_retention",
    "Data Security": "data_security",
    "Policy Change": "policy_change",
    "Do Not Track": "do_not_track",
    "International and Specific Audiences": "international_specific_audiences",
    "Other": "other",
}
OPP115_RATIOS = {"train": 0.75, "validation": 0.10, "test": 0.15}
OPP115_CONSOLIDATION = Path("opp115/OPP-115/consolidation/threshold-0.75-overlap-similarity")


# ----------------------------------------------------------------------------- common


def task_taxonomy_path(task: str) -> Path:
    """`data/peers/<task>_taxonomy.yaml`."""
    check_task(task)
    return PEERS_DIR / f"{task}_taxonomy.yaml"


def check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"unknown peer task {task!r}; choose from {', '.join(TASKS)}")


def _row(rid: str, text: str, labels: list[int], source: str, service: str, document: str) -> dict:
    return {
        "id": rid,
        "text": text,
        "labels": labels,
        "label_mask": [1] * len(labels),
        "source": source,
        "service": service,
        "document": document,
        "origin": "real",
        "license": LICENSES[source],
    }


def write_jsonl(path: Path, rows: Sequence[dict]) -> None:
    """Rows as JSONL, written atomically (same rows, same bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    os.replace(tmp, path)


def split_stats(rows: Sequence[dict], label_names: Sequence[str]) -> dict:
    """Clauses, documents and positives per label of one split."""
    return {
        "clauses": len(rows),
        "documents": len({r["document"] for r in rows}),
        "positives": {
            name: sum(r["labels"][j] for r in rows) for j, name in enumerate(label_names)
        },
        "no_label": sum(1 for r in rows if not any(r["labels"])),
    }


# ----------------------------------------------------------------------------- CLAUDETTE


def claudette_labels(
    tags: Sequence[str], label_names: Sequence[str], path: Path, line: int
) -> list[int]:
    """0/1 per category: positive only at degree 2 or 3. Unknown tags are errors."""
    positive = set()
    for tag in tags:
        match = _TAG.fullmatch(tag)
        category, degree = (match.group(1), match.group(2)) if match else (tag, None)
        if category in CLAUDETTE_IGNORED_TAGS:
            continue
        if category not in label_names or degree is None:
            raise DataError(
                path,
                f"unknown tag {tag!r}: expected <category><degree 1-3> with a category of "
                f"{', '.join(label_names)} (or pinc/countrym, which are ignored)",
                line,
            )
        if degree in CLAUDETTE_POSITIVE_DEGREES:
            positive.add(category)
    return [int(name in positive) for name in label_names]


def claudette_rows(raw_dir: Path, document: str, taxonomy: Taxonomy) -> list[dict]:
    """Every non-empty sentence of one CLAUDETTE document, labelled with the 8 categories."""
    tag_path = (
        raw_dir / "claudette_multilingual_en" / "corpus" / "tags" / "en" / "original"
    ) / f"{document}.txt"
    if not tag_path.is_file():
        raise DataError(tag_path, f"no tag file for the sentences of {document!r}")
    rows = []
    for index, (sentence, tags) in enumerate(read_claudette_document(raw_dir, document)):
        labels = claudette_labels(tags, taxonomy.names, tag_path, index + 1)
        if not sentence:
            continue
        rows.append(
            _row(
                f"claudette-{document}-{index}",
                sentence,
                labels,
                "claudette_multilingual_en",
                document,
                document,
            )
        )
    return rows


def _read_list(path: Path, known: set[str]) -> list[str]:
    if not path.is_file():
        raise DataError(path, "fold list not found (expected corpus/lists/LIST_TRAIN_k.txt)")
    names = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        name = line.strip()
        if not name:
            continue
        name = name[:-4] if name.endswith(".txt") else name
        if name not in known:
            raise DataError(path, f"document {name!r} has no sentence file", line_no)
        if name in names:
            raise DataError(path, f"document {name!r} listed twice", line_no)
        names.append(name)
    if not names:
        raise DataError(path, "empty fold list")
    return names


def claudette_folds(raw_dir: Path) -> dict[int, tuple[list[str], list[str]]]:
    """`{k: (train documents, test documents)}` from `corpus/lists/LIST_{TRAIN,TEST}_k.txt`."""
    lists = raw_dir / "claudette_multilingual_en" / "corpus" / "lists"
    known = set(claudette_documents(raw_dir))
    if not known:
        raise DataError(
            lists.parent / "sentences" / "en" / "original", "no CLAUDETTE sentence files"
        )
    ks = sorted(
        int(m.group(1))
        for p in lists.glob("LIST_TEST_*.txt")
        if (m := re.fullmatch(r"LIST_TEST_(\d+)\.txt", p.name))
    )
    if not ks:
        raise DataError(lists, "no fold lists LIST_TEST_k.txt / LIST_TRAIN_k.txt")
    folds = {}
    for k in ks:
        train_path, test_path = lists / f"LIST_TRAIN_{k}.txt", lists / f"LIST_TEST_{k}.txt"
        train, test = _read_list(train_path, known), _read_list(test_path, known)
        both = sorted(set(train) & set(test))
        if both:
            raise DataError(test_path, f"documents also in {train_path.name}: {', '.join(both)}")
        if len(train) < 2:
            raise DataError(train_path, "a fold needs 2 training documents (1 for validation)")
        folds[k] = (train, test)
    return folds


def hold_out_documents(
    documents: Sequence[str],
    seed: int,
    positives: dict[str, Sequence[int]] | None = None,
    share: float = CLAUDETTE_VALIDATION_SHARE,
    min_positives: int = CLAUDETTE_MIN_VALIDATION_POSITIVES,
) -> tuple[list[str], list[str]]:
    """(train, validation) documents. Validation is the shortest prefix of a seeded hash order
    that holds `share` of the documents (at least one) and, when `positives` (per document, per
    label) is given, `min_positives` of every label, if a prefix of at most half the documents
    can; otherwise just `share` of them. Thresholds are tuned on it, so a label needs positives."""
    n = max(1, round(share * len(documents)))
    if n >= len(documents):
        raise ValueError(f"cannot hold out {n} validation documents from {len(documents)}")
    order = seeded_order(documents, seed)
    size = n
    if positives:
        width = len(next(iter(positives.values())))
        for candidate in range(n, max(n, len(documents) // 2) + 1):
            totals = [sum(positives[d][j] for d in order[:candidate]) for j in range(width)]
            if min(totals) >= min_positives:
                size = candidate
                break
    validation = set(order[:size])
    return sorted(d for d in documents if d not in validation), sorted(validation)


def prepare_claudette(
    raw_dir: Path, out_dir: Path, taxonomy: Taxonomy, seed: int = DEFAULT_SEED
) -> dict:
    """Write `fold{k}/{train,validation,test}.jsonl` for every fold; returns the statistics."""
    folds = claudette_folds(raw_dir)
    cache: dict[str, list[dict]] = {}

    def rows_of(documents: Sequence[str]) -> list[dict]:
        for d in documents:
            if d not in cache:
                cache[d] = claudette_rows(raw_dir, d, taxonomy)
        return [r for d in sorted(documents) for r in cache[d]]

    stats: dict = {"task": "claudette", "seed": seed, "folds": {}}
    for k, (train_docs, test_docs) in folds.items():
        positives = {
            d: [sum(r["labels"][j] for r in rows_of([d])) for j in range(len(taxonomy))]
            for d in train_docs
        }
        train_docs, val_docs = hold_out_documents(train_docs, seed, positives)
        split_docs = {"train": train_docs, "validation": val_docs, "test": sorted(test_docs)}
        fold_stats = {}
        for split, documents in split_docs.items():
            rows = rows_of(documents)
            write_jsonl(out_dir / f"fold{k}" / f"{split}.jsonl", rows)
            fold_stats[split] = {**split_stats(rows, taxonomy.names), "document_names": documents}
        stats["folds"][str(k)] = fold_stats
    return stats


# ----------------------------------------------------------------------------- OPP-115


def opp115_rows(
    raw_dir: Path, taxonomy: Taxonomy, stats: dict | None = None
) -> dict[str, list[dict]]:
    """Annotated segments of every OPP-115 policy, keyed by policy (file stem)."""
    stats = {} if stats is None else stats
    policies = opp115_policies(raw_dir)
    if not policies:
        raise DataError(
            raw_dir / "opp115" / "OPP-115" / "sanitized_policies", "no OPP-115 policies (*.html)"
        )
    consolidation = raw_dir / OPP115_CONSOLIDATION
    out: dict[str, list[dict]] = {}
    for path in policies:
        annotation_path = consolidation / f"{path.stem}.csv"
        if not annotation_path.is_file():
            # As the dataset builder does: a policy without consolidated annotations is skipped.
            stats["policies_without_annotations"] = stats.get("policies_without_annotations", 0) + 1
            continue
        categories = _opp115_categories(annotation_path)
        segments = read_opp115_segments(path)
        for index, names in sorted(categories.items()):
            if index >= len(segments):
                raise DataError(
                    annotation_path,
                    f"segment {index} annotated, but {path.name} has {len(segments)} segments",
                )
            unknown = sorted(n for n in names if n not in OPP115_PEER_CATEGORIES)
            if unknown:
                raise DataError(annotation_path, f"unknown OPP-115 categories {unknown}")
        domain = path.stem.split("_", 1)[1] if "_" in path.stem else path.stem
        rows = []
        for index, text in enumerate(segments):
            if not text or index not in categories:
                stats["segments_dropped"] = stats.get("segments_dropped", 0) + 1
                continue
            positive = {OPP115_PEER_CATEGORIES[c] for c in categories[index]}
            labels = [int(name in positive) for name in taxonomy.names]
            rows.append(
                _row(f"opp115-{path.stem}-{index}", text, labels, "opp115", domain, path.stem)
            )
        if rows:
            out[path.stem] = rows
    return out


def split_policies(policy_sizes: dict[str, int], seed: int = DEFAULT_SEED) -> dict[str, str]:
    """Policy -> split, 75/10/15 of the segments, each policy in one split (seeded)."""
    strata = {policy: "opp115" for policy in policy_sizes}
    return assign_splits(policy_sizes, strata, OPP115_RATIOS, seed)


def prepare_opp115(
    raw_dir: Path, out_dir: Path, taxonomy: Taxonomy, seed: int = DEFAULT_SEED
) -> dict:
    """Write `{train,validation,test}.jsonl`; returns the statistics."""
    stats: dict = {"task": "opp115", "seed": seed}
    by_policy = opp115_rows(raw_dir, taxonomy, stats)
    assignment = split_policies({p: len(rows) for p, rows in by_policy.items()}, seed)
    for split in SPLITS:
        policies = sorted(p for p, s in assignment.items() if s == split)
        if not policies:
            raise DataError(
                raw_dir / OPP115_CONSOLIDATION,
                f"too few annotated policies ({len(by_policy)}) for a non-empty {split} split",
            )
        rows = [r for p in policies for r in by_policy[p]]
        write_jsonl(out_dir / f"{split}.jsonl", rows)
        stats[split] = {**split_stats(rows, taxonomy.names), "document_names": policies}
    return stats


# ----------------------------------------------------------------------------- prepare


def run_names(task: str, data_dir: Path | None = None) -> list[str]:
    """The runs of a task: `fold{k}` for CLAUDETTE's folds (as prepared), `split` for OPP-115."""
    check_task(task)
    if task == "opp115":
        return ["split"]
    folder = Path(data_dir or PEERS_DIR) / task
    names = sorted(
        (p.name for p in folder.glob("fold*") if p.name[4:].isdigit()), key=lambda n: int(n[4:])
    )
    return names


def split_files(task: str, run: str, data_dir: Path | None = None) -> dict[str, Path]:
    """train / validation / test JSONL of one run of a task."""
    check_task(task)
    folder = Path(data_dir or PEERS_DIR) / task
    if task == "claudette":
        folder = folder / run
    return {split: folder / f"{split}.jsonl" for split in SPLITS}


def prepare(
    task: str,
    raw_dir: str | Path,
    data_dir: str | Path | None = None,
    taxonomy_path: str | Path | None = None,
    seed: int = DEFAULT_SEED,
) -> dict:
    """Build a peer task's JSONL files under `<data_dir>/<task>/`, write its `stats.json`, print
    the per-split counts and return the statistics."""
    check_task(task)
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise DataError(raw_dir, "raw data folder not found: set RAW_DIR or pass --raw-dir")
    out_dir = Path(data_dir or PEERS_DIR) / task
    taxonomy_path = Path(taxonomy_path or task_taxonomy_path(task))
    taxonomy = load_taxonomy(taxonomy_path)
    needed = CLAUDETTE_CATEGORIES if task == "claudette" else OPP115_PEER_CATEGORIES.values()
    if set(taxonomy.names) != set(needed):
        raise DataError(
            taxonomy_path, f"the {task} task needs exactly the labels {', '.join(sorted(needed))}"
        )
    builder = prepare_claudette if task == "claudette" else prepare_opp115
    stats = builder(raw_dir, out_dir, taxonomy, seed)
    stats["label_names"] = list(taxonomy.names)
    stats["taxonomy_version"] = taxonomy.version
    (out_dir / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    print(format_stats(stats))
    print(f"wrote {out_dir}")
    return stats


def format_stats(stats: dict) -> str:
    """Clauses, documents and positives per label, one column per run and split."""
    names = stats["label_names"]
    runs = stats["folds"] if "folds" in stats else {"": stats}
    columns = [
        (f"fold{run}" if run else "", split, splits[split])
        for run, splits in runs.items()
        for split in SPLITS
    ]
    width = max(len(n) for n in [*names, "documents"]) + 2
    short = {"train": "train", "validation": "val", "test": "test"}
    lines = [f"{stats['task']}: positives per label"]
    if "folds" in stats:
        lines.append(f"{'':<{width}}" + "".join(f"{run:>7}" for run, _, _ in columns))
    lines.append(f"{'':<{width}}" + "".join(f"{short[split]:>7}" for _, split, _ in columns))
    for key in ("clauses", "documents", "no_label"):
        lines.append(f"{key:<{width}}" + "".join(f"{s[key]:>7}" for _, _, s in columns))
    for name in names:
        lines.append(
            f"{name:<{width}}" + "".join(f"{s['positives'][name]:>7}" for *_, s in columns)
        )
    return "\n".join(lines)


def is_prepared(task: str, data_dir: str | Path | None = None) -> bool:
    """True when every split file of every run of the task exists."""
    data_dir = Path(data_dir or PEERS_DIR)
    runs = run_names(task, data_dir)
    return bool(runs) and all(
        path.is_file() for run in runs for path in split_files(task, run, data_dir).values()
    )
