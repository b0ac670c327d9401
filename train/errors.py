"""Errors that point at the exact place in the user's input that is wrong, and the one that stops a
whole command run (`RunError`)."""

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


class RunError(Exception):
    """A problem that stops the whole run: bad model, bad output path, or an output folder that
    belongs to another model. The command line prints it on one line and exits with status 2."""
