"""Watch a network learn: one page that shows, epoch by epoch, one example's graph (every value and
gradient, the same layout in every epoch), the loss curve so far and, for 2-D inputs, the decision
boundary.

``training_page`` trains the model with ``nn.fit(..., epochs=1)`` once per epoch and records, after
each epoch (and before the first: epoch 0), the engine's own numbers: the chosen example's graph
traced afresh (forward and backward of that example's loss, eagerly), the mean loss over the
training set (``nn.evaluate``) and the predicted class on a grid. The graph is laid out once, with
every cell as wide as its widest number over the epochs; the page changes only text and colours.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import nn
from autograd import files
from autograd.arguments import integer, positive_int
from nn.engines import example_graph
from nn.losses import LossFn

from .dot import DrawingTooBig, check_options, count_boxes
from .frames import InlinePage
from .graph import Graph, gradients, trace
from .training_html import page_html

MAX_FRAMES = 201  # epochs recorded at most (evenly spaced, the first and last always): the page's size
GRID = 36  # the decision boundary: GRID x GRID cells
MAX_CLASSES = 10  # the boundary's colours
PAGE_NODES = 1000  # drawn nodes at most, as the step-by-step page


@dataclass(frozen=True)
class EpochRecord:
    """What the page shows after ``epoch`` epochs (0: before training): the model's parameters, the
    chosen example's traced graph (its values and gradients), the training set's mean loss and
    accuracy (None for values), and the boundary's classes (None without a boundary)."""

    epoch: int
    weights: tuple[float, ...]
    graph: Graph
    loss: float
    accuracy: float | None
    classes: str | None


@dataclass(repr=False)
class TrainingPage:
    """``training_page``'s result. ``losses[k]``/``accuracies[k]``: after k epochs, for every epoch
    (the curve); ``records``: the recorded epochs (all, unless ``sampled`` says which were kept);
    ``boundary``: (x0, x1, y0, y1) of the grid, or None, and then ``no_boundary`` says why."""

    html: str
    path: Path | None
    records: list[EpochRecord]
    losses: list[float]
    accuracies: list[float | None]
    history: nn.History
    example: int
    sampled: str = ""
    boundary: tuple[float, float, float, float] | None = None
    no_boundary: str = ""
    grid: int = GRID
    seconds: float = field(default=0.0)

    @property
    def epochs(self) -> list[int]:
        """The recorded epochs, 0 (before training) first."""
        return [r.epoch for r in self.records]

    def __repr__(self) -> str:
        where = f", written to {str(self.path)!r}" if self.path else ""
        return (
            f"<TrainingPage: epochs 0 to {self.epochs[-1]}, {len(self.records)} recorded, "
            f"{len(self.html.encode('utf-8')):,} bytes{where}>"
        )

    def inline(self, height: int = 760) -> InlinePage:
        """The page in a frame, for Jupyter (a page as a cell's last line shows this)."""
        return InlinePage(self.html, positive_int("TrainingPage.inline(): height", height))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **_: Any) -> dict[str, str]:
        return self.inline()._repr_mimebundle_()


def training_page(
    model: nn.Module,
    X: Any,
    y: Any,
    loss: str | LossFn,
    epochs: int = 100,
    optimizer: nn.Optimizer | None = None,
    example: int = 0,
    path: str | os.PathLike | None = None,
    title: str = "Watch a network learn",
    batch_size: int | None = None,
    seed: int | None = 0,
    engine: str = "auto",
    max_frames: int = MAX_FRAMES,
    validation: tuple[Any, Any] | None = None,
    rankdir: str = "LR",
    precision: int = 4,
) -> TrainingPage:
    """Train ``model`` on (X, y) for ``epochs`` epochs (``nn.fit``'s arguments; epoch k shuffles
    mini-batches from ``seed + k - 1``) and make the page that shows it learn: example ``example``'s
    graph, the loss curve and, for 2-D X, the decision boundary, epoch by epoch. With ``path`` the
    page is written there atomically. At most ``max_frames`` epochs are recorded (evenly spaced; the
    page and ``sampled`` say so); the curve always has every epoch."""
    start = time.perf_counter()
    epochs = integer("training_page(): epochs", epochs, minimum=1)
    frames = integer("training_page(): max_frames", max_frames, minimum=2)
    check_options(rankdir, precision)
    xs = _rows(X)
    n = integer("training_page(): example", example, minimum=0)
    if n >= len(xs):
        raise ValueError(f"training_page(): example {n} is not a row of X, which has {len(xs)} examples")
    optimizer = nn.SGD(model.parameters(), lr=0.1) if optimizer is None else optimizer
    run = _Run(model, xs, y, loss, optimizer, n, batch_size, seed, engine, validation)
    kept = _kept(epochs, frames)
    run.record(0)
    for k in range(1, epochs + 1):
        run.epoch(k, k in kept)
    sampled = "" if len(kept) == epochs + 1 else _sampling_note(kept, epochs)
    result = TrainingPage(
        "", None, run.records, run.losses, run.accuracies, run.history, n, sampled,
        run.box, run.why, GRID,
    )  # fmt: skip
    result.html = page_html(result, title, rankdir, precision, _loss_name(loss), xs, y)
    if path is not None:
        result.path = files.write_atomic(path, result.html, "write the training page")
    result.seconds = time.perf_counter() - start
    return result


def _rows(X: Any) -> np.ndarray:
    xs = np.asarray(X, dtype=float)
    if xs.ndim != 2 or len(xs) == 0:
        raise ValueError(f"training_page(): X must be 2-D (examples x features), got shape {xs.shape}")
    return xs


