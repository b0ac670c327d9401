"""Where things are: the repository root, its `data/` folder, paths given relative to the
repository, and the raw-data folder (`RAW_DIR`)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
SHARED_RAW_DIR = REPO_ROOT.parent / "shared" / "data" / "raw"


def repo_path(value: str | Path) -> Path:
    """`value` as given when it is absolute or exists from the working directory, else relative
    to the repository root (so `outputs/latest/model` works from any directory)."""
    path = Path(value)
    return path if path.is_absolute() or path.exists() else REPO_ROOT / path


def default_raw_dir(shared_fallback: bool = True) -> Path:
    """`RAW_DIR` from the environment, else `data/raw/`; with `shared_fallback`, a shared copy
    beside the checkout (`../shared/data/raw`, as the Makefile uses) when `data/raw/` is missing.
    `make download` writes, so it passes `shared_fallback=False`."""
    if os.environ.get("RAW_DIR"):
        return Path(os.environ["RAW_DIR"])
    local = DATA_DIR / "raw"
    if shared_fallback and not local.is_dir() and SHARED_RAW_DIR.is_dir():
        return SHARED_RAW_DIR
    return local
