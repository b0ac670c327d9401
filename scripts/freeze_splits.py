"""Add the services of a document source to data/service_splits.csv, sized by the clause count of
their documents, without moving any service the table already lists."""

import argparse
from collections import Counter
from pathlib import Path

from tqdm.auto import tqdm

from train.dataset import SERVICE_SPLITS, BuildConfig
from train.paths import default_raw_dir
from train.services import canonical_service
from train.sources import DOCUMENT_SOURCES
from train.splits import (
    FORCED_TEST_SERVICES,
    assign_with_committed,
    load_service_splits,
    write_service_splits,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("source", choices=sorted(DOCUMENT_SOURCES))
    parser.add_argument("--raw-dir", type=Path, default=default_raw_dir(), help="(env RAW_DIR)")
    parser.add_argument("--table", type=Path, default=SERVICE_SPLITS)
    args = parser.parse_args()
    source = DOCUMENT_SOURCES[args.source]
    sizes: Counter[str] = Counter()
    for path in tqdm(source.documents(args.raw_dir), desc="segmenting", unit="doc"):
        sizes[canonical_service(source.service(path))] += len(source.segment(path)[1])
    committed = load_service_splits(args.table)
    strata = {s: args.source for s in sizes}
    cfg = BuildConfig()
    forced = {s: "test" for s in FORCED_TEST_SERVICES if s in sizes}
    split_of, new = assign_with_committed(
        dict(sizes), strata, cfg.ratios, cfg.seed, committed, forced
    )
    write_service_splits(args.table, {**committed, **{s: split_of[s] for s in new}}, strata)
    counts = Counter(split_of[s] for s in new)
    print(f"{len(new)} new services ({dict(counts)}); {len(sizes) - len(new)} already listed")


if __name__ == "__main__":
    main()
