"""Backpropagation step by step, in the order backward() finalises gradients.

Step 1 shows the root's gradient (1); each later step finalises one more node, once all of its
consumers have passed their gradient back. The graph is laid out once: every number that changes
sits in a cell of fixed size, so every frame, the page, the GIF and the Jupyter slider show each
node at the same place and differ only in text and colour. The gradients are computed afresh from
the root (no ``.grad`` is read or changed), so frames work before or after ``backward()``.
"""

from __future__ import annotations

import html
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograd import Value
from autograd.arguments import positive_int

from .backend import pipe
from .dot import Drawing, check_options, draw_graph, refuse_big
from .explain import collapsed_view, explain_node
from .graph import Graph, gradients, trace
from .page import page_html
from .painter import neuron_groups
from .style import esc, text_width

CAPTION_SIZE = 14  # points: Graphviz's default size for a graph's label
PAGE_NODES = 1000  # a page holds about 2.4 KB per step (the worked example: 79 KB for 33 steps)


@dataclass
class Steps:
    """The backward steps of one graph: ``order[s]`` is the node finalised at step s, ``captions[s]``
    says which node that is (with its place in the model) and how its gradient was made."""

    graph: Graph
    order: list[int]
    captions: list[str]

    def known(self, s: int) -> set[int]:
        """Ids whose gradient is final after step s: backward runs the forward order in reverse."""
        return set(range(self.order[s], len(self.graph.nodes)))

    def caption_box(self) -> tuple[float, float]:
        """(width, height) in points of a cell that holds every step's caption."""
        lines = [ln for c in self.captions for ln in c.split("\n")]
        rows = max(c.count("\n") + 1 for c in self.captions)
        return text_width(max(lines, key=len), CAPTION_SIZE), round(rows * CAPTION_SIZE * 1.3, 1)

    def dot_caption(self, s: int) -> tuple[str, float, float]:
        """Step s's caption for a frame: left-aligned lines in the fixed-size cell."""
        text = '<BR ALIGN="LEFT"/>'.join(esc(ln) for ln in self.captions[s].split("\n"))
        return (text + '<BR ALIGN="LEFT"/>', *self.caption_box())


def backprop_steps(
    root: Value,
    collapsed: bool = False,
    constants: bool = False,
    precision: int = 4,
    max_nodes: int | None = None,
) -> Steps:
    """Trace ``root`` with its gradients and list the steps: one per node drawn with a gradient
    (a collapsed neuron is one step; a constant drawn as a plain number is none). More than
    ``max_nodes`` steps raise ``DrawingTooBig`` before any caption is written."""
    refuse_big(root, collapsed, max_nodes, constants, "backprop_html()")  # before any tracing
    graph = trace(root, gradients(root))
    group = neuron_groups(graph)
    order = _order(graph, group if collapsed else {}, constants)
    view, name = collapsed_view(graph, group) if collapsed else (graph, graph.place)
    uses = view.uses()
    captions = []
    for s, i in enumerate(order):
        how = str(explain_node(view, i, precision=precision, uses=uses, name=name))
        head = f"step {s + 1} of {len(order)}: the gradient of {name(i)} is final"
        captions.append(
            head + ("" if i == graph.root else ": all its uses have passed theirs back") + "\n" + how
        )
    return Steps(graph, order, captions)


def _order(graph: Graph, group: dict[int, int], constants: bool) -> list[int]:
    """The nodes in the order backward finalises them, one per step (drawn, with a gradient)."""
    return [
        i
        for i in reversed(range(len(graph.nodes)))
        if group.get(i, i) == i and (constants or i in group or not graph.is_constant(i))
    ]


def _steps(root: Value, draw_options: dict[str, Any], max_nodes: int | None = None) -> Steps:
    """The steps for frames or a page drawn with ``draw_options``, checked before any tracing."""
    check_options(draw_options.get("rankdir", "LR"), draw_options.get("precision", 4))
    return backprop_steps(
        root,
        draw_options.get("collapsed", False),
        draw_options.get("constants", False),
        draw_options.get("precision", 4),
        max_nodes,
    )


def backprop_frames(root: Value, **draw_options: Any) -> Iterator[Drawing]:
    """Yield one drawing per backward step, all with one layout; each shows which gradients are known."""
    steps = _steps(root, draw_options)
    for s, node_id in enumerate(steps.order):
        yield draw_graph(
            steps.graph, known=steps.known(s), current=node_id, caption=steps.dot_caption(s), **draw_options
        )


