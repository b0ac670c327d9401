"""Write the peer tasks' datasets (CLAUDETTE folds, OPP-115 policy split) as JSONL.

`python scripts/prepare_peer_data.py [claudette|opp115|all] --raw-dir ../shared/data/raw`
"""

import argparse
from pathlib import Path

from train.errors import DataError
from train.paths import default_raw_dir
from train.peer_data import DEFAULT_SEED, PEERS_DIR, TASKS, prepare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", nargs="?", default="all", choices=[*TASKS, "all"])
    parser.add_argument(
        "--raw-dir", type=Path, default=default_raw_dir(), help="raw sources (RAW_DIR)"
    )
    parser.add_argument(
        "--output-dir", default=str(PEERS_DIR), help="writes <output-dir>/<task>/ (git-ignored)"
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="seed of the validation/policy choice"
    )
    args = parser.parse_args()
    try:
        for task in TASKS if args.task == "all" else [args.task]:
            prepare(task, args.raw_dir, args.output_dir, seed=args.seed)
    except DataError as err:
        raise SystemExit(f"error: {err}") from None


if __name__ == "__main__":
    main()
