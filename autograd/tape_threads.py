"""How the tape spreads a batch over the cores: blocks of examples, threads, and BLAS kept to one
thread while the tape runs.

A batch of B examples runs as blocks of columns whose sizes are a function of B alone, never of the
threads: 1 block below ``2 * BLOCK`` examples, else an even number of near-equal blocks of at least
``BLOCK``, so two (or four) threads share the work evenly. Each example's numbers come from the same
NumPy calls on its block whichever thread runs it, and the tape adds the blocks' parameter
gradients in block order: any number of threads gives the numbers one thread gives.

While a tape runs a batch of several blocks with matrix products big enough for BLAS to thread,
BLAS keeps to one thread (``threadpoolctl``; the setting is the process's, restored when the last
tape running leaves): the blocks are the tape's parallel work, and BLAS's own threads would only
compete with them. A batch of one block leaves BLAS its threads, on any number of ``Tape.threads``.
Forward and backward of MLP(784, [128, 10]) with cross-entropy, on 2 cores: 128 examples, 3.3 ms
with OpenBLAS's threads and 4.0 ms with one; 4,096 examples, 29 and 43 ms; 16,384 (four blocks on
two threads), 102 ms with OpenBLAS's threads and 85 ms with one in each block.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

BLOCK = 4096
MAX_BLOCKS = 64
# Below this many multiply-adds in a batch's biggest matrix product, BLAS runs it on one thread of
# its own accord, and setting its threads would cost more than the product (a moons step on 100
# examples: 16 x 16 x 100).
BLAS_THREADED_FROM = 1 << 18

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_blas: list[Any] | None = None  # threadpoolctl's controllers of the BLAS libraries loaded
_saved: list[int] = []  # their thread counts before the first tape running set them to 1
_running = 0  # how many tape calls are inside one_blas_thread()


def blocks(B: int) -> list[tuple[int, int]]:
    """The (start, stop) columns of each block of a batch of B examples."""
    n = 1 if B < 2 * BLOCK else min(MAX_BLOCKS, 2 * (B // (2 * BLOCK)))
    edges = [B * i // n for i in range(n + 1)]
    return list(zip(edges[:-1], edges[1:]))


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS on one thread inside; as it was once the last caller inside has left."""
    global _blas, _running
    with _lock:
        if _blas is None:
            _blas = ThreadpoolController().select(user_api="blas").lib_controllers
        if _running == 0:
            _saved[:] = [lib.get_num_threads() for lib in _blas]
            for lib in _blas:
                lib.set_num_threads(1)
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0:
                for lib, n in zip(_blas, _saved):
                    lib.set_num_threads(n)


def in_threads(fn: Callable[[Any], None], items: Sequence[Any], threads: int) -> None:
    """``fn(item)`` for each item, on up to ``threads`` threads (NumPy releases the GIL inside its
    calls), under the caller's NumPy error state; the first error is raised here once all are done."""
    global _pool, _pool_size
    if threads <= 1 or len(items) <= 1:
        for item in items:
            fn(item)
        return
    with _lock:
        if _pool is None or _pool_size < threads:
            _pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="chainrule-tape")
            _pool_size = threads
        pool = _pool
    n = min(threads, len(items))
    caller_errors = np.geterr()  # NumPy's error state is each thread's own: the workers take the caller's

    def run_share(share: Sequence[Any]) -> None:
        with np.errstate(**caller_errors):
            for item in share:
                fn(item)

    futures = [pool.submit(run_share, items[i::n]) for i in range(n)]  # n tasks, whatever the pool's size
    errors = [f.exception() for f in futures]
    first = next((e for e in errors if e is not None), None)
    if first is not None:
        raise first