def _loss_name(loss: str | LossFn) -> str:
    return nn.get_loss(loss).name or getattr(loss, "__name__", "a loss of your own")


def _kept(epochs: int, frames: int) -> set[int]:
    """The epochs to record: every one when they fit, else ``frames`` evenly spaced, 0 and the last."""
    if epochs + 1 <= frames:
        return set(range(epochs + 1))
    return {round(i * epochs / (frames - 1)) for i in range(frames)}


def _sampling_note(kept: set[int], epochs: int) -> str:
    return (
        f"{len(kept)} of the {epochs + 1} epochs (0 to {epochs}) are recorded, evenly spaced, to keep the "
        "page small; the loss curve has every epoch"
    )


class _Run:
    """The training, one epoch at a time, and what is recorded after each."""

    def __init__(
        self,
        model: nn.Module,
        xs: np.ndarray,
        y: Any,
        loss: str | LossFn,
        optimizer: nn.Optimizer,
        example: int,
        batch_size: int | None,
        seed: int | None,
        engine: str,
        validation: tuple[Any, Any] | None,
    ) -> None:
        self.model, self.xs, self.y, self.loss, self.optimizer = model, xs, y, loss, optimizer
        self.batch_size, self.seed, self.engine, self.validation = batch_size, seed, engine, validation
        self.loss_fn = nn.get_loss(loss)
        self.x = xs[example].tolist()
        outs = len(_outputs(model, self.x))
        labels = y if isinstance(y, np.ndarray) else list(y)
        self.target = nn.encode_targets(labels[example : example + 1], self.loss_fn, outs)[0].tolist()
        self.example = example_graph(model, self.loss_fn)
        self.records: list[EpochRecord] = []
        self.losses: list[float] = []
        self.accuracies: list[float | None] = []
        self.history = nn.History()
        self.box, self.grid, self.why = _grid(xs, self.loss_fn, outs)
        drawn = count_boxes(self._root(), False, False)
        if drawn > PAGE_NODES:  # before any training: a page of so many boxes is not for reading
            raise DrawingTooBig(
                f"training_page(): one example's graph has {drawn} nodes to draw, over the {PAGE_NODES} "
                "a page shows; use a smaller model",
                drawn, PAGE_NODES, None,
            )  # fmt: skip
        self._score()

    def _root(self) -> Any:
        root = self.example(self.x, self.target)[0]
        if not root.label:
            root.label = "loss"
        return root

    def _score(self) -> None:
        scores = nn.evaluate(self.model, self.xs, self.y, self.loss, engine=self.engine)
        self.losses.append(scores["loss"])
        self.accuracies.append(scores.get("acc"))

    def epoch(self, k: int, keep: bool) -> None:
        """Train one more epoch (epoch k), score it, and record it when ``keep``. Why an engine
        runs (a FallbackWarning) is said once, in epoch 1, not again in every epoch."""
        with warnings.catch_warnings():
            if k > 1:
                warnings.simplefilter("ignore", nn.FallbackWarning)
            self._train(k)
            self._score()
        if keep:
            self.record(k)

    def _train(self, k: int) -> None:
        h = nn.fit(
            self.model, self.xs, self.y, loss=self.loss, optimizer=self.optimizer, epochs=1,
            batch_size=self.batch_size, seed=None if self.seed is None else self.seed + k - 1,
            progress=False, engine=self.engine, validation=self.validation,
        )  # fmt: skip
        if k == 1:
            self.history.engine, self.history.engine_reason, self.history.loss = (
                h.engine, h.engine_reason, h.loss,
            )  # fmt: skip
        self.history.epochs += h.epochs
        self.history.seconds += h.seconds

    def record(self, k: int) -> None:
        root = self._root()
        graph = trace(root, gradients(root))
        classes = None
        if self.grid is not None:
            labels = nn.predict(self.model, self.grid, engine=self.engine)
            classes = "".join(str(c) for c in labels)
        weights = tuple(p.data for p in self.model.parameters())
        self.records.append(EpochRecord(k, weights, graph, self.losses[k], self.accuracies[k], classes))


def _outputs(model: nn.Module, x: list[float]) -> list[Any]:
    from autograd import no_grad

    with no_grad():
        out = model(x)
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _grid(
    xs: np.ndarray, loss_fn: nn.Loss, outs: int
) -> tuple[tuple[float, float, float, float] | None, np.ndarray | None, str]:
    """The boundary's box (x0, x1, y0, y1) and its cell centres, row by row from the top; or None
    and why there is no boundary."""
    if xs.shape[1] != 2:
        return None, None, f"the inputs have {xs.shape[1]} features; a boundary is drawn for 2 only"
    if loss_fn.targets == "values":
        return None, None, "the targets are values (a regression), not classes"
    if max(outs, 2) > MAX_CLASSES:
        return None, None, f"{outs} classes: the boundary has colours for {MAX_CLASSES} at most"
    lo, hi = xs.min(axis=0), xs.max(axis=0)
    pad = np.maximum((hi - lo) * 0.1, 0.5 * (hi == lo))
    lo, hi = lo - pad, hi + pad
    cx = lo[0] + (np.arange(GRID) + 0.5) * (hi[0] - lo[0]) / GRID
    cy = hi[1] - (np.arange(GRID) + 0.5) * (hi[1] - lo[1]) / GRID  # the top row first
    grid = np.array([[a, b] for b in cy for a in cx])
    return (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])), grid, ""


__all__ = ["training_page", "TrainingPage", "EpochRecord"]
