"""List the added / removed clauses of the `ota_ai_changes` pairs that need hand labels (AI or
data-use candidates), with their text.

The output holds raw text: it goes to a git-ignored folder, only the labels are committed
(`data/ota_labels.jsonl`).
"""

import argparse
import time
from pathlib import Path

from train.ota import OTA_PAIRS, iter_candidates, load_ota_pairs, write_jsonl
from train.paths import default_raw_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw-dir", type=Path, default=default_raw_dir())
    parser.add_argument("--pairs", default=str(OTA_PAIRS))
    parser.add_argument("--output", default="data/work/ota_candidates.jsonl")
    args = parser.parse_args()
    started = time.perf_counter()
    pairs = load_ota_pairs(Path(args.pairs))
    n = write_jsonl(iter_candidates(Path(args.raw_dir), pairs), Path(args.output))
    elapsed = time.perf_counter() - started
    print(f"{n} candidates from {len(pairs)} pairs -> {args.output} ({elapsed:.1f} s)")


if __name__ == "__main__":
    main()
