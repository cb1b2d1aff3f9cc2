"""Training plots with matplotlib (an optional dependency): loss and accuracy curves, the decision
boundary of a 2-D classifier, and the gradient size of each layer over training."""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from typing import Any

from nn import grad_stats, predict


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            "viz plots need matplotlib: pip install matplotlib (or pip install 'chainrule[plots]')"
        ) from None
    return plt


@functools.cache
def _shown_once() -> type:
    """A matplotlib Figure that Jupyter shows once: displayed (as a cell's value, or by the inline
    backend at the end of the cell), it shows itself as a PNG and leaves pyplot, so the other one
    finds nothing left to draw (a returned figure used to be drawn twice)."""
    from matplotlib.figure import Figure

    class ShownOnce(Figure):
        def _ipython_display_(self) -> None:
            from IPython.display import Image, display

            buffer = io.BytesIO()
            self.savefig(buffer, format="png", bbox_inches="tight")
            display(Image(data=buffer.getvalue(), format="png"))
            _pyplot().close(self)

    return ShownOnce


def _subplots(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
    return _pyplot().subplots(*args, FigureClass=_shown_once(), **kwargs)


def plot_history(history: Any, ax: Sequence[Any] | None = None) -> Any:
    """Loss and accuracy per epoch (train, and validation when present) from ``fit``'s History
    (or a list of per-epoch dicts). Returns the matplotlib Figure."""
    _pyplot()  # without matplotlib: the clear error, before any work
    epochs = getattr(history, "epochs", history)
    if not epochs:
        raise ValueError("plot_history(): the history holds no epoch")
    if ax is None:
        fig, ax = _subplots(1, 2, figsize=(10, 3.6))
    else:
        fig = ax[0].figure
    xs = list(range(1, len(epochs) + 1))
    for i, (metric, title) in enumerate((("loss", "loss"), ("acc", "accuracy"))):
        for split, style in (("train", "-"), ("val", "--")):
            key = f"{split}_{metric}"
            if key in epochs[0]:
                ax[i].plot(
                    xs,
                    [e[key] for e in epochs],
                    style,
                    marker="o" if len(xs) <= 30 else None,
                    label="train" if split == "train" else "validation",
                )
        ax[i].set_xlabel("epoch")
        ax[i].set_title(title)
        ax[i].grid(alpha=0.3)
        ax[i].legend()
    fig.tight_layout()
    return fig


def plot_decision_boundary(
    model: Any, X: Any, y: Sequence[int], ax: Any = None, resolution: int = 60, margin: float = 0.5
) -> Any:
    """The classes a 2-input model predicts over the plane, with the data points on top.
    ``resolution`` x ``resolution`` forward passes. Returns the matplotlib Figure."""
    _pyplot()  # without matplotlib: the clear error, before any work
    X = [list(map(float, row)) for row in X]
    if not X or len(X[0]) != 2:
        raise ValueError("plot_decision_boundary(): X must hold 2-D points (a list of [x0, x1])")
    x0s, x1s = [p[0] for p in X], [p[1] for p in X]
    lo0, hi0, lo1, hi1 = min(x0s) - margin, max(x0s) + margin, min(x1s) - margin, max(x1s) + margin
    g0 = [lo0 + (hi0 - lo0) * i / (resolution - 1) for i in range(resolution)]
    g1 = [lo1 + (hi1 - lo1) * j / (resolution - 1) for j in range(resolution)]
    grid = [[a, b] for b in g1 for a in g0]
    labels = predict(model, grid)
    zz = [labels[j * resolution : (j + 1) * resolution] for j in range(resolution)]
    if ax is None:
        fig, ax = _subplots(figsize=(5, 4.5))
    else:
        fig = ax.figure
    classes = sorted(set(labels) | set(int(c) for c in y))
    ax.contourf(
        g0, g1, zz, levels=[c - 0.5 for c in classes] + [classes[-1] + 0.5], cmap="coolwarm", alpha=0.3
    )
    ax.scatter(x0s, x1s, c=list(y), cmap="coolwarm", edgecolors="k", s=25, vmin=classes[0], vmax=classes[-1])
    ax.set_title("decision boundary")
    fig.tight_layout()
    return fig


def layer_grad_sizes(model: Any) -> dict[str, float]:
    """Mean |gradient| of each layer's parameters (``nn.grad_stats``' ``mean_abs`` by layer name),
    to record after each backward and plot with ``plot_gradient_sizes``."""
    return {str(row["name"]): float(row["mean_abs"]) for row in grad_stats(model)}


def plot_gradient_sizes(records: Sequence[dict[str, float]], ax: Any = None) -> Any:
    """Gradient size per layer over training (log scale): one line per layer from a list of
    ``layer_grad_sizes(model)`` dicts, one per step. Returns the matplotlib Figure."""
    _pyplot()  # without matplotlib: the clear error, before any work
    if not records:
        raise ValueError("plot_gradient_sizes(): no records")
    if ax is None:
        fig, ax = _subplots(figsize=(6, 3.6))
    else:
        fig = ax.figure
    for layer in records[0]:
        ax.plot(range(1, len(records) + 1), [max(r[layer], 1e-12) for r in records], label=layer)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("mean |grad|")
    ax.set_title("gradient size per layer")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig
