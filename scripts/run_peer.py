"""Reproduce a peer's task with ClauseWatch's training code: prepare the data if missing, train
each fold, score the model and the TF-IDF baseline, write outputs/peers/<task>/results.json.

`python scripts/run_peer.py claudette --folds 0,1 [section.key=value ...]`
"""

import argparse
from pathlib import Path

from train.errors import ConfigError, DataError
from train.paths import default_raw_dir
from train.peer_data import DEFAULT_SEED, PEERS_DIR, TASKS
from train.peers import OUTPUT_ROOT, run_peer


def _folds(value: str) -> list[int]:
    try:
        return [int(k) for k in value.split(",") if k.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected fold numbers like 0,2; got {value!r}") from None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=TASKS)
    parser.add_argument(
        "overrides", nargs="*", help="config overrides, e.g. training.num_train_epochs=1"
    )
    parser.add_argument(
        "--folds", type=_folds, default=None, help="CLAUDETTE folds, e.g. 0,2 (default: all)"
    )
    parser.add_argument("--config", default=None, help="default: configs/<task>.yaml")
    parser.add_argument(
        "--raw-dir", type=Path, default=default_raw_dir(), help="raw sources (RAW_DIR)"
    )
    parser.add_argument("--data-dir", default=str(PEERS_DIR), help="prepared peer data")
    parser.add_argument("--output-root", default=str(OUTPUT_ROOT), help="runs: <root>/<task>/")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (0: none)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="data split seed")
    # Overrides may come before or after the options.
    return parser.parse_intermixed_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        run_peer(
            args.task,
            folds=args.folds,
            raw_dir=args.raw_dir,
            config=args.config,
            overrides=args.overrides,
            output_root=args.output_root,
            data_dir=args.data_dir,
            n_bootstrap=args.bootstrap,
            seed=args.seed,
        )
    except (DataError, ConfigError, ValueError) as err:
        raise SystemExit(f"error: {err}") from None


if __name__ == "__main__":
    main()