def _svgs(frames: Iterator[Drawing], fmt: str, renderer: str | None) -> Iterator[bytes]:
    for frame in frames:
        frame.check_size()
        yield pipe(frame.source, fmt, renderer)


def save_frames(
    frames: Iterator[Drawing], directory: str | os.PathLike, fmt: str = "png", renderer: str | None = None
) -> list[Path]:
    """Write frames as ``frame_000.<fmt>``, ``frame_001.<fmt>``, ... in ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, frame in enumerate(frames):
        path = directory / f"frame_{i:03d}.{fmt}"
        path.write_bytes(
            frame.source.encode("utf-8") if fmt == "dot" else next(_svgs(iter([frame]), fmt, renderer))
        )
        paths.append(path)
    return paths


def save_gif(
    frames: Iterator[Drawing], path: str | os.PathLike, duration_ms: int = 900, renderer: str | None = None
) -> Path:
    """Write the frames as one looping animated GIF (needs Pillow). The frames share one layout."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            "save_gif() needs Pillow: pip install 'chainrule[plots]' (or pip install pillow)"
        ) from None
    images = [Image.open(io.BytesIO(png)).convert("RGB") for png in _svgs(frames, "png", renderer)]
    if not images:
        raise ValueError("save_gif(): no frames")
    if len({im.size for im in images}) != 1:
        raise RuntimeError(f"save_gif(): frames of different sizes {sorted({im.size for im in images})}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
    return path


def show_frames(frames: Iterator[Drawing], renderer: str | None = None) -> Any:
    """In Jupyter: a slider over the frames (needs ipywidgets: pip install ipywidgets)."""
    try:
        import ipywidgets as widgets
    except ImportError:
        raise ImportError(
            "show_frames() needs ipywidgets (pip install ipywidgets); "
            "backprop_html() writes a page with a slider without it"
        ) from None
    svgs = [svg.decode("utf-8") for svg in _svgs(frames, "svg", renderer)]
    out = widgets.HTML(value=svgs[0])
    slider = widgets.IntSlider(value=0, min=0, max=len(svgs) - 1, description="step")
    slider.observe(lambda change: setattr(out, "value", svgs[change["new"]]), names="value")
    return widgets.VBox([slider, out])


def backprop_html(
    root: Value,
    path: str | os.PathLike,
    title: str = "Backpropagation, step by step",
    renderer: str | None = None,
    max_nodes: int | None = PAGE_NODES,
    **draw_options: Any,
) -> Path:
    """Write one self-contained page: the graph drawn once, the state of every step, a slider,
    buttons, keys, zoom and pan (no network). A graph of more than ``max_nodes`` drawn nodes is
    refused at once (None: no limit). ``show_backprop`` shows the same page inline in Jupyter."""
    page = backprop_page(root, title, renderer, max_nodes, **draw_options)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def backprop_page(
    root: Value,
    title: str = "Backpropagation, step by step",
    renderer: str | None = None,
    max_nodes: int | None = PAGE_NODES,
    **draw_options: Any,
) -> str:
    """The text of ``backprop_html``'s page."""
    steps = _steps(root, draw_options, max_nodes)
    drawing = draw_graph(
        steps.graph, known=set(range(len(steps.graph.nodes))), current=None,
        caption=None, max_nodes=None, **draw_options,
    )  # fmt: skip
    svg = pipe(drawing.source, "svg", renderer).decode("utf-8")
    return page_html(title, svg, steps.order, steps.captions)


class InlinePage:
    """The step-by-step page shown inline by Jupyter (an iframe holding the page, escaped);
    ``html`` is the page's own text."""

    def __init__(self, page: str, height: int) -> None:
        self.html, self.height = page, height

    def _repr_html_(self) -> str:
        return (
            f'<iframe srcdoc="{html.escape(self.html, quote=True)}" title="backpropagation, step by step" '
            f'style="width: 100%; height: {self.height}px; border: 1px solid #ccc"></iframe>'
        )


def show_backprop(
    root: Value,
    height: int = 600,
    title: str = "Backpropagation, step by step",
    renderer: str | None = None,
    max_nodes: int | None = PAGE_NODES,
    **draw_options: Any,
) -> InlinePage:
    """In Jupyter: ``backprop_html``'s page inline (displayed by returning it from a cell); its keys
    act once the page has been clicked. ``height``: of the frame, in pixels."""
    pixels = positive_int("show_backprop(): height", height)
    return InlinePage(backprop_page(root, title, renderer, max_nodes, **draw_options), pixels)
