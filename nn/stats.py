"""Gradient size per layer: how much signal reaches each layer (for the vanishing-gradient notebook)."""

from __future__ import annotations

import math

from .module import Module


def grad_stats(model: Module) -> list[dict[str, float | str | int]]:
    """One row per child module (per layer of an MLP, per neuron of a Layer; the module itself if
    it has none): its name, how many parameters it has, and the mean |grad|, RMS grad and max |grad|
    of those parameters. Call it after ``backward()``."""
    parts = model.children() or [(model.scope, model)]
    rows: list[dict[str, float | str | int]] = []
    for _, part in parts:
        grads = [p.grad for p in part.parameters()]
        n = len(grads)
        rows.append(
            {
                "name": part.scope,
                "count": n,
                "mean_abs": sum(abs(g) for g in grads) / n if n else 0.0,
                "rms": math.sqrt(sum(g * g for g in grads) / n) if n else 0.0,
                "max_abs": max((abs(g) for g in grads), default=0.0),
            }
        )
    return rows
