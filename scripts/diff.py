"""What changed between two versions of a policy, and which flags appeared (see `--help`).

    python scripts/diff.py --model DIR OLD NEW [--json OUT.json] [--html OUT.html] [--fail-on LABEL[,LABEL]]
    python scripts/diff.py --model DIR FOLDER      # a folder of versions named by date

The logic lives in `train.diff` (`diff_documents`, `diff_history` for use from Python).
"""

import sys

from train.diff import main

if __name__ == "__main__":
    sys.exit(main())
