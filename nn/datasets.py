"""Small data sets that need no download, and helpers to split them and iterate mini-batches.

Every loader returns ``(X, y)``: ``X`` a 2-D NumPy float64 array, one example per row, and ``y``
a 1-D NumPy int64 array of class labels 0..k-1. (Models and ``fit`` also accept plain lists.)
Random data sets are drawn from ``numpy.random.default_rng(seed)``, so a seed gives the same
points on every machine and run.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import math
from collections.abc import Iterator, Sequence
from importlib import resources
from typing import Any

import numpy as np

from autograd.arguments import integer, positive_int, real

__all__ = ["xor", "moons", "spirals", "blobs", "digits", "split", "batches", "shuffled_orders"]


def xor() -> tuple[np.ndarray, np.ndarray]:
    """The four points of XOR: label 1 when exactly one input is 1. No single line separates them."""
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0], dtype=np.int64)
    return X, y


def moons(n: int = 100, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (as scikit-learn's ``make_moons``), shuffled.

    Class 0: the upper half of the unit circle; class 1: the lower half of the unit circle
    centred at (1, 0.5). ``n // 2`` points in class 0, the rest in class 1; each point gets
    Gaussian noise of standard deviation ``noise``.
    """
    n = _check_count(n, 2, "moons")
    noise = _check_nonnegative(noise, "noise")
    rng = np.random.default_rng(integer("seed", seed, minimum=0))
    n0 = n // 2
    n1 = n - n0
    t0 = np.linspace(0.0, math.pi, n0)
    t1 = np.linspace(0.0, math.pi, n1)
    outer = np.column_stack([np.cos(t0), np.sin(t0)])
    inner = np.column_stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)])
    X = np.vstack([outer, inner]) + rng.normal(0.0, noise, size=(n, 2))
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n0, n1])
    return _shuffled(X, y, rng)


