"""The drawing: a traced graph as a ``graphviz.Digraph``, every forward value and every gradient.

Value nodes are boxes (label, data, grad); a small circle between a node and its inputs names
the operation; each input edge shows the local derivative d child / d input and the gradient it
carries back (child.grad x local). A box's fill is the size of the gradient it passes back, in
decades (legend included), so vanishing gradients stand out; a dead ReLU passes none and is grey.
A node made by an ``nn`` module (its ``Value.scope`` record) shows its place
(``layer 0 › neuron 1``); ``clusters=True`` frames a neuron's nodes inside its layer's frame instead
(Graphviz then orders the frames itself: the reading order below is kept only without them);
``collapsed=True`` draws each neuron as one box
``Σ w·x + b → act`` and each weight as an edge (width |w|, colour |dL/dw|). A constant (a leaf
with neither label nor module: a target, a literal factor) is a small plain number.

Nodes are placed in reading order (x0 above x1, neuron i above neuron i+1): nodes of one rank are
tied in order by invisible edges. Every user string goes through ``esc`` (markup escaped,
backslashes and control characters made visible); the DOT lines are built directly
(``Digraph.body``), which keeps a 50,000-node drawing fast.
"""

from __future__ import annotations

import base64
import io
import math
import os
import re
import struct
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import graphviz

import autograd
from autograd import Value
from autograd.arguments import integer

from .backend import RenderError, pipe, pipe_many
from .graph import Graph, trace
from .painter import Painter, neuron_groups, neuron_of
from .style import FONT, Cluster, cluster_order, cluster_title, esc, fmt, grad_colors

DRAWING_FORMATS = ("svg", "png", "pdf", "dot")  # what a drawing's render() and pipe() can write
MAX_NODES = 3000  # above this many drawn nodes, laying out takes minutes: refuse at once
FIT_PX = 900  # a notebook's output area: a wider drawing is shown at natural size, scrolling
PX_PER_PT = 96 / 72  # the PNG's pixels (Graphviz's 96 dpi) and a browser's CSS pixels per point


class DrawingTooBig(ValueError):
    """The graph has more nodes than can be laid out in reasonable time.

    ``nodes``: how many the drawing would have; ``limit``: the ``max_nodes`` it is over;
    ``collapsed_nodes``: how many ``collapsed=True`` would draw (None when that would not help)."""

    def __init__(self, message: str, nodes: int, limit: int, collapsed_nodes: int | None) -> None:
        super().__init__(message)
        self.nodes, self.limit, self.collapsed_nodes = nodes, limit, collapsed_nodes


def count_boxes(root: Value, collapsed: bool, constants: bool = True) -> int:
    """How many nodes a drawing of ``root`` has (a collapsed neuron is one; ``constants=False``: the
    constants not counted), counted on the Values before any tracing or drawing: it is fast."""
    neurons: set[Cluster] = set()
    count = 0
    for v in autograd.topological_order(root):
        neuron = neuron_of(v.scope) if collapsed else None
        if neuron:
            neurons.add(neuron)
        elif constants or not (v.is_leaf and not v.label and not v.scope):
            count += 1
    return count + len(neurons)


def refuse_big(
    root: Value, collapsed: bool, max_nodes: int | None, constants: bool = True, where: str = ""
) -> None:
    """Raise ``DrawingTooBig`` at once when a drawing of ``root`` would have over ``max_nodes`` nodes."""
    if max_nodes is None:
        return
    count = count_boxes(root, collapsed, constants)
    if count > max_nodes:
        smaller = None if collapsed else count_boxes(root, True, constants)
        what, unit = (
            (f"{where}: the graph has", "steps (nodes drawn)") if where else ("the drawing has", "nodes")
        )
        check_size(count, max_nodes, smaller, what, unit)


def check_size(
    count: int,
    max_nodes: int | None,
    collapsed_count: int | None,
    what: str = "the drawing has",
    unit: str = "nodes",
) -> None:
    """Refuse at once a drawing too big to lay out (instead of minutes of silence); suggest
    collapsed=True only when it would draw fewer nodes (``collapsed_count``, None when collapsed)."""
    if max_nodes is None or count <= max_nodes:
        return
    advice = "a larger max_nodes (None: no limit)"
    helps = collapsed_count if collapsed_count is not None and collapsed_count < count else None
    if helps is not None:
        advice = f"collapsed=True (one box per neuron: {helps} nodes), or {advice}"
    raise DrawingTooBig(
        f"{what} {count} {unit}, over max_nodes={max_nodes}: laying it out would take minutes. Pass {advice}",
        nodes=count,
        limit=max_nodes,
        collapsed_nodes=helps,
    )


