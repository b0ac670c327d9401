"""What the command-line entry points (predict, diff, watch) share."""

from __future__ import annotations

import logging
import sys


def configure_logging() -> None:
    """Plain `LEVEL message` lines on stderr, once."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr
        )
