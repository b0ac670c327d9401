"""Machine facts the speed and memory numbers rest on."""

import subprocess
import sys

from train.machine import peak_rss_mb


def test_a_worker_reports_its_own_peak_memory_not_its_parents():
    """`make bench` runs each path in a child process; the child's peak must not include the
    memory its parent held when it started it (ru_maxrss does, through fork and exec)."""
    held = bytearray(b"\x01") * (400 * 2**20)  # 400 MB written, so resident in this process
    assert peak_rss_mb() > 400
    code = "from train.machine import peak_rss_mb; print(peak_rss_mb())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    child = float(out.stdout)
    assert 1 < child < 200, child
    del held

