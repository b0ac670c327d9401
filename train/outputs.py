"""The files a command writes: the names in a predict output folder, atomic writes (a
temporary file renamed into place, so a kill leaves the old file or the new one) and the lock
that keeps two runs out of one output folder."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from train.errors import RunError

CLAUSES_FILE = "clauses.jsonl"
DOCUMENTS_FILE = "documents.csv"
SKIPPED_FILE = "skipped.csv"
REPORT_FILE = "report.html"
RUN_FILE = "run.json"
PARTS_DIR = "parts"
LOCK_FILE = ".clausewatch.lock"  # held by the run writing into the output folder


def temp_path_beside(path: Path) -> Path:
    """A temporary name beside `path`, unique to this process and call (hidden, `.tmp`)."""
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:12]}.tmp")


def write_atomic(path: Path, write) -> None:
    """Write through `write(fh)` into a temporary file beside `path`, then rename it into place,
    so a kill leaves either the old file or the new one, never half of one."""
    tmp = temp_path_beside(path)
    try:
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def check_output_path(output_dir: Path) -> None:
    if output_dir.exists() and not output_dir.is_dir():
        raise RunError(f"output path {output_dir} exists and is not a folder")
    parent = output_dir
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise RunError(f"output path {output_dir}: {parent} is not a writable folder")


def lock_output(output_dir: Path, tool: str = "predict"):
    """Create the output folder and take its lock (`LOCK_FILE`, a `filelock.FileLock`) without
    waiting: two runs writing into one folder would delete each other's files. Released by the
    caller (`lock.release()`); the operating system releases it when a run is killed."""
    from filelock import FileLock, Timeout

    lock_path = output_dir / LOCK_FILE
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(lock_path, blocking=False)
        lock.acquire()
    except Timeout:
        raise RunError(
            f"another {tool} run is writing into {output_dir} (it holds {lock_path}); "
            "wait for it to finish, or choose another --output"
        ) from None
    except OSError as err:
        raise RunError(f"output path {output_dir}: cannot lock it: {err}") from err
    return lock
