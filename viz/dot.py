"""The drawing: a traced graph as a ``graphviz.Digraph``, every forward value and every gradient.

Value nodes are boxes (label, data, grad); a small circle between a node and its inputs names
the operation; each input edge shows the local derivative d child / d input and the gradient it
carries back (child.grad x local). Boxes are coloured by |gradient| in decades (legend included),
so vanishing gradients stand out. Nodes made by an ``nn`` module (``Value.scope``, e.g.
``"layers.0.neurons.1"``) are grouped in a cluster per neuron inside a cluster per layer;
``collapsed=True`` draws each neuron as one box ``Σ w·x + b → act``.

Every user string (labels, scopes, op names) goes into an HTML-like label through ``html.escape``;
the DOT lines are built directly (``Digraph.body``), which keeps a 50,000-node drawing fast.
"""

from __future__ import annotations

import html
import math
from typing import Any

import graphviz

from autograd import Value

from .graph import Graph, Node, trace

OP_SYMBOLS = {"*": "×", "sum": "Σ", "sigmoid": "σ", "neg": "−", "-": "−", "/": "÷", "max": "max"}
FONT = "Helvetica"

# |gradient| decades: (lower bound, fill colour, text colour, legend text). Zero and "not known" last.
BINS = [
    (1.0, "#e34a33", "#ffffff", "≥ 1"),
    (0.1, "#fc8d59", "#000000", "0.1 – 1"),
    (0.01, "#fdbb84", "#000000", "0.01 – 0.1"),
    (1e-3, "#fdd49e", "#000000", "0.001 – 0.01"),
    (1e-4, "#fee8c8", "#000000", "0.0001 – 0.001"),
    (0.0, "#fff7ec", "#000000", "below 0.0001"),
]
ZERO_FILL, UNKNOWN_FILL = "#e0e0e0", "#ffffff"


class Drawing(graphviz.Digraph):
    """A ``graphviz.Digraph`` that displays in Jupyter with chainrule's renderer (no system dot needed)."""

    def _repr_mimebundle_(self, include=None, exclude=None, **_: Any) -> dict:
        from .render import pipe

        return {"image/svg+xml": pipe(self.source, "svg").decode("utf-8")}

    def _repr_svg_(self) -> str:
        return self._repr_mimebundle_()["image/svg+xml"]

    def pipe(self, format: str | None = None, *_: Any, encoding: str | None = None, **__: Any) -> bytes | str:
        """The rendered bytes (or text, given ``encoding``) with chainrule's renderer, like graphviz's."""
        from .render import pipe

        data = pipe(self.source, format or self.format)
        return data.decode(encoding) if encoding else data


def fmt(x: float, precision: int = 4) -> str:
    """``precision`` significant digits; a number below 1 gets ``precision`` decimals instead
    while that keeps 3 or more significant digits (so precision=8 prints 0.00080888 as the seed does)."""
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return str(x)
    if 10.0 ** (3 - precision) <= abs(x) < 1:
        s = f"{x:.{precision}f}"
        return s.rstrip("0").rstrip(".") if "." in s else s
    return f"{x:.{precision}g}"


def esc(text: Any) -> str:
    """Text for an HTML-like label: markup characters escaped, newlines as line breaks."""
    return html.escape(str(text), quote=True).replace("\r\n", "\n").replace("\n", '<BR ALIGN="CENTER"/>')


def grad_colors(g: float) -> tuple[str, str]:
    """(fill, text colour) for a gradient, by decade of |g|."""
    a = abs(g)
    if a == 0 or math.isnan(a):
        return ZERO_FILL, "#000000"
    for low, fill, text, _ in BINS:
        if a >= low:
            return fill, text
    return BINS[-1][1], BINS[-1][2]


def _line(name: str, label: str, **attrs: str) -> str:
    extra = "".join(f' {k}="{v}"' for k, v in attrs.items())
    return f"\t{name} [label=<{label}>{extra}]\n"


def _edge(tail: str, head: str, label: str | None = None, **attrs: str) -> str:
    extra = "".join(f' {k}="{v}"' for k, v in attrs.items())
    lab = f" label=<{label}>" if label else ""
    return f"\t{tail} -> {head} [{lab}{extra}]\n" if (lab or extra) else f"\t{tail} -> {head}\n"


def _cluster_path(scope: str) -> list[str]:
    """ "layers.0.neurons.1" -> ["layers.0", "layers.0.neurons.1"] (one cluster per name.index pair)."""
    parts = scope.split(".")
    path = [".".join(parts[:k]) for k in range(2, len(parts) + 1, 2)]
    if len(parts) % 2:
        path.append(scope)
    return path


def _cluster_title(key: str) -> str:
    """ "layers.0.neurons.1" -> "neuron 1"; "layers.0" -> "layer 0"."""
    parts = key.split(".")
    if len(parts) >= 2:
        name, idx = parts[-2], parts[-1]
        return f"{name[:-1] if name.endswith('s') else name} {idx}"
    return key


