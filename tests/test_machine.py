"""Machine facts and batching rules the speed and memory numbers rest on."""

import subprocess
import sys

import pytest

from train.inference import length_sorted_batches
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


def test_batches_cover_every_clause_once_longest_first():
    lengths = [5, 40, 12, 40, 3, 7, 26]
    batches = length_sorted_batches(lengths, batch_size=3)
    assert [len(b) for b in batches] == [3, 3, 1]
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths, reverse=True)
    assert flat[:2] == [1, 3]  # equal lengths keep input order


def test_token_budget_bounds_each_padded_batch():
    lengths = [256] * 5 + [128] * 10 + [16] * 100
    batches = length_sorted_batches(lengths, batch_size=64, max_tokens=1024)
    for batch in batches:
        # padded size: clauses x the batch's longest (its first) clause
        assert len(batch) * lengths[batch[0]] <= 1024
        assert len(batch) <= 64
    # 4 x 256; 256 + 3 x 128 (padded to 256); 7 x 128 + one 16; 64 x 16; the other 35
    assert [len(b) for b in batches] == [4, 4, 8, 64, 35]
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    # a clause longer than the budget still gets scored, alone
    assert length_sorted_batches([300, 10], batch_size=8, max_tokens=100) == [[0], [1]]
    # no budget: batches of batch_size whatever their length
    assert [len(b) for b in length_sorted_batches(lengths, 64)] == [64, 51]
    with pytest.raises(ValueError, match="batch_size"):
        length_sorted_batches(lengths, 0)
