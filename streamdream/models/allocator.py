"""The C allocator's settings for dream steps on a CPU.

A dream step allocates and frees the same few large tensors (activations, their gradients)
again and again. glibc's malloc hands each block over 128 KB (its threshold rises with use, to
32 MB at most) to the kernel with mmap and returns it with munmap on free, so every step
faults in hundreds of megabytes of fresh zeroed pages: on a small CPU that was about half the
time of a step, and its noisiest half. Keeping freed blocks in the heap for the next step costs
a few per cent more peak memory.

Threads get allocator arenas of their own, and an arena other than the main one cannot hold a
block over 64 MB, so it maps and unmaps those whatever the threshold (a 720p step in the dream
thread ran several times slower). So all threads share the main arena (the blocks are
few and large: there is little to contend for), and the setting must come before the first
thread starts: `cli.main` applies it first thing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -2, -3, -8
KEEP = 1 << 30  # blocks up to 1 GB come from the heap, and up to 1 GB freed stays there
TOP_PAD = 64 << 20  # grow the heap in 64 MB steps rather than one system call per tensor

_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse instead of returning it to the kernel
    at once, in one arena for all threads started after this. Once per process; True where it
    took effect (Linux with glibc), False elsewhere."""
    global _applied
    if _applied is None:
        _applied = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                mallopt = libc.mallopt
            except (OSError, AttributeError):  # musl and other C libraries have no mallopt
                return False
            mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
            # the mmap threshold first, and the rest only if it took: setting the trim threshold
            # alone stops glibc raising the mmap one, which made steps several times slower
            _applied = bool(mallopt(M_MMAP_THRESHOLD, KEEP) and mallopt(M_TRIM_THRESHOLD, KEEP)
                            and mallopt(M_TOP_PAD, TOP_PAD) and mallopt(M_ARENA_MAX, 1))
    return _applied
