"""The batch job's process, settled once its model is loaded: memory it frees is kept for its next
chunk, and the cyclic collector stops walking what lives to the end.

`medspa-coverage predict` allocates the same large arrays and Arrow buffers chunk after chunk. By
default each is handed back to the kernel when freed (glibc unmaps blocks over its mmap threshold
and trims its heaps; Arrow's mimalloc purges its pages), and the next chunk's are zeroed again page
by page: 15% of a 1,000,000-claim run's CPU was the kernel clearing pages, and the figure swung
from run to run with the host's memory. Kept instead, the run uses half the system time and is
about 6% faster (benchmarks/RESULTS.md). Only a process that is the batch job does this: the
service's workers score uploaded files with the same function and keep their own settings.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc

import pyarrow as pa

# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
# the largest mmap threshold glibc accepts on 64 bits: blocks below it come from the heap, and are reused
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024
KEPT_FREE_BYTES = 1 << 30  # free heap memory kept rather than trimmed
HEAP_GROWTH_BYTES = 64 * 1024 * 1024  # each time a heap grows, by at least this much


_settled = False


def settle_batch_process() -> None:
    """Keep freed memory in this process, and freeze the objects it holds now (the loaded model,
    numba's registries, the modules) out of the cyclic collector's walks: each full collection
    walked them again (frozen, a 1,000,000-claim run is ~8% faster). Once a process: a second
    batch in the same process (a test's command runner) finds it settled."""
    global _settled
    if _settled:
        return
    _settled = True
    _keep_freed_memory()
    gc.freeze()  # no collection first: one found nothing to free after the model's load, and cost 40 ms


def _keep_freed_memory() -> None:
    # Arrow's buffers from the C library's allocator, tuned below, rather than mimalloc's own pool
    pa.set_memory_pool(pa.system_memory_pool())
    libc_name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(libc_name) if libc_name else None
    if libc is None or not hasattr(libc, "mallopt"):  # not glibc (musl, macOS): its defaults stay
        return
    libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)
    libc.mallopt(M_TRIM_THRESHOLD, KEPT_FREE_BYTES)
    libc.mallopt(M_TOP_PAD, HEAP_GROWTH_BYTES)