def draw(
    root: Value,
    collapsed: bool = False,
    rankdir: str = "LR",
    precision: int = 4,
    show_grad: bool = True,
    color: bool = True,
    clusters: bool = True,
    title: str | None = None,
) -> Drawing:
    """Draw the graph below ``root``: values, operations, local derivatives and carried gradients.

    A drawing made before ``root.backward()`` (detected by ``root.grad == 0``) says that the
    gradients are not computed yet instead of showing zeros.
    """
    return draw_graph(
        trace(root),
        collapsed=collapsed,
        rankdir=rankdir,
        precision=precision,
        show_grad=show_grad,
        color=color,
        clusters=clusters,
        title=title,
    )


def draw_graph(
    graph: Graph,
    collapsed: bool = False,
    rankdir: str = "LR",
    precision: int = 4,
    show_grad: bool = True,
    color: bool = True,
    clusters: bool = True,
    title: str | None = None,
    known: set[int] | None = None,
    current: int | None = None,
) -> Drawing:
    """Draw a traced ``Graph``. ``known``: ids whose gradient is known (the others show "?"),
    used by the backprop frames; ``current``: the id to highlight."""
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"draw(): rankdir must be one of LR, RL, TB, BT, got {rankdir!r}")
    computed = graph.grads_computed
    show_grad = show_grad and computed
    n = lambda x: fmt(x, precision)  # noqa: E731
    g = Drawing(
        name="chainrule",
        graph_attr={
            "rankdir": rankdir,
            "fontname": FONT,
            "labelloc": "t",
            "nodesep": "0.25",
            "ranksep": "0.35",
        },
        node_attr={"fontname": FONT, "fontsize": "11"},
        edge_attr={"fontname": FONT, "fontsize": "9", "color": "#666666", "arrowsize": "0.6"},
    )
    if collapsed:  # many edges between layers: straight lines and room between the ranks
        g.graph_attr.update(splines="line", ranksep="1.5", nodesep="0.1")
    g.body.append(f"\tlabel=<{_title(graph, title, computed, show_grad, known, current)}>\n")

    group = _groups(graph) if collapsed else {}
    biased = (
        {m.scope for m in graph.nodes if m.scope and m.label == "b" and m.is_leaf} if collapsed else set()
    )
    bodies: dict[str | None, list[str]] = {None: []}  # cluster key -> its lines

    def place(scope: str | None, line: str, level: int = -1) -> None:
        path = _cluster_path(scope) if (scope and clusters) else []
        key = path[level] if len(path) >= -level else None
        bodies.setdefault(key, []).append(line)

    def grad_known(i: int) -> bool:
        return show_grad and (known is None or i in known)

    # --- nodes ---
    for node in graph.nodes:
        if node.id in group and group[node.id] != node.id:
            continue  # collapsed into its neuron's box
        k = grad_known(node.id)
        if node.id in group:
            rows, fill, text, border, edge_color = _neuron_rows(node, biased, n, k)
        else:
            rows, border, edge_color = _value_rows(node, n, k, computed, show_grad), 1, "#444444"
            fill, text = grad_colors(node.grad) if (k and color) else (UNKNOWN_FILL, "#000000")
            if node.op == "relu" and node.data == 0:
                rows.append("<I>dead ReLU: 0 out, passes no gradient</I>")
                edge_color, border = "#b2182b", 2
        if not color:
            fill, text = UNKNOWN_FILL, "#000000"
        if node.id == graph.root or node.id == current:
            border = 3
        if node.id == current:
            edge_color = "#2166ac"
        # a collapsed neuron is drawn in its layer's cluster, not in a cluster of its own
        place(
            node.scope,
            _line(
                f"v{node.id}",
                "<BR/>".join(rows),
                shape="box",
                style="filled",
                fillcolor=fill,
                fontcolor=text,
                color=edge_color,
                penwidth=str(border),
                margin="0.1,0.04",
            ),
            -2 if node.id in group else -1,
        )
        if not node.is_leaf and node.id not in group:
            place(
                node.scope,
                _line(
                    f"o{node.id}",
                    esc(OP_SYMBOLS.get(node.op, node.op)),
                    shape="circle",
                    width="0.3",
                    height="0.3",
                    margin="0.02",
                    fixedsize="false",
                    fontsize="10",
                    style="filled",
                    fillcolor="#f0f0f0",
                    color="#888888",
                ),
            )
            bodies[None].append(_edge(f"o{node.id}", f"v{node.id}"))

    # --- edges ---
    seen: set[tuple[int, int]] = set()
    for e in graph.edges:
        p, c = group.get(e.parent, e.parent), group.get(e.child, e.child)
        if p == c:
            continue  # inside a collapsed neuron
        if c in group:  # into a collapsed neuron: one plain line per pair of boxes
            if (p, c) not in seen:
                seen.add((p, c))
                bodies[None].append(_edge(f"v{p}", f"v{c}", color="#99999999", penwidth="0.6"))
            continue
        label = f"local {n(e.local)}"
        attrs: dict[str, str] = {}
        if grad_known(e.child):
            label += f"<BR/>carries {n(e.carried)}"
            if color:
                attrs["color"] = grad_colors(e.carried)[0] if e.carried else "#bbbbbb"
                attrs["penwidth"] = "1.6"
        bodies[None].append(_edge(f"v{p}", f"o{c}", label, **attrs))

    if color and show_grad:
        g.body.append(_legend())
    _assemble(g, bodies)
    return g


