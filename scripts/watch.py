"""Which rights did each service grant itself, and when (see `--help`).

    python scripts/watch.py --model DIR --output OUT VERSIONS_FOLDER
    python scripts/watch.py --model DIR --output OUT OLD_SNAPSHOT NEW_SNAPSHOT [--dates OLD NEW]

Writes `timeline.jsonl`, `timeline.csv` and `report.html`. The logic lives in `train.watch`.
"""

import sys

from train.watch import main

if __name__ == "__main__":
    sys.exit(main())
