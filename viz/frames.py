"""Backpropagation step by step, in the order backward() finalises gradients.

Step 1 shows the root's gradient (1); each later step finalises one more node, once all of its
consumers have passed their gradient back. The graph is laid out once: every number that changes
sits in a cell of fixed size, so every frame, the page, the GIF and the Jupyter slider show each
node at the same place and differ only in text and colour. The gradients are computed afresh from
the root (no ``.grad`` is read or changed), so frames work before or after ``backward()``.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import math
import os
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from autograd import Value
from autograd.arguments import positive_int

from .backend import pipe
from .dot import Drawing, check_options, draw_graph, fewer_colours, fit_metadata, refuse_big
from .explain import Explanation, collapsed_view, explain_node
from .graph import Edge, Graph, gradients, module_rank, trace
from .live import MARKED, Template, Templates, model
from .page import page_html
from .painter import neuron_groups
from .style import esc, fmt, text_width

CAPTION_SIZE = 14  # points: Graphviz's default size for a graph's label
PAGE_NODES = 1000  # a page holds about 2.5 KB per step (the worked example: 82 KB for 33 steps)


@dataclass
class Steps:
    """The backward steps of one graph: ``order[s]`` is the node finalised at step s, ``captions[s]``
    says which node that is, its gradient and how it was made. ``step_of[i]``: the step from which
    node i's gradient is final (a collapsed neuron's hidden nodes: its step). ``partials[i]``, for a
    node with several uses: ``(step, sum so far, uses passed back)`` from each step where one more of
    its uses passed its gradient back, before its own step; ``uses[i]``: how many uses it has."""

    graph: Graph
    order: list[int]
    captions: list[str]
    step_of: list[int]
    partials: dict[int, list[tuple[int, float, int]]]
    uses: dict[int, int]
    precision: int = 4

    def known(self, s: int) -> set[int]:
        """Ids whose gradient is final after step s."""
        return {i for i, t in enumerate(self.step_of) if t <= s}

    def partial_text(self, i: int, part: tuple[int, float, int]) -> str:
        """``0.0199 so far, 1 of 2 uses``: what node i's box says instead of its gradient."""
        return f"{fmt(part[1], self.precision)} so far, {part[2]} of {self.uses[i]} uses"

    def partial(self, s: int) -> dict[int, str]:
        """Node id -> its partial sum's text at step s, for the nodes not final that have one."""
        shown = {}
        for i, parts in self.partials.items():
            passed = [p for p in parts if p[0] <= s]
            if passed and self.step_of[i] > s:
                shown[i] = self.partial_text(i, passed[-1])
        return shown

    def widest(self) -> dict[int, str]:
        """Node id -> its longest partial text: the cell that shows it is this wide in every frame."""
        return {
            i: max((self.partial_text(i, p) for p in parts), key=len) for i, parts in self.partials.items()
        }

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
    (a collapsed neuron is one step; a constant drawn as a plain number is none), in ``_order``'s
    reading order. More than ``max_nodes`` steps raise ``DrawingTooBig`` before any caption is written."""
    refuse_big(root, collapsed, max_nodes, constants, "backprop_html()")  # before any tracing
    graph = trace(root, gradients(root))
    group = neuron_groups(graph) if collapsed else {}
    view, name = collapsed_view(graph, group) if collapsed else (graph, graph.place)
    uses = view.uses()
    candidates = [
        i
        for i in range(len(graph.nodes))
        if group.get(i, i) == i and (constants or i in group or not graph.is_constant(i))
    ]
    order = _order(view, candidates, uses)
    step = {i: s for s, i in enumerate(order)}
    step_of = [0] * len(graph.nodes)
    for i in reversed(range(len(graph.nodes))):  # consumers before their inputs
        rep = group.get(i, i)
        step_of[i] = step[rep] if rep in step else max((step_of[e.child] for e in uses[i]), default=0)
    partials = _partial_sums(order, uses)
    steps = Steps(graph, order, [], step_of, partials, {i: len(uses[i]) for i in partials}, precision)
    for s, i in enumerate(order):
        how = explain_node(view, i, precision=precision, uses=uses, name=name)
        steps.captions.append(_caption(view, name, uses, steps, s, how))
    return steps


def _partial_sums(order: list[int], uses: list[list[Edge]]) -> dict[int, list[tuple[int, float, int]]]:
    """For each node with several uses: (step, sum so far, uses passed back) at each step where
    more of its uses have passed back (two uses by one consumer pass back at once)."""
    step = {i: s for s, i in enumerate(order)}
    partials = {}
    for i in order:
        if len(uses[i]) > 1:
            passed = sorted(uses[i], key=lambda e: step[e.child])
            partials[i] = [
                (step[e.child], math.fsum(u.carried for u in passed[: k + 1]), k + 1)
                for k, e in enumerate(passed)
                if k + 1 == len(passed) or step[passed[k + 1].child] != step[e.child]
            ]
    return partials


def _caption(
    view: Graph, name: Callable[[int], str], uses: list[list[Edge]], steps: Steps, s: int, how: Explanation
) -> str:
    """Step s's caption: its value first, why it is final, the sum (``Explanation.value_first``),
    and what it passes back to each input whose sum is building."""
    i, n = steps.order[s], lambda x: fmt(x, steps.precision)
    if i == view.root:
        status = f"{name(i)} is the root: the gradient of the output with respect to itself is 1"
    else:
        k = len(uses[i])
        said = "its use has passed it back" if k == 1 else f"its {k} uses have passed theirs back"
        status = f"the gradient of {name(i)} is final: {said}"
    lines = [f"step {s + 1} of {len(steps.order)}: {how.lhs} = {n(how.grad)}", status, *how.value_first()]
    passed: dict[int, list[str]] = {}  # the inputs whose sum this step adds to (x * x: twice)
    for e in view.edges_into(i):
        if e.parent in steps.partials and steps.step_of[e.parent] > s:
            passed.setdefault(e.parent, []).append(n(e.carried))
    for p, carried in passed.items():
        _, total, count = [part for part in steps.partials[p] if part[0] <= s][-1]
        lines.append(
            f"passes {' + '.join(carried)} back to {name(p)}, whose sum is now {n(total)}"
            f" ({count} of {steps.uses[p]} uses)"
        )
    return "\n".join(lines)


def _order(view: Graph, candidates: list[int], uses: list[list[Edge]]) -> list[int]:
    """The steps in reading order: layer by layer from the root toward the inputs.

    A node's layer is its *longest* distance from the root (in edges of the graph drawn). Every
    consumer of a node is then in a nearer layer, so taking the layers in turn is an order in which
    backward may finalise each node once all its uses have passed back. Longest, not shortest: it
    is what lines up an MLP's layers (a layer-2 weight and the layer-1 output beside it in that
    neuron's product are one layer; each layer-1 node is farther; the inputs are last, with the
    first layer's weights). Within a layer: nodes of a later module first (``layers.2`` before
    ``layers.1``, then nodes of no module, as the inputs), then in the order their first consumer
    was read and by input slot (w before x of one product, neuron 0's inputs before neuron 1's).
    """
    depth: dict[int, int] = {}
    for i in sorted(candidates, reverse=True):  # ids are a forward order: consumers come first here
        depth[i] = max((depth[e.child] + 1 for e in uses[i] if e.child in depth), default=0)
    layers: dict[int, list[int]] = {}
    for i, d in depth.items():
        layers.setdefault(d, []).append(i)
    step: dict[int, int] = {}
    order: list[int] = []
    for d in sorted(layers):

        def key(i: int) -> tuple[tuple[int, int], tuple[int, int], int]:
            first = min(((step[e.child], e.slot) for e in uses[i] if e.child in step), default=(0, 0))
            return module_rank(view.nodes[i].scope), first, i

        for i in sorted(layers[d], key=key):
            step[i] = len(order)
            order.append(i)
    return order


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
    reserve = steps.widest()
    for s, node_id in enumerate(steps.order):
        yield draw_graph(
            steps.graph,
            known=steps.known(s),
            current=node_id,
            caption=steps.dot_caption(s),
            partial=steps.partial(s),
            reserve=reserve,
            **draw_options,
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


SLIDER_TEXT = (
    "show_frames: a slider over {n} steps, step 1 shown as a picture. The slider moves only while "
    "the notebook's kernel runs (run the cell again); show_backprop(root) and backprop_html(root, "
    "path) give a page whose slider needs no kernel."
)


@functools.cache
def _slider_class(widgets: Any) -> type:
    """show_frames' box: an ipywidgets VBox whose display also carries step 1 as a PNG and a line of
    text, which a notebook shows where the widget cannot run (untrusted, or on a notebook viewer)."""

    class FrameSlider(widgets.VBox):
        still: tuple[str, str | None, int] = ("", None, 0)  # step 1's DOT source, the renderer, steps

        def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
            bundle = dict(super()._repr_mimebundle_(**kwargs) or {})
            source, renderer, steps = self.still
            png = fewer_colours(pipe(source, "png", renderer))
            bundle["image/png"] = base64.b64encode(png).decode("ascii")
            bundle["text/plain"] = SLIDER_TEXT.format(n=steps)
            return bundle, fit_metadata(struct.unpack(">I", png[16:20])[0], ("image/png",))

    return FrameSlider


def show_frames(frames: Value | Iterable[Drawing], renderer: str | None = None, **draw_options: Any) -> Any:
    """In Jupyter: a slider over the frames of a root (as ``draw`` and ``show_backprop`` take it,
    with their ``draw_options``) or over frames already made; it counts steps from 1, as the
    captions do (needs ipywidgets: pip install ipywidgets)."""
    try:
        import ipywidgets as widgets
    except ImportError:
        raise ImportError(
            "show_frames() needs ipywidgets (pip install ipywidgets); "
            "backprop_html() writes a page with a slider without it"
        ) from None
    if isinstance(frames, Value):
        frames = backprop_frames(frames, **draw_options)
    elif draw_options:
        raise TypeError("show_frames(): draw options are for a root; frames are drawn already")
    frames = list(frames)
    svgs = [svg.decode("utf-8") for svg in _svgs(iter(frames), "svg", renderer)]
    if not svgs:
        raise ValueError("show_frames(): no frames")
    out = widgets.HTML(value=svgs[0], layout=widgets.Layout(overflow="auto", max_width="100%"))
    slider = widgets.IntSlider(value=1, min=1, max=len(svgs), description="step")
    slider.observe(lambda change: setattr(out, "value", svgs[change["new"] - 1]), names="value")
    box = _slider_class(widgets)([slider, out], layout=widgets.Layout(width="100%"))  # the frame scrolls
    box.still = (frames[0].source, renderer, len(svgs))
    return box


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
    """The text of ``backprop_html``'s page; on a full drawing (not collapsed) a leaf's value can be
    changed there, and every number is recomputed in the browser."""
    steps = _steps(root, draw_options, max_nodes)
    drawing = draw_graph(
        steps.graph, known=set(range(len(steps.graph.nodes))), current=None,
        caption=None, max_nodes=None, reserve=steps.widest(), **draw_options,
    )  # fmt: skip
    svg = pipe(drawing.source, "svg", renderer).decode("utf-8")
    if draw_options.get("collapsed", False):
        live, why = None, "values can be changed on the full drawing (collapsed=False)"
    else:
        live, why = model(steps.graph, steps.precision, draw_options.get("color", True))
    table, captions, partials, fixed = caption_templates(steps) if live else fixed_templates(steps)
    return page_html(
        title, svg, steps.order, captions, steps.step_of, partials, table.exprs, live, why, fixed
    )


def caption_templates(
    steps: Steps,
) -> tuple[Templates, list[Template], dict[int, list[tuple[int, Template]]], list[int]]:
    """The captions and sums so far of full-drawing steps with a slot for each number, so the page
    can write them with recomputed numbers: (their expressions, the captions, the sums so far, the
    steps whose caption keeps its numbers, when written with slots it would not read the same)."""
    try:
        return _templates(steps)
    except OverflowError:  # too many numbers to tell apart: the page keeps them
        return fixed_templates(steps)


def fixed_templates(
    steps: Steps,
) -> tuple[Templates, list[Template], dict[int, list[tuple[int, Template]]], list[int]]:
    """``caption_templates`` that keep the original numbers: text alone."""
    partials: dict[int, list[tuple[int, Template]]] = {
        i: [(p[0], [steps.partial_text(i, p)]) for p in parts] for i, parts in steps.partials.items()
    }
    return Templates(), [[c] for c in steps.captions], partials, list(range(len(steps.order)))


def _templates(
    steps: Steps,
) -> tuple[Templates, list[Template], dict[int, list[tuple[int, Template]]], list[int]]:
    table = Templates(steps.precision)
    graph = table.graph(steps.graph)
    uses = graph.uses()
    step = {i: s for s, i in enumerate(steps.order)}
    sums: dict[int, list[tuple[int, float, int]]] = {}
    for i, parts in steps.partials.items():
        passed = sorted(uses[i], key=lambda e: step[e.child])
        sums[i] = [(s, table.total([e.carried for e in passed[:count]]), count) for s, _, count in parts]
    tagged = replace(steps, graph=graph, partials=sums, captions=[])
    captions, fixed = [], []
    for s, i in enumerate(steps.order):
        how = explain_node(graph, i, precision=steps.precision, uses=uses, name=steps.graph.place)
        text = _caption(graph, steps.graph.place, uses, tagged, s, table.explanation(how))
        template = [] if MARKED.search(steps.captions[s]) else table.split(text)
        if not template or table.render(template, steps.graph, steps.precision) != steps.captions[s]:
            template = [steps.captions[s]]
            fixed.append(s)
        captions.append(template)
    partials: dict[int, list[tuple[int, Template]]] = {
        i: [
            (s, [*table.split(str(total)), f" so far, {count} of {steps.uses[i]} uses"])
            for s, total, count in parts
        ]
        for i, parts in sums.items()
    }
    return table, captions, partials, fixed


UNTRUSTED = (
    "If no step-by-step page shows here, this notebook is not trusted: JupyterLab shows no frame "
    "or script from a notebook it has not trusted (every freshly opened one). Trust it (JupyterLab: "
    "the command palette, Ctrl+Shift+C, then Trust Notebook; the classic Notebook: File > Trust "
    "Notebook; or jupyter trust NOTEBOOK.ipynb in a terminal) and run the cell again, or write the "
    'page with backprop_html(root, "page.html") and open that file in a browser.'
)


class InlinePage:
    """The step-by-step page shown inline by Jupyter (an iframe holding the page, escaped), with a
    paragraph that says what to do when an untrusted notebook strips the frame (it disappears once the
    frame has loaded); ``html`` is the page's own text."""

    def __init__(self, page: str, height: int) -> None:
        self.html, self.height = page, height

    def _repr_html_(self) -> str:
        return (
            f'<p class="chainrule-untrusted">{html.escape(UNTRUSTED)}</p>'
            f'<iframe srcdoc="{html.escape(self.html, quote=True)}" title="backpropagation, step by step" '
            'onload="this.previousElementSibling.remove()" '
            f'style="width: 100%; height: {self.height}px; border: 1px solid #ccc"></iframe>'
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **_: Any) -> dict[str, str]:
        """The frame as HTML, and the advice as plain text, for where no HTML is shown at all."""
        return {"text/html": self._repr_html_(), "text/plain": UNTRUSTED}


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
