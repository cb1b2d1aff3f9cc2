"""Switches that change how Values are recorded: ``no_grad``, ``detect_anomaly``, and the batch
tape's tracing (``tracing``, internal: every node built inside is a traced node with no number).

Both live in one context variable (not a module global), so they are safe with threads and
asyncio, and the hot path reads a single int: 0 means "record the graph, check nothing".
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar

from .errors import AnomalyError

__all__ = ["AnomalyError", "detect_anomaly", "enable_grad", "is_grad_enabled", "no_grad", "tracing"]

NO_GRAD = 1
ANOMALY = 2
TRACING = 4

mode: ContextVar[int] = ContextVar("chainrule_autograd_mode", default=0)

# The chain rule sums into the nodes' own ``.grad`` slots (much faster than a dict keyed by node), and
# measuring a custom op's local derivatives runs its closure on them: whoever writes those slots for a
# while holds this lock, so two threads never sum into the same slots at once. Re-entrant, because
# the chain rule may measure a custom node while it holds it.
GRAD_SLOTS = threading.RLock()


@contextmanager
def _set(flag: int, on: bool) -> Iterator[None]:
    current = mode.get()
    token = mode.set(current | flag if on else current & ~flag)
    try:
        yield
    finally:
        mode.reset(token)


def no_grad() -> AbstractContextManager[None]:
    """Inside this context, operations compute their data but record no graph (no parents)."""
    return _set(NO_GRAD, True)


def enable_grad() -> AbstractContextManager[None]:
    """Undo an enclosing ``no_grad()`` for a block."""
    return _set(NO_GRAD, False)


def detect_anomaly() -> AbstractContextManager[None]:
    """Inside this context, the first NaN or infinity in a forward value, a local derivative or a
    gradient raises ``AnomalyError`` naming the op that produced it."""
    return _set(ANOMALY, True)


def is_grad_enabled() -> bool:
    return not mode.get() & NO_GRAD


def tracing() -> AbstractContextManager[None]:
    """Inside this context every op builds a traced node (``value.Traced``): the graph of one
    example as the batch tape records it, with no numbers (see ``Tape.trace``)."""
    return _set(TRACING, True)
