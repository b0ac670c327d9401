"""Batch inference: flag the clauses of documents and clause files (see `--help`).

    python scripts/predict.py --model DIR --output OUT [--backend auto|torch|onnx|onnx-int8] INPUT...

Exit status: 0 the run finished (bad files are listed in skipped.csv), 2 usage or input error
(bad arguments, no input document, unusable model or output folder, or another run writing into
it), 3 internal error, 130 interrupted (rerun to resume); 1 is reserved for a `--fail-on` option.

The logic lives in `train.predict` (`predict_corpus` for use from Python).
"""

import sys

from train.predict import main

if __name__ == "__main__":
    sys.exit(main())
