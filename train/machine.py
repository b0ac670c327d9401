"""What a number was measured on: one description of the machine for training summaries,
peer-recipe results and `make bench`."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

# CPU features that decide int8 and fp32 speed (ONNX Runtime picks its kernels by them).
SPEED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (Linux); empty elsewhere."""
    path = Path("/proc/cpuinfo")
    fields: dict[str, str] = {}
    if not path.is_file():
        return fields
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo, else what `platform` knows."""
    return _cpuinfo().get("model name") or platform.processor() or platform.machine()


def cpu_speed_flags() -> list[str]:
    """Which of `SPEED_FLAGS` the CPU has (empty when /proc/cpuinfo is not there)."""
    flags = set(_cpuinfo().get("flags", "").split())
    return [flag for flag in SPEED_FLAGS if flag in flags]


def hardware_info(with_torch: bool = True) -> dict:
    """Platform, Python, CPU (model, cores, speed flags) and, with torch importable, its version,
    threads and GPUs. `with_torch=False` never imports torch (the lean ONNX paths)."""
    info: dict = {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "cpu_flags": cpu_speed_flags(),
    }
    if not with_torch:
        return info
    try:
        import torch
    except ImportError:
        return info
    info["torch"] = torch.__version__
    info["torch_threads"] = torch.get_num_threads()
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpu_count"] = torch.cuda.device_count()
    return info


def peak_rss_mb() -> float:
    """This process's peak resident memory, in MB.

    On Linux it is `VmHWM` from `/proc/self/status`, the high-water mark of this process's own
    address space. `getrusage`'s `ru_maxrss` is not: it survives `fork` and `exec`, so a worker
    started by a parent holding a gigabyte reports at least that gigabyte. Elsewhere `ru_maxrss`
    is the only figure (bytes on macOS, KiB on other systems)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024
