"""Choose the real documents to label exhaustively and write data/labelled_documents.csv.

Documents come from `ota_contrib_2026/current` and `tosdr_corpus_text`: English, 40-300 clauses,
one per service, spread over the committed service splits, documents that mention AI preferred
(they are where `ai_training` positives and hard negatives are). The choice is seeded and the
statistics it used are printed, so it can be rerun and checked.
"""

import argparse
import random
from collections import Counter
from pathlib import Path

from tqdm.auto import tqdm

from train.dataset import SERVICE_SPLITS
from train.doc_labels import (
    LABELLED_DOCUMENTS,
    DocumentClause,
    LabelledDocument,
    clause_list_sha1,
    load_manifest,
    write_manifest,
)
from train.language import detect_language
from train.paths import default_raw_dir
from train.patterns import mentions_ai
from train.services import canonical_service
from train.sources import DOCUMENT_SOURCES
from train.splits import load_service_splits

# (source, split) -> documents wanted; documents that mention AI first, then the rest.
TARGETS = {
    ("ota_contrib_2026", "test"): 16,
    ("ota_contrib_2026", "validation"): 8,
    ("ota_contrib_2026", "train"): 30,
    ("tosdr_corpus_text", "test"): 10,
    ("tosdr_corpus_text", "validation"): 6,
    ("tosdr_corpus_text", "train"): 22,
}
MIN_CLAUSES, MAX_CLAUSES = 40, 300
SPLITS = ("test", "validation", "train")


def parse_wants(values: list[str]) -> dict[tuple[str, str], int]:
    """`SOURCE:SPLIT=N` arguments -> {(source, split): N}."""
    wants = {}
    for value in values:
        key, _, n = value.partition("=")
        source, _, split = key.partition(":")
        if source not in DOCUMENT_SOURCES or split not in SPLITS or not n.isdigit():
            raise SystemExit(
                f"error: --want {value!r}: expected SOURCE:SPLIT=N with SOURCE one of "
                f"{sorted(DOCUMENT_SOURCES)} and SPLIT one of {list(SPLITS)}"
            )
        wants[(source, split)] = int(n)
    return wants


def candidates(
    source_name, raw_dir, splits, rng, corpus_sample, document_type="", taken=(), wanted=()
):
    """Documents of `source_name` that could be chosen: English, MIN_CLAUSES-MAX_CLAUSES clauses,
    of a service with a split in `wanted` (every split when empty) and not in `taken` (those are
    never segmented, the slow part)."""
    kind = DOCUMENT_SOURCES[source_name]
    paths = kind.documents(raw_dir)
    if document_type:
        paths = [p for p in paths if document_type.lower() in p.name.lower()]
    if source_name == "ota_contrib_2026":
        paths = [p for p in paths if p.parts[-3] == "current"]
    else:
        # The corpus is large: look at a seeded sample, and at every document that mentions AI.
        ai = [p for p in paths if mentions_ai(p.read_text(encoding="utf-8", errors="replace"))]
        rest = [p for p in paths if p not in set(ai)]
        paths = sorted(set(ai) | set(rng.sample(rest, min(corpus_sample, len(rest)))))
    out = []
    for path in tqdm(paths, desc=source_name, unit="doc"):
        service = canonical_service(kind.service(path))
        if service not in splits or service in taken or (wanted and splits[service] not in wanted):
            continue
        raw = path.read_text(encoding="utf-8", errors="replace")
        if detect_language(raw[:5000]) != "en":
            continue
        _, clauses = kind.segment(path)
        if not MIN_CLAUSES <= len(clauses) <= MAX_CLAUSES:
            continue
        n_ai = sum(mentions_ai(c.text) for c in clauses)
        doc = [DocumentClause(c.start, c.end, c.text) for c in clauses]
        out.append((path, service, splits[service], doc, n_ai))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw-dir", type=Path, default=default_raw_dir(), help="(env RAW_DIR)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--corpus-sample", type=int, default=500)
    parser.add_argument("--batches", type=int, default=7)
    parser.add_argument(
        "--want",
        action="append",
        default=[],
        metavar="SOURCE:SPLIT=N",
        help="new documents to add for one source and split (repeatable; replaces the default "
        "targets, e.g. --want ota_contrib_2026:train=12)",
    )
    parser.add_argument(
        "--document-type",
        default="",
        help='only documents whose file name contains this (e.g. "Terms of Service")',
    )
    args = parser.parse_args()
    targets = parse_wants(args.want) if args.want else TARGETS
    rng = random.Random(args.seed)
    splits = load_service_splits(SERVICE_SPLITS)
    existing = load_manifest(LABELLED_DOCUMENTS)
    taken = {d.service for d in existing}
    chosen: list[LabelledDocument] = list(existing)
    for source_name in ("ota_contrib_2026", "tosdr_corpus_text"):
        wanted = {split for split in SPLITS if targets.get((source_name, split))}
        if not wanted:
            continue
        pool = candidates(
            source_name,
            args.raw_dir,
            splits,
            rng,
            args.corpus_sample,
            args.document_type,
            taken=taken,
            wanted=wanted,
        )
        rng.shuffle(pool)
        for split in SPLITS:
            want = targets.get((source_name, split), 0)
            if not want:
                continue
            here = [c for c in pool if c[2] == split and c[1] not in taken]
            # AI-mentioning documents first (most mentions first), then the others in seeded order.
            here.sort(key=lambda c: -min(c[4], 10))
            picked = 0
            for path, service, sp, doc, _n_ai in here:
                if picked >= want or service in taken:
                    continue
                kind = DOCUMENT_SOURCES[source_name]
                chosen.append(
                    LabelledDocument(
                        source_name,
                        kind.document_id(path),
                        service,
                        sp,
                        len(doc),
                        clause_list_sha1(doc),
                        "",
                    )
                )
                taken.add(service)
                picked += 1
            print(f"{source_name} {split}: {picked} of {want} documents")
    # Batches of similar size, documents of one batch in one file for one annotator.
    new = [d for d in chosen if not d.batch]
    new.sort(key=lambda d: -d.clauses)
    # New batches are numbered after the last one already in the manifest.
    first = max((int(d.batch[1:]) for d in existing if d.batch[1:].isdigit()), default=0) + 1
    loads = Counter({f"b{first + i:02d}": 0 for i in range(args.batches)})
    assigned = []
    for d in new:
        batch = min(loads, key=lambda b: (loads[b], b))
        loads[batch] += d.clauses
        assigned.append(LabelledDocument(**{**d.__dict__, "batch": batch}))
    final = [d for d in chosen if d.batch] + assigned
    write_manifest(final, LABELLED_DOCUMENTS)
    print(f"{len(final)} documents, {sum(d.clauses for d in final)} clauses")
    print(dict(Counter(d.split for d in final)), dict(loads))


if __name__ == "__main__":
    main()
