"""Line-numbered JSONL reading shared by every reader of labelled files."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from train.errors import DataError

# Bytes that are not UTF-8 come back from the "surrogateescape" error handler as U+DC80..U+DCFF.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def check_utf8(path: str | Path, line_no: int, line: str) -> None:
    """Raise `DataError` naming the file, line, column and byte when `line` (read with
    `errors="surrogateescape"`) holds a byte that is not UTF-8."""
    bad = _ESCAPED_BYTE.search(line)
    if bad:
        byte = ord(bad.group()) - 0xDC00
        raise DataError(
            path,
            f"byte 0x{byte:02X} at column {bad.start() + 1} is not UTF-8 text; "
            "save the file as UTF-8 and try again",
            line_no,
        )


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, object]]:
    """Yield (line number, parsed value) for each non-blank line; malformed JSON or a byte that
    is not UTF-8 raises `DataError` naming the file and line. A leading byte-order mark is
    skipped."""
    path = Path(path)
    with path.open(encoding="utf-8-sig", errors="surrogateescape") as fh:
        for line_no, line in enumerate(fh, start=1):
            check_utf8(path, line_no, line)
            if not line.strip():
                continue
            try:
                yield line_no, json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(path, f"malformed JSON: {err.msg}", line_no) from None
