"""Errors that point at the exact place in the user's input that is wrong."""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """Bad input data: names the file (and line, where there is one) and what to fix."""

    def __init__(self, path: str | Path, message: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class ConfigError(ValueError):
    """A configuration problem, with the key and what to do about it."""
