"""A sweep worker's memory between its jobs: what a finished run freed goes back to the operating system.

loky replaces a worker whose resident memory has grown by 300 MB (286 MiB) over its size after its first
task (joblib/externals/loky/process_executor.py, ``_MAX_MEMORY_LEAK_SIZE``), and the replacement imports
torch and Lightning again (~4 s of a 2-core machine, counted in no run's time). A τ-sweep worker holds
~0.8 GB after its imports and, at the end of its runs, 0.92–1.02 GB: near that limit, so a worker was
replaced now and then (both, in one of four τ sweeps whose workers were watched on the 2-core Intel Xeon;
none in the others, nor in a collapse table). Most of the growth is not in use: a finished run's tensors
wait for the garbage collector (Lightning's trainer and the module refer to each other), and glibc keeps
the heap pages they are freed into (a freed tensor raises glibc's mmap threshold, so later ones come from
the heap). Collected and trimmed after each job, the workers of a τ sweep held 0.89–0.90 GB after every
one of its runs.
NOTE: ``gc.freeze`` after the imports keeps that collection to what the jobs allocated since: a full
collection otherwise walks the ~460 000 objects importing src.job leaves, 0.19 s at every job (0.0 s
frozen); the collection and the trim after a τ-sweep run take ~30 ms (py-spy's samples).
"""

import ctypes
import gc

# glibc's; None where the C library has none (musl, macOS): collecting is then all a worker does.
_MALLOC_TRIM = getattr(ctypes.CDLL(None), "malloc_trim", None)


def settle_imports() -> None:
    """After a worker's imports: what they left alive is never collected again (it lives as long as the
    worker), so later collections walk only what the jobs allocate."""
    gc.collect()
    gc.freeze()


def release_freed_memory() -> None:
    """After a job: its reference cycles collected and the heap pages free after that returned to the
    operating system (``malloc_trim(0)``)."""
    gc.collect()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
