"""The DOT lines of one drawing: boxes, operation circles, edges, reading-order ties, title, legend.

``Painter(graph, ...).bodies()`` returns the lines per cluster; ``viz.dot.draw_graph`` assembles
them into a ``Drawing``. In backprop frames (``known`` given) every number that changes from step
to step sits in a cell of fixed size, so all frames share one layout.
"""

from __future__ import annotations

from collections.abc import Callable

from nn.module import Scope

from .graph import Graph, Node, place_title
from .style import (
    BINS,
    CURRENT,
    DEAD_LINE,
    OP_SYMBOLS,
    UNKNOWN_FILL,
    ZERO_FILL,
    Cluster,
    cluster_path,
    cluster_title,
    edge_line,
    esc,
    fmt,
    grad_colors,
    line,
    text_width,
)

NAME_FONT = '<FONT POINT-SIZE="9"><I>{}</I></FONT>'  # in the box's text colour: readable on any fill
PLAIN = {"shape": "plaintext", "fontsize": "9", "width": "0", "height": "0", "margin": "0.02"}
BOX = {"shape": "box", "margin": "0.1,0.04"}
CIRCLE = {"shape": "circle", "width": "0.3", "height": "0.3", "margin": "0.02", "fontsize": "10",
          "style": "filled", "fillcolor": "#f0f0f0", "color": "#888888"}  # fmt: skip
Row = str | tuple[str, float]  # a label row; a tuple: (text, width of its fixed-size cell in frames)
WEIGHT_LABELS = 12  # a collapsed layer with at most this many weights gets a label on each


def layer_of(node: Node) -> Cluster:
    """The outermost module a node is in, (("layer", 1),) for layer 1's nodes (() without a scope)."""
    path = cluster_path(node.scope)
    return path[0] if path else ()


def neuron_of(scope: str | None) -> Cluster | None:
    """The neuron that made a node, as its path ``(("layer", 1), ("neuron", 3))``; None when no
    neuron did (a softmax layer's own nodes, the inputs, plain Values)."""
    if isinstance(scope, Scope) and scope.parts and scope.parts[-1][0] == "neuron":
        return scope.parts
    return None


def is_bias(node: Node) -> bool:
    """A neuron's bias, as its scope record says (a label "b" alone says nothing)."""
    return node.is_leaf and isinstance(node.scope, Scope) and node.scope.role == ("bias", None)


def is_dead(node: Node) -> bool:
    """A ReLU whose output is 0: it passes no gradient back."""
    return node.op == "relu" and node.data == 0


def neuron_groups(graph: Graph) -> dict[int, int]:
    """Collapsed view: node id -> id of its neuron's output (the last node made in that neuron).
    Only a neuron's nodes collapse; a softmax layer's own nodes stay drawn in full."""
    last: dict[Cluster, int] = {}
    for node in graph.nodes:
        neuron = neuron_of(node.scope)
        if neuron:
            last[neuron] = node.id  # forward order: the activation comes last
    return {node.id: last[neuron] for node in graph.nodes if (neuron := neuron_of(node.scope))}


