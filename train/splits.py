"""Grouped splits: a service lives in exactly one split."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict

SPLITS = ("train", "validation", "test")
# When the same text sits in two splits, it stays in the one evaluation depends on most.
SPLIT_PRIORITY = {"test": 3, "validation": 2, "train": 1}
FORCED_TEST_SERVICES = ("zoom",)


def _order_key(service: str, seed: int) -> str:
    return hashlib.sha1(f"{seed}:{service}".encode()).hexdigest()


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
        for service in sorted(by_stratum[stratum], key=lambda s: _order_key(s, seed)):
            size = service_sizes[service]
            total = sum(filled.values()) + size
            split = max(SPLITS, key=lambda s: (ratios[s] * total - filled[s], -SPLITS.index(s)))
            assignment[service] = split
            filled[split] += size
    return assignment
