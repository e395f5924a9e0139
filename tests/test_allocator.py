"""The allocator setting behind CPU dream steps: freed memory is kept for the next step."""

import platform
import resource
import sys

import pytest
import torch

from streamdream.models import allocator

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")
def test_takes_effect_once_and_is_not_applied_again(monkeypatch):
    import ctypes

    loaded = []
    real = ctypes.CDLL
    monkeypatch.setattr(allocator, "_applied", None)  # as in a fresh process
    monkeypatch.setattr(ctypes, "CDLL", lambda *args, **kwargs: loaded.append(args) or real(*args, **kwargs))
    assert allocator.keep_freed_memory() is True
    assert allocator.keep_freed_memory() is True
    assert len(loaded) == 1  # mallopt was called in the first call only


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")
def test_repeated_steps_reuse_freed_memory_instead_of_faulting_it_in_again():
    # a step's pattern: a large activation, a smaller one, a result, all freed; glibc alone maps
    # and unmaps each block of this size on every use (about 32k page faults a round)
    allocator.keep_freed_memory()
    values = 16 * 2**20  # 64 MB
    faults = []
    for _ in range(20):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        a = torch.ones(values)
        b = torch.ones(values // 3)
        c = a + 1
        del a, b, c
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    per_round = values * 4 // 4096 * 2  # the pages of the two 64 MB blocks
    assert sum(faults[10:]) < 10 * per_round // 4, f"page faults per round, once settled: {faults[10:]}"