def _title(
    graph: Graph,
    title: str | None,
    computed: bool,
    show_grad: bool,
    known: set[int] | None,
    current: int | None,
) -> str:
    root = graph.nodes[graph.root]
    name = esc(root.label or "root")
    lines = [f"<B>{esc(title)}</B>"] if title else []
    if not computed:
        lines.append(f'<FONT COLOR="#b2182b">gradients not computed yet: call {name}.backward()</FONT>')
    elif show_grad:
        lines.append(
            f"grad = d {name} / d node; on each edge into an operation: the local derivative "
            "and the gradient it carries back (grad × local)"
        )
    if known is not None:
        step = f"backward step {len(known)} of {len(graph.nodes)}: {len(known)} gradients known"
        if current is not None:
            node = graph.nodes[current]
            what = esc(node.label) if node.label else f"the {esc(node.op or 'input')} node"
            step += f"; the gradient of {what} (blue) is now final: all its uses have passed theirs back"
        lines.append(step)
    return "<BR/>".join(lines)


def _value_rows(node: Node, n, known: bool, computed: bool, show_grad: bool) -> list[str]:
    rows = [f"<B>{esc(node.label)}</B>"] if node.label else []
    rows.append(f"data {n(node.data)}")
    if show_grad:
        rows.append(f"grad {n(node.grad)}" if known else "grad ?")
    elif not computed:
        rows.append("grad not computed")
    return rows


def _is_neuron(scope: str | None) -> bool:
    """A neuron's scope ends in "neurons.<j>"; other scopes (a softmax layer's nodes) stay drawn in full."""
    parts = scope.split(".") if scope else []
    return len(parts) >= 2 and parts[-2] == "neurons"


def _groups(graph: Graph) -> dict[int, int]:
    """Collapsed view: node id -> id of its neuron's output (the last node with the same scope)."""
    last: dict[str, int] = {}
    for node in graph.nodes:
        if _is_neuron(node.scope):
            last[node.scope] = node.id  # forward order: the activation comes last
    return {node.id: last[node.scope] for node in graph.nodes if _is_neuron(node.scope)}


def _neuron_rows(out: Node, biased: set[str], n, known: bool) -> tuple[list[str], str, str, int, str]:
    has_bias = out.scope in biased
    act = out.op if out.op in ("relu", "tanh", "sigmoid") else "linear"
    formula = "Σ w·x" + (" + b" if has_bias else "") + f" → {act}"
    rows = [
        f"<B>{esc(_cluster_title(out.scope))}</B>: {esc(formula)}",
        f"out {n(out.data)}" + (f" · grad {n(out.grad)}" if known else ""),
    ]
    fill, text = grad_colors(out.grad) if known else (UNKNOWN_FILL, "#000000")
    border, line = 1, "#444444"
    if act == "relu" and out.data == 0:
        rows[-1] += " · <I>dead ReLU</I>"
        border, line = 2, "#b2182b"
    return rows, fill, text, border, line


def _legend() -> str:
    cells = "".join(
        f'<TR><TD BGCOLOR="{fill}"><FONT COLOR="{text}">{esc(name)}</FONT></TD></TR>'
        for _, fill, text, name in BINS
    )
    cells += f'<TR><TD BGCOLOR="{ZERO_FILL}">0</TD></TR>'
    table = (
        f'<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="1" CELLPADDING="3">'
        f"<TR><TD><B>|grad|</B></TD></TR>{cells}</TABLE>"
    )
    return _line("legend", table, shape="plaintext", margin="0")


def _assemble(g: graphviz.Digraph, bodies: dict[str | None, list[str]]) -> None:
    """Put each cluster's lines into nested subgraphs (innermost first) and those into ``g``."""
    g.body.extend(bodies.pop(None))
    keys: dict[str, None] = {}  # every cluster, parents before children, in order of appearance
    for key in bodies:
        keys.update(dict.fromkeys(_cluster_path(key)))
    subs: dict[str, graphviz.Digraph] = {}
    for i, key in enumerate(keys):
        sub = graphviz.Digraph(name=f"cluster_{i}")
        sub.body.append(f"\tlabel=<{esc(_cluster_title(key))}>\n")
        sub.body.append('\tstyle="rounded,dashed" color="#999999" fontsize="10"\n')
        sub.body.extend(bodies.get(key, []))
        subs[key] = sub
    for key in sorted(keys, key=lambda k: -len(_cluster_path(k))):
        path = _cluster_path(key)
        parent = subs[path[-2]] if len(path) > 1 else g
        parent.subgraph(subs[key])
