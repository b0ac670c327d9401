"""Evaluate a model against the baselines (see `--help`): `make eval`, or on your own labelled
clauses `python scripts/run_eval.py --data clauses.jsonl --train train.jsonl`."""

from train.evaluation import main

if __name__ == "__main__":
    main()
