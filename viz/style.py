"""How the drawing looks: colours, number format, escaping of user text, DOT line helpers (a leaf module)."""

from __future__ import annotations

import html
import math
from typing import Any

from nn.module import Part, Scope

from .graph import part_title, printable

Cluster = tuple[Part, ...]  # a frame of the drawing: a module's path, (("layer", 0), ("neuron", 1))

OP_SYMBOLS = {"*": "×", "sum": "Σ", "sigmoid": "σ", "neg": "−", "-": "−", "/": "÷", "max": "max"}
FONT = "Helvetica"
CURRENT = "#2166ac"  # the node whose gradient was just finalised (backprop frames)

# |gradient| decades: (lower bound, fill colour, text colour, legend text). Zero and "not known" last.
BINS = [
    (1.0, "#e34a33", "#ffffff", "≥ 1"),
    (0.1, "#fc8d59", "#000000", "0.1 – 1"),
    (0.01, "#fdbb84", "#000000", "0.01 – 0.1"),
    (1e-3, "#fdd49e", "#000000", "0.001 – 0.01"),
    (1e-4, "#fee8c8", "#000000", "0.0001 – 0.001"),
    (0.0, "#fff7ec", "#000000", "below 0.0001"),
]
ZERO_FILL, UNKNOWN_FILL, DEAD_LINE = "#d9d9d9", "#ffffff", "#525252"


def fmt(x: float, precision: int = 4) -> str:
    """``precision`` significant digits; a number below 1 gets ``precision`` decimals instead
    while that keeps 3 or more significant digits (precision=8 prints 0.00080888, as the worked
    example's table does)."""
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return str(x)
    if 10.0 ** (3 - precision) <= abs(x) < 1:
        s = f"{x:.{precision}f}"
        return s.rstrip("0").rstrip(".") if "." in s else s
    return f"{x:.{precision}g}"


# control characters as their visible Unicode pictures (NUL -> ␀, tab -> ␉, DEL -> ␡); newline kept
VISIBLE = {c: 0x2400 + c for c in range(32) if c != 10} | {127: 0x2421}


def esc(text: Any) -> str:
    """User text for an HTML-like label, shown literally: markup characters escaped, a backslash
    doubled (Graphviz reads ``\\N``, ``\\G``, ``\\l`` even in HTML-like labels, and ``\\\\`` as one
    backslash), control characters made visible, lone surrogates written as escapes (``\\ud800``),
    newlines as line breaks."""
    s = str(text).replace("\r\n", "\n").translate(VISIBLE)
    s = printable(s)
    s = html.escape(s, quote=True).replace("\\", "&#92;&#92;")
    return s.replace("\n", '<BR ALIGN="CENTER"/>')


def grad_colors(g: float) -> tuple[str, str]:
    """(fill, text colour) for a gradient, by decade of |g|."""
    a = abs(g)
    if a == 0 or math.isnan(a):
        return ZERO_FILL, "#000000"
    for low, fill, text, _ in BINS:
        if a >= low:
            return fill, text
    return BINS[-1][1], BINS[-1][2]


def text_width(text: str, size: float) -> float:
    """A generous estimate of the width (points) of ``text`` in Helvetica at ``size``: fixed-size
    cells keep every backprop frame's layout identical whatever the number they show."""
    return round(0.62 * size * len(html.unescape(text)) + 4, 1)


def line(name: str, label: str, **attrs: str) -> str:
    extra = "".join(f' {k}="{v}"' for k, v in attrs.items())
    return f"\t{name} [label=<{label}>{extra}]\n"


def edge_line(tail: str, head: str, label: str | None = None, **attrs: str) -> str:
    extra = "".join(f' {k}="{v}"' for k, v in attrs.items())
    lab = f" label=<{label}>" if label else ""
    return f"\t{tail} -> {head} [{lab}{extra}]\n" if (lab or extra) else f"\t{tail} -> {head}\n"


def cluster_path(scope: str | None) -> list[Cluster]:
    """The frames a node sits in, outermost first: layer 0 › neuron 1 gives
    ``[(("layer", 0),), (("layer", 0), ("neuron", 1))]``; a plain string scope is one frame."""
    if isinstance(scope, Scope):
        return [scope.parts[:k] for k in range(1, len(scope.parts) + 1)]
    return [((scope, None),)] if scope else []


def cluster_title(key: Cluster) -> str:
    """A frame's title: its last part, ``neuron 1`` (``layer 0`` for a layer's frame)."""
    return part_title(key[-1])


def cluster_order(key: Cluster) -> list[tuple[str, int]]:
    """A sort key for frames: layer 0 before layer 1 before layer 10, a layer before its neurons."""
    return [(kind, -1 if index is None else index) for kind, index in key]
