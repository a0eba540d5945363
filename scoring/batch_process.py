"""The batch job's own process, tuned for it: memory it frees is kept for its next chunk, its
native pools do not spin beside its scoring threads, and the cyclic collector stops walking what
lives to the end.

`medspa-coverage predict` allocates the same large arrays and Arrow buffers chunk after chunk. By
default each is handed back to the kernel when freed (glibc unmaps blocks over its mmap threshold
and trims its heaps; Arrow's mimalloc purges its pages), and the next chunk's are zeroed again page
by page: 13-15% of a 1,000,000-claim run's CPU was the kernel clearing pages, and the figure swung
from run to run with the host's memory. Its two chunks scored side by side each multiply on one
thread, yet OpenBLAS's idle threads (numpy's and scipy's copies) spun for 3% of the run. Only a
process that is the batch job does this: the service's workers score uploaded files with the same
function and keep their own settings. Figures: benchmarks/RESULTS.md.

prepare_batch_process() first, before numpy and pyarrow load where it can (the `predict` command
calls it before its imports): the environment is read when they load. settle_batch_process()
once the model is loaded.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys

# read when each library loads (the module it is set before): one BLAS thread (each scoring thread
# multiplies on its own core); Arrow's buffers from the C library's allocator (tuned below) rather
# than mimalloc's own pool
BATCH_PROCESS_ENV = {"numpy": ("OPENBLAS_NUM_THREADS", "1"), "pyarrow": ("ARROW_DEFAULT_MEMORY_POOL", "system")}
# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
# the largest mmap threshold glibc accepts on 64 bits: blocks below it come from the heap, and are reused
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024
KEPT_FREE_BYTES = 1 << 30  # free heap memory kept rather than trimmed
HEAP_GROWTH_BYTES = 64 * 1024 * 1024  # each time a heap grows, by at least this much

_prepared = _settled = False


def prepare_batch_process() -> None:
    """The environment the native libraries read and the allocator's settings; once a process."""
    global _prepared
    if _prepared:
        return
    _prepared = True
    # Set only for a library not loaded yet, so that a process that loaded it already (a test's
    # command runner) does not hand the setting on to every process it starts later.
    for module, (name, value) in BATCH_PROCESS_ENV.items():
        if module not in sys.modules:
            os.environ.setdefault(name, value)
    if "pyarrow" in sys.modules:  # its pool is set directly instead
        import pyarrow as pa

        pa.set_memory_pool(pa.system_memory_pool())
    libc_name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(libc_name) if libc_name else None
    if libc is None or not hasattr(libc, "mallopt"):  # not glibc (musl, macOS): its defaults stay
        return
    libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)
    libc.mallopt(M_TRIM_THRESHOLD, KEPT_FREE_BYTES)
    libc.mallopt(M_TOP_PAD, HEAP_GROWTH_BYTES)


def settle_batch_process() -> None:
    """Freeze the objects the process holds now (the loaded model, the modules) out of the cyclic
    collector's walks: each full collection walked them again (frozen, a 1,000,000-claim run is
    ~8% faster). No collection first: one found nothing to free after the model's load, and cost
    40 ms. Once a process: a second batch in the same process finds it settled."""
    global _settled
    if _settled:
        return
    _settled = True
    gc.freeze()
