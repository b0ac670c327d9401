"""Batch inference: flag the clauses of documents and clause files (see `--help`).

    python scripts/predict.py --model DIR --output OUT [--backend auto|torch|onnx|onnx-int8] INPUT...

The logic lives in `train.batch` (`predict_corpus` for use from Python).
"""

import sys

from train.batch import main

if __name__ == "__main__":
    sys.exit(main())