class Painter:
    """The lines of one drawing of ``graph`` (options as ``viz.draw``; ``known``/``current``: frames)."""

    def __init__(
        self,
        graph: Graph,
        collapsed: bool,
        digits: int,
        show_grad: bool,
        color: bool,
        known: set[int] | None,
        current: int | None,
        constants: bool,
        clusters: bool = False,
        partial: dict[int, str] | None = None,
        reserve: dict[int, str] | None = None,
        every_bin: bool = False,
    ) -> None:
        self.graph, self.collapsed, self.color, self.clusters = graph, collapsed, color, clusters
        # The legend lists the fills this drawing uses, unless its numbers change after it is drawn
        # (backprop frames and pages, where known is given; a training page asks for every_bin).
        self.every_bin = every_bin or known is not None
        self.fills: set[str] = set()
        self.show_grad = show_grad and graph.grads_computed
        self.known, self.current, self.full_constants = known, current, constants
        self.partial, self.reserve = partial or {}, reserve or {}  # frames: sums so far, and room for them
        self.n: Callable[[float], str] = lambda x: fmt(x, digits)  # digits, '-', '.', 'e': no markup
        self.group = neuron_groups(graph) if collapsed else {}
        self.uses = graph.uses()
        self.drawn = 0
        self.weights = self._weights() if collapsed else {}
        self.biased = {neuron_of(n.scope) for n in graph.nodes if is_bias(n)}
        self.top_weight = max((abs(w.data) for w in self.weights.values()), default=1.0) or 1.0
        self.layer_weights: dict[Cluster, int] = {}
        for w in self.weights.values():
            self.layer_weights[layer_of(w)] = self.layer_weights.get(layer_of(w), 0) + 1

    # --- what a node is -------------------------------------------------------------------------
    def grad_known(self, i: int) -> bool:
        return self.show_grad and (self.known is None or i in self.known)

    def plain(self, i: int) -> bool:
        """Drawn as a small plain number: a constant, unless ``constants=True``."""
        return not self.full_constants and self.graph.is_constant(i) and i not in self.group

    def label(self, rows: list[Row], size: float) -> str:
        """The rows as one HTML-like label; in frames, a table whose changing rows have a fixed size."""
        if self.known is None:
            return "<BR/>".join(r if isinstance(r, str) else r[0] for r in rows)
        cells = "".join(
            f"<TR><TD>{r}</TD></TR>"
            if isinstance(r, str)
            else f'<TR><TD FIXEDSIZE="TRUE" WIDTH="{r[1]}" HEIGHT="{round(size * 1.35, 1)}">{r[0]}</TD></TR>'
            for r in rows
        )
        return f'<TABLE BORDER="0" CELLPADDING="0" CELLSPACING="0">{cells}</TABLE>'

    # --- the lines ------------------------------------------------------------------------------
    def bodies(self) -> dict[Cluster | None, list[str]]:
        """The DOT lines per cluster key (None: the top level)."""
        bodies: dict[Cluster | None, list[str]] = {None: []}
        where: dict[int, Cluster | None] = {}
        for node in self.graph.nodes:
            if node.id in self.group and self.group[node.id] != node.id:
                continue  # collapsed into its neuron's box
            level = -2 if node.id in self.group else -1  # a neuron box sits in its layer's cluster
            path = cluster_path(node.scope) if self.clusters else []
            key = path[level] if len(path) >= -level else None
            where[node.id] = key
            bodies.setdefault(key, []).extend(self.node_lines(node))
        bodies[None].extend(self.edge_lines())
        for key, tie in self.order_lines(where):
            bodies.setdefault(key, []).append(tie)
        return bodies

    def node_lines(self, node: Node) -> list[str]:
        self.drawn += 1
        i = node.id
        if self.plain(i):
            return [line(f"v{i}", self.n(node.data), **PLAIN, id=f"v{i}")]
        rows, fill, text, border = self.neuron_rows(node) if i in self.group else self.value_rows(node)
        style = {"style": f"filled{border[2]}", "color": border[0], "penwidth": border[1]}
        box = line(f"v{i}", self.label(rows, 11), id=f"v{i}", **BOX, fillcolor=fill, fontcolor=text, **style)
        lines = [box]
        if not node.is_leaf and i not in self.group:
            symbol = esc(OP_SYMBOLS.get(node.op, node.op))
            lines.append(line(f"o{i}", symbol, **CIRCLE))
            lines.append(edge_line(f"o{i}", f"v{i}"))
        return lines

    def colours(self, node: Node, passed_back: float) -> tuple[str, str, tuple[str, str, str]]:
        """(fill, text colour, (border colour, width, extra style)) of a box."""
        i = node.id
        fill, text = UNKNOWN_FILL, "#000000"
        if self.color and self.grad_known(i):
            fill, text = (ZERO_FILL, "#000000") if is_dead(node) else grad_colors(passed_back)
        self.fills.add(fill)
        border = ("#444444", "1", "")
        if is_dead(node):
            border = (DEAD_LINE, "2", ",dashed")
        if i == self.current:
            border = (CURRENT, "3", "")
        elif i == self.graph.root:
            border = (border[0], "3", border[2])
        return fill, text, border

    def grad_row(
        self, i: int, grad: float, prefix: str = "grad ", size: float = 11, box: bool = True
    ) -> Row | None:
        """``grad 0.02592``, ``grad 0.0199 so far, 1 of 2 uses`` (a box's sum not complete yet, in
        frames; ``box=False``: an edge's row, which has no sum so far) or ``grad ?``; in frames as
        wide as the widest of these needs, so every frame has one layout."""
        if self.grad_known(i):
            text = prefix + self.n(grad)
        elif self.show_grad:
            text = prefix + (self.partial.get(i, "?") if box else "?")
        else:
            return None if self.graph.grads_computed else "grad not computed"
        if self.known is None:
            return text
        widest = max(self.n(grad), self.reserve.get(i, "") if box else "", key=len)
        return text, text_width(prefix + widest, size)

    def value_rows(self, node: Node) -> tuple[list[Row], str, str, tuple[str, str, str]]:
        i = node.id
        # an unlabelled node shows the name explain() uses, so the two speak of the same node
        rows: list[Row] = [
            f"<B>{esc(node.label)}</B>" if node.label else NAME_FONT.format(esc(self.graph.name(i)))
        ]
        if node.scope and not self.clusters:  # where it is, as a cluster's title would say
            rows.insert(0, NAME_FONT.format(esc(place_title(node.scope))))
        rows.append(f"data {self.n(node.data)}")
        grad = self.grad_row(i, node.grad)
        rows += [grad] if grad is not None else []
        if is_dead(node):
            rows.append("<B>dead ReLU</B>: output 0, passes no gradient back")
        fill, text, border = self.colours(node, node.grad)
        return rows, fill, text, border

    def neuron_rows(self, out: Node) -> tuple[list[Row], str, str, tuple[str, str, str]]:
        """A collapsed neuron: its formula, output and gradient; filled by what it passes back
        (the gradient of its weighted sum), grey when that is 0."""
        neuron = neuron_of(out.scope) or ()
        act = out.op if out.op in ("relu", "tanh", "sigmoid") else "linear"
        formula = "Σ w·x" + (" + b" if neuron in self.biased else "") + f" → {act}"
        title = cluster_title(neuron) if self.clusters else place_title(out.scope)
        rows: list[Row] = [
            f"<B>{esc(title)}</B>: {esc(formula)}",
            f"out {self.n(out.data)}",
        ]
        into = self.graph.edges_into(out.id)
        passed = self.graph.nodes[into[0].parent].grad if act != "linear" and into else out.grad
        grad = self.grad_row(out.id, out.grad)
        if isinstance(grad, str) and self.graph.grads_computed:
            rows[-1] = f"{rows[-1]}, {grad}"
        elif grad is not None:
            rows.append(grad)
        if is_dead(out):
            rows.append("<B>dead ReLU</B>: passes no gradient back")
        fill, text, border = self.colours(out, passed)  # 0 passed back: grey, as the legend says
        return rows, fill, text, border

    def edge_lines(self) -> list[str]:
        lines: list[str] = []
        seen: set[tuple[int, int]] = set()
        for k, e in enumerate(self.graph.edges):
            p, c = self.group.get(e.parent, e.parent), self.group.get(e.child, e.child)
            if p == c:
                continue  # inside a collapsed neuron
            if c in self.group:
                if (p, c) not in seen:
                    seen.add((p, c))
                    lines.append(self.weight_line(k, p, c, e.child))
                continue
            if self.plain(p):
                lines.append(edge_line(f"v{p}", f"o{c}", id=f"e{k}", color="#bbbbbb"))
                continue
            rows: list[Row] = [f"local {self.n(e.local)}"]
            attrs = {"id": f"e{k}", "class": f"k{e.child}"}  # the page reveals it with its child
            carried = self.grad_row(e.child, e.carried, "carries ", 9, box=False)
            if carried is not None and carried != "grad not computed":
                rows.append(carried)
                if self.color and self.grad_known(e.child):
                    attrs.update(color=grad_colors(e.carried)[0] if e.carried else "#bbbbbb", penwidth="1.6")
            lines.append(edge_line(f"v{p}", f"o{c}", self.label(rows, 9), **attrs))
        return lines

    def _weights(self) -> dict[int, Node]:
        """Collapsed view: for an edge into a neuron's product ``w_i·x_i``, its weight (the neuron's leaf)."""
        found = {}
        for k, e in enumerate(self.graph.edges):
            child = self.graph.nodes[e.child]
            if (
                e.child not in self.group
                or child.op != "*"
                or self.group.get(e.parent) == self.group[e.child]
            ):
                continue
            for other in self.graph.edges_into(e.child):
                w = self.graph.nodes[other.parent]
                if other.slot != e.slot and w.is_leaf and self.group.get(w.id) == self.group[e.child]:
                    found[k] = w
        return found

    def weight_line(self, k: int, p: int, c: int, child: int) -> str:
        """One collapsed edge: a weight, width |w|, colour |dL/dw|, labelled while its layer has few."""
        w = self.weights.get(k)
        if w is None:
            return edge_line(f"v{p}", f"v{c}", id=f"e{k}", color="#99999999", penwidth="0.6")
        top = self.top_weight
        attrs = {"id": f"e{k}", "class": f"k{w.id}", "penwidth": f"{0.5 + 3.5 * abs(w.data) / top:.2f}"}
        attrs["color"] = "#969696"
        if self.color and self.grad_known(w.id):
            attrs["color"] = grad_colors(w.grad)[0] if w.grad else ZERO_FILL
        if self.layer_weights[layer_of(w)] > WEIGHT_LABELS:
            return edge_line(f"v{p}", f"v{c}", **attrs)
        rows: list[Row] = [f"{esc(w.label or 'w')} {self.n(w.data)}"]
        grad = self.grad_row(w.id, w.grad, "dL/dw ", 9, box=False)
        rows += [grad] if grad is not None and grad != "grad not computed" else []
        return edge_line(f"v{p}", f"v{c}", self.label(rows, 9), **attrs)

    # --- title and legend ---------------------------------------------------------------------
    def title(self, title: str | None, caption: tuple[str, float, float] | None) -> str:
        """What the drawing shows, said exactly; then a fixed-size caption (backprop frames)."""
        name = esc(self.graph.name(self.graph.root))
        lines = [f"<B>{esc(title)}</B>"] if title else []
        if not self.graph.grads_computed:
            lines.append(f'<FONT COLOR="#b2182b">gradients not computed yet: call {name}.backward()</FONT>')
        elif self.show_grad and self.collapsed:
            lines += [
                f"each box is a neuron: its output and d {name} / d output; "
                "its fill: the gradient it passes back (legend)",
                f"each edge into a neuron is a weight w: width |w|, colour |d {name} / dw|"
                f" (labelled while a layer has at most {WEIGHT_LABELS} weights)",
            ]
        elif self.show_grad:
            lines += [
                f"grad = d {name} / d node; a box's fill: the gradient it passes back (legend)",
                "on each edge into an operation: the local derivative, and the gradient it carries back",
            ]
        note = self.graph.grad_note() if self.show_grad else ""
        if note:  # a leaf's .grad contradicts its edges: say why rather than leave it unexplained
            lines.append(f'<FONT COLOR="#b2182b">{esc(note)}</FONT>')
        if not caption:
            return "<BR/>".join(lines)
        text, w, h = caption  # a table: a label may not mix text lines and a table
        rows = "".join(f"<TR><TD>{ln}</TD></TR>" for ln in lines)
        fixed = f'<TR><TD FIXEDSIZE="TRUE" WIDTH="{w}" HEIGHT="{h}" BALIGN="LEFT" ALIGN="LEFT">{text}</TD>'
        fixed += "</TR>"
        return f'<TABLE BORDER="0" CELLPADDING="0" CELLSPACING="0">{rows}{fixed}</TABLE>'

    def legend(self) -> str:
        rows = [(fill, text, name) for _, fill, text, name in BINS]
        rows.append((ZERO_FILL, "#000000", "0 (grey: a dead unit passes none)"))
        if self.known is not None:
            rows.append((UNKNOWN_FILL, "#000000", "not known yet (grad ?)"))
        used = [r for r in rows if r[0] in self.fills]
        if not self.every_bin and used:  # a small drawing gets a small legend
            rows = used
        cells = "".join(
            f'<TR><TD BGCOLOR="{fill}"><FONT COLOR="{text}">{esc(name)}</FONT></TD></TR>'
            for fill, text, name in rows
        )
        table = (
            '<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="1" CELLPADDING="3">'
            f"<TR><TD><B>fill: |grad| passed back</B></TD></TR>{cells}</TABLE>"
        )
        return line("legend", table, shape="plaintext", margin="0")

    # --- reading order --------------------------------------------------------------------------
    def order_lines(self, where: dict[int, Cluster | None]) -> list[tuple[Cluster | None, str]]:
        """Ties that keep each rank's boxes in reading order: inputs shared by several consumers
        first (x1, x2), then by first consumer (neuron 0 before neuron 1, w1[0][0] before w1[0][1])."""

        def rep(i: int) -> int:
            return self.group.get(i, i)

        consumers: dict[int, list[tuple[int, int]]] = {i: [] for i in where}
        for e in self.graph.edges:
            p, c = rep(e.parent), rep(e.child)
            if p != c:
                consumers[p].append((c, e.slot))
        rank = self.ranks(where, consumers)
        groups: dict[tuple[int, Cluster | None], list[int]] = {}
        for i in where:
            if i in rank:  # (a box on a cycle of the collapsed view gets no tie)
                groups.setdefault((rank[i], where[i]), []).append(i)

        def key(i: int) -> tuple[int, int, int, int]:
            first = min(consumers[i], default=(i, 0))
            return (0 if len({c for c, _ in consumers[i]}) > 1 else 1, first[0], first[1], i)

        ties = []
        for (_, cluster), ids in groups.items():
            if len(ids) > 1:
                chain = " -> ".join(f"v{i}" for i in sorted(ids, key=key))
                ties.append((cluster, f"\t{{rank=same; {chain} [style=invis]}}\n"))
        return ties

    def ranks(
        self, where: dict[int, Cluster | None], consumers: dict[int, list[tuple[int, int]]]
    ) -> dict[int, int]:
        """A rank per box as dot would give it: longest path from the inputs (an operation circle
        sits between a box and its inputs, except before a collapsed neuron), then every input
        moved up to just before its nearest consumer."""
        length = lambda c: 1 if c in self.group else 2  # noqa: E731
        inputs: dict[int, list[int]] = {i: [] for i in where}
        for p, uses in consumers.items():
            for c, _ in uses:
                inputs[c].append(p)
        rank: dict[int, int] = {}
        waiting = {i: len(inputs[i]) for i in where}
        ready = [i for i in where if not inputs[i]]
        while ready:  # a topological order of the drawn boxes (a collapsed graph's ids may not be one)
            i = ready.pop()
            rank[i] = max((rank[p] + length(i) for p in inputs[i]), default=0)
            for c, _ in consumers[i]:
                waiting[c] -= 1
                if waiting[c] == 0:
                    ready.append(c)
        for i in where:
            if not inputs[i] and consumers[i]:
                rank[i] = min(rank.get(c, 0) - length(c) for c, _ in consumers[i])
        return rank
