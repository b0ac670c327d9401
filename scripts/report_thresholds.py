"""Add report thresholds to a model trained before they existed (see `--help`)."""

import sys

from train.report_thresholds import main

if __name__ == "__main__":
    sys.exit(main())
