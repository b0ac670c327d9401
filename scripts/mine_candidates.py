"""List the sentences that need hand labels (AI / content-licence candidates) with their text.

The output holds raw text: it goes to a git-ignored folder, only its labels are committed.
"""

import argparse
from pathlib import Path

from train.mining import iter_candidates, write_candidates
from train.paths import default_raw_dir
from train.taxonomy import load_taxonomy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw-dir", type=Path, default=default_raw_dir())
    parser.add_argument("--output", default="data/work/candidates.jsonl")
    args = parser.parse_args()
    n = write_candidates(iter_candidates(Path(args.raw_dir), load_taxonomy()), Path(args.output))
    print(f"{n} candidates -> {args.output}")


if __name__ == "__main__":
    main()