class Drawing(graphviz.Digraph):
    """A ``graphviz.Digraph`` whose display, ``pipe()`` and ``render()`` use chainrule's renderer
    (no system Graphviz needed); its default format is SVG. ``node_count``: the boxes drawn;
    ``collapsed_count``: how many collapsing would draw (None when it is collapsed). Its DOT text
    may be built only when first read (``draw`` of a graph over ``max_nodes``), so refusing is fast."""

    node_count = 0
    collapsed_count: int | None = None
    max_nodes: int | None = MAX_NODES
    _build: Callable[[], graphviz.Digraph] | None = None  # makes the DOT lines when first read
    _shown: tuple[str, dict, dict] | None = None  # (source, data, metadata) of the last display

    @property
    def body(self) -> list[str]:
        """The DOT lines (built now if they were left for later)."""
        self._materialize()
        return self._body

    @body.setter
    def body(self, lines: list[str]) -> None:
        self._body = lines

    def _materialize(self) -> None:
        if self._build is not None:
            build, self._build = self._build, None
            built = build()
            self.graph_attr, self.node_attr = built.graph_attr, built.node_attr
            self.edge_attr, self._body = built.edge_attr, built.body

    def __iter__(self, subgraph: bool = False) -> Iterator[str]:
        self._materialize()
        return super().__iter__(subgraph=subgraph)

    def check_size(self) -> None:
        """Refuse at once a drawing too big to lay out (instead of minutes of silence)."""
        check_size(self.node_count, self.max_nodes, self.collapsed_count)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **_: Any) -> tuple[dict, dict]:
        """Jupyter's display: the SVG (a trusted notebook shows it) and a PNG of the same layout (an
        untrusted one, and notebook viewers, show that), laid out once and kept until the drawing
        changes; a drawing wider than ``FIT_PX`` is shown at natural size, scrolling, not shrunk."""
        self.check_size()
        source = self.source
        if self._shown is None or self._shown[0] != source:
            self._shown = (source, *display_bundle(source, self.node_count))
        data, metadata = self._shown[1], self._shown[2]
        return dict(data), dict(metadata)

    def _repr_svg_(self) -> str:
        return self._repr_mimebundle_()[0]["image/svg+xml"]

    def pipe(self, format: str | None = None, *_: Any, encoding: str | None = None, **__: Any) -> bytes | str:
        """The rendered bytes (or text, given ``encoding``) with chainrule's renderer, like graphviz's."""
        self.check_size()
        data = pipe(self.source, format or self.format)
        return data.decode(encoding) if encoding else data

    def render(
        self,
        filename: str | os.PathLike | None = None,
        directory: str | os.PathLike | None = None,
        view: bool = False,
        cleanup: bool = False,
        format: str | None = None,
        *,
        outfile: str | os.PathLike | None = None,
        **_: Any,
    ) -> str:
        """Like graphviz's ``render``: the DOT source to ``filename`` and the drawing to
        ``filename.<format>`` (or ``outfile``); returns the drawing's path. ``view`` is not supported."""
        if view:
            raise ValueError("render(view=True) is not supported: open the returned file yourself")
        fmt = format or (Path(outfile).suffix[1:] if outfile else self.format)
        source = Path(directory or "", filename or self.filename or f"{self.name}.gv")
        out = Path(directory or "", outfile) if outfile else Path(f"{source}.{fmt}")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(self.pipe(fmt))  # type: ignore[arg-type]
        if not cleanup:
            source.write_text(self.source, encoding="utf-8")
        return str(out)


def fewer_colours(png: bytes) -> bytes:
    """``png`` in a palette of 256 colours when Pillow is installed (the plots, notebooks and dev
    extras): the same picture in about 2.5 times fewer bytes, which keeps saved notebooks small.
    Without Pillow, ``png`` as the renderer wrote it."""
    try:
        from PIL import Image
    except ImportError:
        return png
    out = io.BytesIO()
    Image.open(io.BytesIO(png)).quantize(256, method=Image.Quantize.FASTOCTREE).save(
        out, "PNG", optimize=True
    )
    return out.getvalue() if out.tell() < len(png) else png


