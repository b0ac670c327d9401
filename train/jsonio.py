"""Line-numbered JSONL reading shared by every reader of labelled files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from train.errors import DataError


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, object]]:
    """Yield (line number, parsed value) for each non-blank line; malformed JSON raises
    `DataError` naming the file and line."""
    path = Path(path)
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield line_no, json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(path, f"malformed JSON: {err.msg}", line_no) from None
