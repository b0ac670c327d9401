"""A predict run split across processes (`accelerate launch` or torchrun): the process index
and count, and the marker files through which the main process waits for the others."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from train.errors import RunError


@dataclass
class DistInfo:
    index: int = 0
    world: int = 1
    state: object | None = None

    @property
    def is_main(self) -> bool:
        return self.index == 0

    @property
    def device(self) -> str | None:
        device = getattr(self.state, "device", None)
        return str(device) if device is not None and device.type == "cuda" else None

    def broadcast(self, obj):
        """The main process's `obj`, on every process."""
        if self.state is None:
            return obj
        from accelerate.utils import broadcast_object_list

        box = [obj]
        broadcast_object_list(box, from_process=0)
        return box[0]


def dist_context() -> DistInfo:
    """Process index and count under `accelerate launch` (or torchrun); one process otherwise.
    accelerate (and torch.distributed) is only imported when there are several processes."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    import torch
    from accelerate import PartialState

    # Without cpu=True accelerate leaves CPU-only processes undistributed, and every process
    # would then score (and merge) the whole corpus.
    state = PartialState(cpu=not torch.cuda.is_available())
    if state.num_processes != world:
        raise RunError(
            f"WORLD_SIZE is {world} but accelerate set up {state.num_processes} process(es)"
        )
    return DistInfo(state.process_index, state.num_processes, state)


def rank_marker(parts: Path, session: str, index: int, kind: str) -> Path:
    return parts / f"_{kind}-{session}-r{index:03d}"


def wait_for_workers(parts: Path, session: str, dist: DistInfo, poll_s: float = 1.0) -> None:
    """The main process waits for the others through marker files rather than a collective
    barrier, which would time out when one process has hours more work than another."""
    pending = set(range(1, dist.world))
    while pending:
        for i in sorted(pending):
            failed = rank_marker(parts, session, i, "failed")
            if failed.exists():
                raise RunError(f"process {i} failed: {failed.read_text(encoding='utf-8').strip()}")
            if rank_marker(parts, session, i, "finished").exists():
                pending.discard(i)
        if pending:
            time.sleep(poll_s)
    for i in range(1, dist.world):
        rank_marker(parts, session, i, "finished").unlink(missing_ok=True)