def display_bundle(source: str, nodes: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(data, metadata) of a notebook display of DOT ``source``: SVG and PNG from one layout, and a
    text line; when no PNG can be written, the text says why (an untrusted notebook then shows no picture)."""
    try:
        images = pipe_many(source, ("svg", "png"))
    except RenderError as e:
        images = {"svg": pipe(source, "svg")}
        why = f"; no PNG beside the SVG, so an untrusted notebook shows no picture: {e}"
    else:
        why = ""
    svg = images["svg"].decode("utf-8")
    data: dict[str, Any] = {"image/svg+xml": svg}
    size = re.search(r'<svg width="([0-9.]+)pt" height="([0-9.]+)pt"', svg)
    width, height = (round(float(n) * PX_PER_PT) for n in size.groups()) if size else (0, 0)
    if "png" in images:
        png = fewer_colours(images["png"])
        data["image/png"] = base64.b64encode(png).decode("ascii")  # as IPython's Image sends it
        width, height = struct.unpack(">II", png[16:24])  # the PNG's IHDR: its pixels
    data["text/plain"] = f"chainrule drawing: {nodes} nodes, {width}x{height} px{why}"
    return data, fit_metadata(width, ("image/png", "image/svg+xml"))


def fit_metadata(width: int, kinds: tuple[str, ...]) -> dict[str, Any]:
    """A display's metadata: none when ``width`` (px) fits ``FIT_PX``, else ``unconfined`` for each
    of ``kinds``, so JupyterLab shows it at natural size (its text legible), scrolling, not shrunk."""
    return {kind: {"unconfined": True} for kind in kinds} if width > FIT_PX else {}


def check_options(rankdir: str, precision: Any) -> int:
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"draw(): rankdir must be one of LR, RL, TB, BT (draw: or auto), got {rankdir!r}")
    if isinstance(precision, float) and not math.isfinite(precision):
        raise ValueError(f"draw(): precision must be a whole number of digits from 1 to 17, got {precision}")
    digits = integer("draw(): precision", precision)
    if not 1 <= digits <= 17:
        raise ValueError(f"draw(): precision must be a number of digits from 1 to 17, got {digits}")
    return digits


def draw(
    root: Value,
    collapsed: bool = False,
    rankdir: str = "auto",
    precision: int = 4,
    show_grad: bool = True,
    color: bool = True,
    clusters: bool = False,
    title: str | None = None,
    constants: bool = False,
    max_nodes: int | None = MAX_NODES,
    format: str = "svg",
) -> Drawing:
    """Draw the graph below ``root``: values, operations, local derivatives and carried gradients.

    A drawing made before ``root.backward()`` (detected by ``root.grad == 0``) says that the
    gradients are not computed yet instead of showing zeros. ``constants=True`` draws constants as
    full boxes. ``rankdir="auto"``: top to bottom for a graph deeper than it is wide (it then fits
    a notebook better), else left to right. The boxes are counted first: showing or rendering a
    drawing of more than ``max_nodes`` is refused at once (its DOT text is built only if read).
    ``format`` is what the drawing's own ``render()`` and ``pipe()`` write (svg, png, pdf or dot).
    """
    if not isinstance(root, Value):
        raise TypeError(f"draw(): root must be a Value, got {type(root).__name__}")
    if format not in DRAWING_FORMATS:
        raise ValueError(f"draw(): format must be one of {', '.join(DRAWING_FORMATS)}; got {format!r}")
    if rankdir != "auto":
        check_options(rankdir, precision)
    options: dict[str, Any] = dict(precision=precision, show_grad=show_grad, color=color, title=title)
    options.update(clusters=clusters, constants=constants, max_nodes=max_nodes, collapsed=collapsed)

    def build() -> Drawing:
        chosen = choose_rankdir(root, collapsed) if rankdir == "auto" else rankdir
        drawing = draw_graph(trace(root), rankdir=chosen, **options)
        drawing.edge_attr["decorate"] = "true"  # a line ties each edge's label to its edge, where edges cross
        return drawing

    count = count_boxes(root, collapsed)
    if max_nodes is not None and count > max_nodes:  # too big to show: its DOT text only if read
        drawing = Drawing(name="chainrule", format=format)
        drawing._build, drawing.node_count, drawing.max_nodes = build, count, max_nodes
        drawing.collapsed_count = None if collapsed else count_boxes(root, True)
        return drawing
    drawing = build()
    drawing.format = format
    return drawing


def choose_rankdir(root: Value, collapsed: bool = False) -> str:
    """Top to bottom ("TB") when the graph has more ranks (distances from the root) than nodes in its
    widest rank, else left to right ("LR"; always for a collapsed drawing: few layers, many neurons)."""
    if collapsed:
        return "LR"
    depth: dict[Value, int] = {root: 0}
    for v in autograd.topological_order(root):  # root first, each node after its consumers
        for p in v.parents:
            depth[p] = max(depth.get(p, 0), depth[v] + 1)
    widest = max(Counter(depth.values()).values())
    return "TB" if max(depth.values()) + 1 > widest else "LR"


def draw_dot(root: Value, format: str = "svg", rankdir: str = "LR") -> Drawing:
    """micrograd's ``draw_dot``: the drawing of ``root``, in ``format`` when rendered or piped."""
    return draw(root, rankdir=rankdir, format=format)


def draw_graph(
    graph: Graph,
    collapsed: bool = False,
    rankdir: str = "LR",
    precision: int = 4,
    show_grad: bool = True,
    color: bool = True,
    clusters: bool = False,
    title: str | None = None,
    known: set[int] | None = None,
    current: int | None = None,
    constants: bool = False,
    caption: tuple[str, float, float] | None = None,
    max_nodes: int | None = MAX_NODES,
    partial: dict[int, str] | None = None,
    reserve: dict[int, str] | None = None,
    every_bin: bool = False,
) -> Drawing:
    """Draw a traced ``Graph``; its legend lists the fills it uses (``every_bin``: all of them, for a
    drawing whose numbers change later). For the backprop frames: ``known``, the ids whose gradient is known
    (the others show "?", in cells of fixed size so every frame has one layout); ``current``, the id
    to highlight; ``caption``: (HTML text, width, height) of a fixed-size caption above the graph;
    ``partial``: id -> the sum so far shown instead of "?" (``0.0199 so far, 1 of 2 uses``);
    ``reserve``: id -> the longest such text its cell must hold in any frame."""
    digits = check_options(rankdir, precision)
    painter = Painter(
        graph, collapsed, digits, show_grad, color, known, current, constants, clusters, partial, reserve,
        every_bin,
    )  # fmt: skip
    g = Drawing(
        name="chainrule",
        format="svg",
        graph_attr={
            "rankdir": rankdir,
            "fontname": FONT,
            "labelloc": "t",
            "nodesep": "0.25",
            "outputorder": "edgesfirst",
        },
        node_attr={"fontname": FONT, "fontsize": "11"},
        edge_attr={"fontname": FONT, "fontsize": "9", "color": "#666666", "arrowsize": "0.6"},
    )
    if collapsed:  # many edges between layers: straight lines and room between the ranks
        g.graph_attr.update(splines="line", ranksep="1.5", nodesep="0.1", nslimit="1")  # nslimit: compact
    else:
        g.graph_attr["ranksep"] = "0.35"
    g.body.append(f"\tlabel=<{painter.title(title, caption)}>\n")
    bodies = painter.bodies()
    g.node_count = painter.drawn
    if not collapsed:  # what collapsed=True would draw, for the advice when it is too big
        group = neuron_groups(graph)
        g.collapsed_count = sum(1 for i in range(len(graph.nodes)) if group.get(i, i) == i)
    g.max_nodes = max_nodes
    if color and painter.show_grad:
        g.body.append(painter.legend())
        g.body.append("\t{rank=sink; legend}\n")  # beside the root, where a drawing is narrow
    _assemble(g, bodies)
    return g


def _assemble(g: graphviz.Digraph, bodies: dict[Cluster | None, list[str]]) -> None:
    """Put each cluster's lines into nested subgraphs (innermost first) and those into ``g``."""
    g.body.extend(bodies.pop(None))
    keys: dict[Cluster, None] = {}  # every cluster, parents before children
    for key in filter(None, bodies):
        keys.update(dict.fromkeys(key[:k] for k in range(1, len(key) + 1)))
    keys = dict.fromkeys(sorted(keys, key=cluster_order))  # layer 0 before layer 1: reading order
    subs: dict[Cluster, graphviz.Digraph] = {}
    for i, key in enumerate(keys):
        sub = graphviz.Digraph(name=f"cluster_{i}")
        sub.body.append(f"\tlabel=<{esc(cluster_title(key))}>\n")
        sub.body.append('\tstyle="rounded,dashed" color="#999999" fontsize="10"\n')
        sub.body.extend(bodies.get(key, []))
        subs[key] = sub
    for key in sorted(keys, key=lambda k: -len(k)):
        parent = subs[key[:-1]] if len(key) > 1 else g
        parent.subgraph(subs[key])


__all__ = [
    "Drawing",
    "DrawingTooBig",
    "count_boxes",
    "refuse_big",
    "check_size",
    "draw",
    "draw_dot",
    "draw_graph",
    "esc",
    "fmt",
    "grad_colors",
]
