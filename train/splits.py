"""Grouped splits: a service lives in exactly one split."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from typing import TypeVar

from train.paths import DATA_DIR

SPLITS = ("train", "validation", "test")
# The committed service -> split assignment (`load_service_splits`).
SERVICE_SPLITS = DATA_DIR / "service_splits.csv"
# When the same text sits in two splits, it stays in the one evaluation depends on most.
SPLIT_PRIORITY = {"test": 3, "validation": 2, "train": 1}
FORCED_TEST_SERVICES = ("zoom",)
T = TypeVar("T")


def seeded_order(items: Iterable[T], seed: int, name: Callable[[T], str] = str) -> list[T]:
    """`items` in a seeded, platform-independent order: sorted by the SHA-1 of `"{seed}:{name}"`.
    Every seeded choice of services, documents or folds goes through it."""
    return sorted(items, key=lambda item: hashlib.sha1(f"{seed}:{name(item)}".encode()).hexdigest())


def assign_splits(
    service_sizes: dict[str, int],
    service_strata: dict[str, str],
    ratios: dict[str, float],
    seed: int,
    forced: dict[str, str] | None = None,
) -> dict[str, str]:
    """Assign each service to a split so that, within every stratum (its main source), the clause
    counts follow `ratios`. Services are visited in a seeded hash order and each goes to the split
    furthest below its target, which is deterministic and keeps big services from skewing a split."""
    forced = dict(forced or {})
    assignment: dict[str, str] = {}
    by_stratum: dict[str, list[str]] = defaultdict(list)
    for service in service_sizes:
        if service in forced:
            assignment[service] = forced[service]
        else:
            by_stratum[service_strata[service]].append(service)
    for stratum in sorted(by_stratum):
        filled: Counter[str] = Counter()
        for service in seeded_order(by_stratum[stratum], seed):
            size = service_sizes[service]
            total = sum(filled.values()) + size
            split = max(SPLITS, key=lambda s: (ratios[s] * total - filled[s], -SPLITS.index(s)))
            assignment[service] = split
            filled[split] += size
    return assignment


def load_service_splits(path) -> dict[str, str]:
    """The committed service -> split table (`service,split,stratum`); empty when the file is
    missing. A service listed here keeps its split whatever else is added to the data."""
    import csv
    from pathlib import Path

    from train.errors import DataError

    path = Path(path)
    table: dict[str, str] = {}
    if not path.is_file():
        return table
    with path.open(encoding="utf-8", newline="") as fh:
        for line_no, row in enumerate(csv.DictReader(fh), start=2):
            service, split = (row.get("service") or "").strip(), (row.get("split") or "").strip()
            if not service or split not in SPLITS:
                raise DataError(path, f"each row needs a service and a split in {SPLITS}", line_no)
            if service in table:
                raise DataError(path, f"service {service!r} listed twice", line_no)
            table[service] = split
    return table


def write_service_splits(path, assignment: dict[str, str], strata: dict[str, str]) -> None:
    """Write the service -> split table, sorted by service (atomic). Rows already in the table
    keep their stratum and their `since`; rows added now take the stratum given in `strata` and
    the next `since` number."""
    import csv
    import io
    import os
    from pathlib import Path

    path = Path(path)
    since: dict[str, int] = {}
    kept_strata: dict[str, str] = {}
    if path.is_file():
        with path.open(encoding="utf-8", newline="") as fh:
            for r in csv.DictReader(fh):
                since[r["service"]] = int(r.get("since") or 1)
                kept_strata[r["service"]] = r.get("stratum", "")
    strata = {**strata, **kept_strata}
    added = max(since.values(), default=0) + 1
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["service", "split", "stratum", "since"])
    for service in sorted(assignment):
        writer.writerow(
            [service, assignment[service], strata.get(service, ""), since.get(service, added)]
        )
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    os.replace(tmp, path)


def assign_with_committed(
    service_sizes: dict[str, int],
    service_strata: dict[str, str],
    ratios: dict[str, float],
    seed: int,
    committed: dict[str, str],
    forced: dict[str, str] | None = None,
) -> tuple[dict[str, str], list[str]]:
    """Committed services keep their split; services the table does not know are assigned by
    `assign_splits` among themselves, within their own stratum, so adding a source never moves a
    service that was already placed. Returns the assignment and the newly assigned services."""
    forced = dict(forced or {})
    assignment = {s: committed[s] for s in service_sizes if s in committed}
    new = {s: n for s, n in service_sizes.items() if s not in committed}
    assignment.update(assign_splits(new, {s: service_strata[s] for s in new}, ratios, seed, forced))
    return assignment, sorted(new)