def spirals(
    n: int = 100, classes: int = 3, noise: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``classes`` interleaved spiral arms (as in CS231n), ``n`` points in all, shuffled.

    Arm k has radii evenly spaced from 0 to 1 and angles from 4k to 4(k + 1) radians, plus Gaussian
    noise of standard deviation ``noise`` on the angle. Points are split among the arms as evenly
    as possible (the first ``n % classes`` arms get one more).
    """
    classes = _check_count(classes, 2, "spirals: classes")
    n = _check_count(n, classes, "spirals")
    noise = _check_nonnegative(noise, "noise")
    rng = np.random.default_rng(integer("seed", seed, minimum=0))
    sizes = _even_sizes(n, classes)
    parts = []
    for k, m in enumerate(sizes):
        r = np.linspace(0.0, 1.0, m)
        t = np.linspace(4.0 * k, 4.0 * (k + 1), m) + rng.normal(0.0, noise, size=m)
        parts.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
    X = np.vstack(parts)
    y = np.repeat(np.arange(classes, dtype=np.int64), sizes)
    return _shuffled(X, y, rng)


def blobs(
    n: int = 100, classes: int = 2, spread: float = 0.5, radius: float = 2.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``classes`` Gaussian clusters in the plane that a linear classifier separates exactly.

    The centres sit evenly on a circle of the given ``radius``; each point is its centre plus
    Gaussian noise of standard deviation ``spread``, pulled in (if needed) to stay within
    0.9 * radius * sin(pi / classes) of the centre. That bound guarantees linear separability:
    ``argmax_k(c_k . x)`` with the centres c_k labels every point correctly (for two classes, the
    line through the origin perpendicular to the centres separates them).
    """
    classes = _check_count(classes, 2, "blobs: classes")
    n = _check_count(n, classes, "blobs")
    spread = _check_nonnegative(spread, "spread")
    radius = real("blobs: radius", radius, 0.0, strict_min=True)
    rng = np.random.default_rng(integer("seed", seed, minimum=0))
    sizes = _even_sizes(n, classes)
    y = np.repeat(np.arange(classes, dtype=np.int64), sizes)
    angles = 2.0 * math.pi * np.arange(classes) / classes
    centres = radius * np.column_stack([np.cos(angles), np.sin(angles)])
    offsets = rng.normal(0.0, spread, size=(n, 2))
    limit = 0.9 * radius * math.sin(math.pi / classes)
    length = np.linalg.norm(offsets, axis=1, keepdims=True)
    offsets = np.where(length > limit, offsets * (limit / np.maximum(length, 1e-300)), offsets)
    return _shuffled(centres[y] + offsets, y, rng)


DIGITS_FILE = "digits.csv.gz"


def digits(normalize: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 8x8 images of handwritten digits (UCI "Optical Recognition of Handwritten Digits",
    the copy scikit-learn ships; licence CC BY 4.0, see ``nn/data/DIGITS_NOTICE.txt``).

    X has shape (1797, 64): each row an image, row by row, pixel values 0..16 (divided by 16 into
    0..1 when ``normalize`` is true); y holds the digit 0..9. Read from the bundled gzipped CSV.
    """
    raw = resources.files(__package__).joinpath("data", DIGITS_FILE)
    where = f"nn/data/{DIGITS_FILE}"
    try:
        with raw.open("rb") as f:
            text = gzip.decompress(f.read()).decode("ascii")
    except FileNotFoundError:
        raise FileNotFoundError(
            f"the bundled digits file {where} is missing: reinstall chainrule (it ships as package data)"
        ) from None
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise ValueError(f"the bundled digits file {where} is corrupt ({e}): reinstall chainrule") from None
    try:
        rows = [[int(field) for field in row] for row in csv.reader(io.StringIO(text)) if row]
        data = np.array(rows, dtype=np.int64)
    except ValueError as e:
        raise ValueError(
            f"the bundled digits file {where} is corrupt (not a table of integers: {e})"
        ) from None
    if data.shape != (1797, 65):
        raise ValueError(
            f"the bundled digits file {where} is corrupt: shape {data.shape}, expected (1797, 65)"
        )
    X, y = data[:, :64].astype(np.float64), data[:, 64]
    if X.min() < 0 or X.max() > 16 or y.min() < 0 or y.max() > 9:
        raise ValueError(f"the bundled digits file {where} is corrupt: pixels must be 0..16 and labels 0..9")
    return (X / 16.0 if normalize else X), y


def split(
    X: Any, y: Any, fractions: Sequence[float] = (0.7, 0.15, 0.15), seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffle the examples with ``seed`` and cut them into parts of the given fractions.

    Returns one ``(X_part, y_part)`` per fraction, e.g. ``(train, valid, test)`` for the default.
    The fractions must sum to 1; part sizes are rounded and the last part takes the remainder, so
    every example lands in exactly one part.
    """
    X, y = _as_arrays(X, y, "split")
    fractions = [float(f) for f in fractions]
    valid = fractions and all(f >= 0 for f in fractions) and math.isclose(sum(fractions), 1.0, abs_tol=1e-9)
    if not valid:
        raise ValueError(f"split: fractions must be non-negative and sum to 1, got {fractions}")
    order = np.random.default_rng(integer("seed", seed, minimum=0)).permutation(len(y))
    cuts = np.round(np.cumsum(fractions[:-1]) * len(y)).astype(int)
    return [(X[idx], y[idx]) for idx in np.split(order, cuts)]


def batches(
    X: Any, y: Any, batch_size: int, seed: int | None = 0, drop_last: bool = False
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One epoch of mini-batches ``(X_batch, y_batch)``, in an order shuffled by ``seed``.

    Every example appears exactly once; the last batch is smaller when ``batch_size`` does not
    divide the number of examples (or dropped, with ``drop_last``). ``seed=None`` keeps the data's
    order (as ``fit(seed=None)`` does). For several epochs use a different seed per epoch, e.g.
    ``seed=epoch``.
    """
    X, y = _as_arrays(X, y, "batches")
    batch_size = positive_int("batches: batch_size", batch_size)
    order = next(shuffled_orders(len(y), seed))
    stop = len(y) - len(y) % batch_size if drop_last else len(y)
    for start in range(0, stop, batch_size):
        idx = order[start : start + batch_size]
        yield X[idx], y[idx]


def shuffled_orders(n: int, seed: int | None) -> Iterator[np.ndarray]:
    """The order of the n examples in epoch 1, 2, ...: successive permutations from one generator
    made from ``seed`` (an integer >= 0, checked now, not at the first epoch), or with ``None`` the
    examples' own order every epoch. The one shuffling routine: ``fit(seed=s)`` visits epoch 1 in
    the order of ``batches(seed=s)``."""
    if seed is None:
        return itertools.repeat(np.arange(n))
    return _permutations(integer("seed", seed, minimum=0), n)


def _permutations(seed: int, n: int) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(seed)  # made at the first epoch that shuffles (a full batch never does)
    while True:
        yield rng.permutation(n)


# --- helpers ------------------------------------------------------------------------------------


def _as_arrays(X: Any, y: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"{where}: X must be 2-D (one example per row), got shape {X.shape}")
    if y.ndim != 1 or len(y) != len(X):
        raise ValueError(
            f"{where}: y must be 1-D with one label per row of X; X has {len(X)} rows, y has shape {y.shape}"
        )
    return X, y


def _shuffled(X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(y))
    return X[order], y[order]


def _even_sizes(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if k < n % parts else 0) for k in range(parts)]


def _check_count(n: Any, minimum: int, where: str) -> int:
    try:
        return integer(where, n, minimum)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: need an integer of at least {minimum}, got {n!r}") from None


def _check_nonnegative(x: Any, name: str) -> float:
    """x as a finite float >= 0: NaN and infinity are refused (moons(noise=inf) would be all inf)."""
    try:
        return real(name, x, minimum=0.0)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite non-negative number, got {x!r}") from None
