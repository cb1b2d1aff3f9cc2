"""Switches that change how Values are recorded: ``no_grad`` and ``detect_anomaly``.

Both live in one context variable (not a module global), so they are safe with threads and
asyncio, and the hot path reads a single int: 0 means "record the graph, check nothing".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar

NO_GRAD = 1
ANOMALY = 2

mode: ContextVar[int] = ContextVar("chainrule_autograd_mode", default=0)


class AnomalyError(FloatingPointError, ValueError):
    """Raised inside ``detect_anomaly()`` at the first NaN or infinity, naming the op. It is a
    ValueError too: the error an op that makes NaN raises outside ``detect_anomaly()``."""


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
