"""The training page's text: the graph drawn once (``layout_graph``), each epoch's numbers
and colours as columns (a column that never changes is sent once), the loss curve and the decision
boundary drawn by the page's script. Filled in one pass, as the step-by-step page: no user text is
ever read as a placeholder."""

from __future__ import annotations

import html
import math
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .backend import pipe
from .dot import draw_graph
from .graph import Graph, Node, printable
from .page import CONTROLS, inline_svg, script_json
from .painter import is_dead
from .style import ZERO_FILL, fmt, grad_colors

if TYPE_CHECKING:
    from .training import EpochRecord, TrainingPage


def finite(x: float) -> float | None:
    """A number JSON can carry: None for NaN and the infinities."""
    return x if math.isfinite(x) else None


CLASS_COLOURS = [  # (cell, point) per class: light cells, dark points
    ("#fbd3c4", "#d7301f"), ("#c6dbef", "#2171b5"), ("#c7e9c0", "#238b45"), ("#dadaeb", "#6a51a3"),
    ("#fdd0a2", "#d94801"), ("#d9d9d9", "#525252"), ("#fcc5c0", "#ae017e"), ("#ccece6", "#02818a"),
    ("#fff7bc", "#cc4c02"), ("#e7e1ef", "#980043"),
]  # fmt: skip
COLOUR_NAMES = {
    "#d7301f": "red", "#2171b5": "blue", "#238b45": "green", "#6a51a3": "purple", "#d94801": "orange",
    "#525252": "grey", "#ae017e": "magenta", "#02818a": "teal", "#cc4c02": "brown", "#980043": "crimson",
}  # fmt: skip
PLACEHOLDER = re.compile(r"\{(title|about|count|last|counter|state|script|svg)\}")


DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"  # a palette index, one character per epoch


def column(values: list[str]) -> str:
    """One slot's texts over the recorded epochs, joined by "|" (which no number contains); the
    text alone when it never changes."""
    return values[0] if all(v == values[0] for v in values) else "|".join(values)


def colour_column(values: list[int]) -> str:
    """One slot's palette indices over the recorded epochs, a character each; one alone when it
    never changes (there are always 2 epochs or more)."""
    return DIGITS[values[0]] if all(v == values[0] for v in values) else "".join(DIGITS[v] for v in values)


def graph_columns(graphs: list[Graph], precision: int) -> dict[str, Any]:
    """The texts and colours of every drawn box and labelled edge, per epoch, as columns; the colours
    as indices into a palette, ``dead``: per epoch, the ReLUs that output 0."""
    first = graphs[0]
    plain = {i for i in range(len(first.nodes)) if first.is_constant(i)}
    boxes = [i for i in range(len(first.nodes)) if i not in plain]
    edges = [k for k, e in enumerate(first.edges) if e.parent not in plain]
    palette: list[str] = []

    def colour(c: str) -> int:
        if c not in palette:
            if len(palette) == len(DIGITS):  # the colours come from style.BINS: a dozen at most
                raise RuntimeError(f"the training page has more than {len(DIGITS)} colours")
            palette.append(c)
        return palette.index(c)

    def fill(g: Graph, i: int) -> int:
        node = g.nodes[i]
        return colour("%s %s" % ((ZERO_FILL, "#000000") if is_dead(node) else grad_colors(node.grad)))

    def stroke(g: Graph, k: int) -> int:
        carried = g.edges[k].carried
        return colour(grad_colors(carried)[0] if carried else "#bbbbbb")

    return {
        "boxes": boxes,
        "edges": edges,
        "data": [column([fmt(g.nodes[i].data, precision) for g in graphs]) for i in boxes],
        "grad": [column([fmt(g.nodes[i].grad, precision) for g in graphs]) for i in boxes],
        "fill": [colour_column([fill(g, i) for g in graphs]) for i in boxes],
        "local": [column([fmt(g.edges[k].local, precision) for g in graphs]) for k in edges],
        "carried": [column([fmt(g.edges[k].carried, precision) for g in graphs]) for k in edges],
        "stroke": [colour_column([stroke(g, k) for g in graphs]) for k in edges],
        "dead": [[n.id for n in g.nodes if is_dead(n)] for g in graphs],
        "palette": palette,
    }


def _boundary(result: TrainingPage, X: Any, labels: list[int]) -> dict[str, Any] | None:
    if result.boundary is None:
        return None
    return {
        "grid": result.grid,
        "box": list(result.boundary),
        "cells": [r.classes for r in result.records],
        "points": [[float(x[0]), float(x[1]), int(c)] for x, c in zip(X, labels)],
        "colours": CLASS_COLOURS,
        "classes": max(max(labels) + 1, 2),
    }


def state(result: TrainingPage, X: Any, labels: list[int] | None, precision: int) -> dict[str, Any]:
    """Everything the page's script needs, as plain JSON."""
    records = result.records
    graphs = [r.graph for r in records]
    root = graphs[0].root
    return {
        "epochs": [r.epoch for r in records],
        "total": len(result.losses) - 1,
        "losses": [fmt(x, precision) for x in result.losses],
        "curve": [finite(x) for x in result.losses],  # JSON has no NaN: null, left out of the curve
        "acc": [None if a is None else f"{a:.0%}" for a in result.accuracies],
        "exLoss": [fmt(g.nodes[root].data, precision) for g in graphs],
        "root": root,
        "example": result.example,
        "graph": graph_columns(graphs, precision),
        "boundary": _boundary(result, X, labels or []),
        "noBoundary": result.no_boundary,
        "sampled": result.sampled,
        "colourNames": COLOUR_NAMES,
    }


def page_html(
    result: TrainingPage, title: str, rankdir: str, precision: int, loss: str, X: Any, y: Any
) -> str:
    """The whole page for ``result`` (its html still empty)."""
    layout = layout_graph(result.records, precision)
    drawing = draw_graph(  # every fill in the legend: the numbers change from epoch to epoch
        layout, rankdir=rankdir, precision=precision, max_nodes=None, every_bin=True
    )  # fmt: skip
    svg = pipe(drawing.source, "svg", None).decode("utf-8")
    labels = None if result.boundary is None else [int(c) for c in y]
    x = X[result.example]
    target = y[result.example]
    inputs = ", ".join(fmt(float(v), precision) for v in x)
    about = (
        f"the graph: example {result.example} of {len(X)} (x = {inputs}; target {target}), "
        f"loss {loss}, trained on the {result.history.engine} engine"
    )
    n, m = result.epochs[-1], len(result.records)
    counter = f"epoch 0 of {n} (before training)" + (f" (recorded {m} of {m})" if result.sampled else "")
    values = {
        "title": html.escape(printable(title)),
        "about": html.escape(printable(about)),
        "count": str(len(result.records)),
        "last": str(len(result.records) - 1),
        "counter": str(len(counter) + 1),
        "state": script_json(state(result, X, labels, precision)),
        "script": CONTROLS + SCRIPT,
        "svg": inline_svg(svg),
    }
    return PLACEHOLDER.sub(lambda m: values[m[1]], PAGE)


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
html, body { height: 100%; margin: 0; }
body { font-family: sans-serif; display: flex; flex-direction: column; }
header { flex: none; padding: .4em 1em; border-bottom: 1px solid #ccc; }
h1 { font-size: 1.2em; margin: .2em 0; }
.about { color: #555; font-size: .9em; }
.controls { display: flex; gap: .4em; align-items: center; flex-wrap: wrap; margin-top: .3em; }
input[type=range] { width: 30em; max-width: 25vw; }
#counter { display: inline-block; min-width: {counter}ch; font-variant-numeric: tabular-nums;
  font-weight: bold; }
#numbers { font-family: monospace; font-size: 14px; }
.zoom { margin-left: auto; }
#numbers b { color: #08306b; }
main { flex: 1; display: flex; min-height: 0; }
#view { flex: 1; overflow: auto; cursor: grab; background: #fff; border-right: 1px solid #ccc; }
#view.dragging { cursor: grabbing; }
#view svg { display: block; }
aside { flex: none; width: 330px; overflow-y: auto; padding: .4em .8em; font-size: 13px; }
aside h2 { font-size: 1em; margin: .5em 0 .2em; }
aside svg { display: block; background: #fcfcfc; border: 1px solid #e0e0e0; }
.note { color: #555; margin: .3em 0; }
#sampled { color: #8c510a; }
</style></head>
<body>
<header>
<h1>{title}</h1>
<div class="about">{about}</div>
<div class="controls">
<button id="first" title="epoch 0, before training (Home)">start</button>
<button id="prev" title="previous epoch (&#8592;)">&#9664;</button>
<button id="play" title="play / pause (space)">play</button>
<button id="next" title="next epoch (&#8594;)">&#9654;</button>
<button id="last" title="last epoch (End)">end</button>
<input id="slider" type="range" min="0" max="{last}" value="0" aria-label="epoch">
<span id="counter">epoch 0</span>
</div>
<div class="controls"><span id="numbers"></span>
<span class="zoom">zoom
<button id="zoomout" title="zoom out (ctrl + wheel)">&#8722;</button>
<button id="zoomin" title="zoom in (ctrl + wheel)">+</button>
<button id="fit" title="the whole graph in the window">fit</button>
<button id="actual" title="actual size">100%</button></span>
</div>
</header>
<main>
<div id="view">
{svg}
</div>
<aside>
<h2>Training loss, epoch by epoch</h2>
<svg id="curve" width="300" height="190" viewBox="0 0 300 190" role="img" aria-label="loss curve"></svg>
<p class="note" id="curve-note"></p>
<h2>Decision boundary</h2>
<svg id="boundary" width="300" height="300" viewBox="0 0 300 300" role="img"
 aria-label="decision boundary"></svg>
<p class="note" id="boundary-note"></p>
<p class="note" id="sampled"></p>
<p class="note">The graph is large: drag it to pan, zoom with the buttons or ctrl + wheel; "fit"
shows all of it. It is the chosen example's forward pass and its loss, with every value and
gradient after that many epochs; its layout never changes, only the numbers and colours.
Keys: &#8592; &#8594; an epoch, Home / End, space plays.</p>
</aside>
</main>
<script type="application/json" id="state">{state}</script>
<script>
{script}
</script>
</body></html>
"""

SCRIPT = r"""(function () {
  "use strict";
  var state = JSON.parse(document.getElementById("state").textContent);
  var count = state.epochs.length, current = 0;
  var view = document.getElementById("view"), svg = view.querySelector("svg");
  var slider = document.getElementById("slider"), counter = document.getElementById("counter");
  var play = document.getElementById("play"), numbers = document.getElementById("numbers");
  var G = state.graph, NS = "http://www.w3.org/2000/svg";
  function at(col, s) { return Array.isArray(col) ? col[s] : col; }
  ["data", "grad", "local", "carried"].forEach(function (k) {  // "a|b|c": one text per epoch
    G[k] = G[k].map(function (col) { return col.indexOf("|") < 0 ? col : col.split("|"); });
  });
  ["fill", "stroke"].forEach(function (k) {  // a palette index per epoch, one character each
    G[k] = G[k].map(function (col) {
      var codes = col.split("").map(function (c) { return parseInt(c, 36); });
      return codes.length === 1 ? codes[0] : codes;
    });
  });
  function valueText(g, pattern) {  // the text that changes, centred where it is drawn
    var found = null;
    g.querySelectorAll("text").forEach(function (t) {
      if (t.getAttribute("font-weight") !== "bold" && pattern.test(t.textContent)) found = t;
    });
    if (found) {
      var b = found.getBBox();
      found.setAttribute("x", b.x + b.width / 2);
      found.setAttribute("text-anchor", "middle");
    }
    return found;
  }
  var DEAD = /^(dead ReLU|: output 0, passes no gradient back)$/;
  var boxes = G.boxes.map(function (id) {
    var g = document.getElementById("v" + id);
    var texts = Array.prototype.slice.call(g.querySelectorAll("text"));
    return { id: id, g: g, shape: g.querySelector("polygon, ellipse"), texts: texts,
      data: valueText(g, /^data /), grad: valueText(g, /^grad /),
      dead: texts.filter(function (t) { return DEAD.test(t.textContent); }) };
  });
  var edges = G.edges.map(function (k) {
    var g = document.getElementById("e" + k);
    return { g: g, path: g.querySelector("path"), head: g.querySelector("polygon"),
      local: valueText(g, /^local /), carried: valueText(g, /^carries /) };
  });
  function paint(el, attr, value) {
    if (!el) return;
    if (value === null) el.removeAttribute(attr); else el.setAttribute(attr, value);
  }
  function showGraph(s) {
    var dead = {};
    state.graph.dead[s].forEach(function (i) { dead[i] = true; });
    boxes.forEach(function (b, j) {
      if (b.data) b.data.textContent = "data " + at(G.data[j], s);
      if (b.grad) b.grad.textContent = "grad " + at(G.grad[j], s);
      var c = G.palette[at(G.fill[j], s)].split(" ");
      paint(b.shape, "fill", c[0]);
      b.texts.forEach(function (t) { paint(t, "fill", c[1]); });
      b.dead.forEach(function (t) { t.style.visibility = dead[b.id] ? "" : "hidden"; });
      if (b.dead.length) paint(b.shape, "stroke-dasharray", dead[b.id] ? "5,2" : null);
    });
    edges.forEach(function (e, j) {
      if (e.local) e.local.textContent = "local " + at(G.local[j], s);
      if (e.carried) e.carried.textContent = "carries " + at(G.carried[j], s);
      var c = G.palette[at(G.stroke[j], s)];
      paint(e.path, "stroke", c); paint(e.head, "stroke", c); paint(e.head, "fill", c);
    });
  }
  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    parent.appendChild(e);
    return e;
  }
  function label(parent, x, y, text, anchor) {
    var t = el("text", { x: x, y: y, "font-size": 11, "text-anchor": anchor || "start" }, parent);
    t.textContent = text;
    return t;
  }
  // --- the loss curve: fixed axes (every epoch, the highest loss), drawn up to the epoch shown --
  var curve = document.getElementById("curve"), L = 46, R = 290, T = 12, B = 160;
  var finite = state.curve.filter(function (v) { return v !== null; });
  var top = Math.max.apply(null, finite.concat([0])), bottom = Math.min.apply(null, finite.concat([0]));
  if (top === bottom) top = bottom + 1;
  function cx(e) { return L + (R - L) * e / Math.max(1, state.total); }
  function cy(v) { return B - (B - T) * (v - bottom) / (top - bottom); }
  el("line", { x1: L, y1: B, x2: R, y2: B, stroke: "#888" }, curve);
  el("line", { x1: L, y1: T, x2: L, y2: B, stroke: "#888" }, curve);
  label(curve, L - 4, cy(top) + 4, String(Number(top.toPrecision(3))), "end");
  label(curve, L - 4, cy(bottom) + 4, String(Number(bottom.toPrecision(3))), "end");
  label(curve, L, B + 14, "0", "middle");
  label(curve, R, B + 14, String(state.total), "middle");
  label(curve, (L + R) / 2, B + 26, "epoch", "middle");
  label(curve, 12, (T + B) / 2, "loss", "middle")
    .setAttribute("transform", "rotate(-90 12 " + (T + B) / 2 + ")");
  var line = el("polyline", { id: "loss-line", fill: "none", stroke: "#2166ac", "stroke-width": 2 }, curve);
  var dot = el("circle", { id: "loss-dot", r: 4, fill: "#d7301f" }, curve);
  function showCurve(s) {
    var e = state.epochs[s], pts = [];
    for (var i = 0; i <= e; i++) {
      if (state.curve[i] !== null) pts.push(cx(i).toFixed(1) + "," + cy(state.curve[i]).toFixed(1));
    }
    line.setAttribute("points", pts.join(" "));
    if (state.curve[e] !== null) {
      dot.setAttribute("cx", cx(e)); dot.setAttribute("cy", cy(state.curve[e]));
    }
    document.getElementById("curve-note").textContent = "mean loss over the training set after each " +
      "epoch, 0 to " + e + " (" + pts.length + (pts.length === 1 ? " point" : " points") + "); now " +
      state.losses[e];
  }
  // --- the decision boundary: the predicted class on a grid, and the data --------------------------
  var bsvg = document.getElementById("boundary"), cells = [];
  var bnote = document.getElementById("boundary-note");
  var D = state.boundary, NAMES = state.colourNames;
  if (D) {
    var n = D.grid, size = 300 / n;
    for (var r = 0; r < n; r++) {
      for (var c = 0; c < n; c++) {
        cells.push(el("rect", { x: c * size, y: r * size, width: size, height: size,
          "shape-rendering": "crispEdges" }, bsvg));
      }
    }
    var bx = function (x) { return 300 * (x - D.box[0]) / (D.box[1] - D.box[0]); };
    var by = function (y) { return 300 * (D.box[3] - y) / (D.box[3] - D.box[2]); };
    D.points.forEach(function (p, i) {
      el("circle", { cx: bx(p[0]), cy: by(p[1]), r: 3.2, fill: D.colours[p[2]][1], stroke: "#fff",
        "stroke-width": 0.8 }, bsvg);
    });
    var ex = D.points[state.example];
    if (ex) el("circle", { id: "example-ring", cx: bx(ex[0]), cy: by(ex[1]), r: 7, fill: "none",
      stroke: "#000", "stroke-width": 2 }, bsvg);
    bnote.textContent = "background: the class the network predicts at each point of a " + n + " \u00d7 " +
      n + " grid; dots: the training data, coloured by their class (" + D.colours.slice(0, D.classes)
      .map(function (c, i) { return NAMES[c[1]] + ": class " + i; }).join(", ") +
      "); the ring: the example drawn on the left";
  } else {
    bsvg.style.display = "none";
    bnote.textContent = "No decision boundary: " + state.noBoundary + ".";
  }
  function showBoundary(s) {
    if (!D) return;
    var classes = D.cells[s];
    cells.forEach(function (rect, i) { rect.setAttribute("fill", D.colours[+classes[i]][0]); });
  }
  document.getElementById("sampled").textContent = state.sampled ? "Sampled: " + state.sampled + "." : "";
  function show(s) {
    s = Math.max(0, Math.min(count - 1, s));
    current = s;
    var e = state.epochs[s];
    showGraph(s); showCurve(s); showBoundary(s);
    slider.value = s;
    counter.textContent = "epoch " + e + " of " + state.total + (e === 0 ? " (before training)" : "") +
      (state.sampled ? " (recorded " + (s + 1) + " of " + count + ")" : "");
    numbers.textContent = "";
    var parts = [["training loss ", state.losses[e], "loss"],
      ["accuracy ", state.acc[e], "accuracy"], ["this example's loss ", state.exLoss[s], "example-loss"]];
    parts.forEach(function (p) {
      if (p[1] === null) return;
      var span = document.createElement("span"), b = document.createElement("b");
      span.textContent = (numbers.childNodes.length ? "   " : "") + p[0];
      b.id = p[2]; b.textContent = p[1];
      span.appendChild(b); numbers.appendChild(span);
    });
  }
  var controls = chainruleControls({ view: view, svg: svg, slider: slider, play: play, count: count,
    show: show, current: function () { return current; }, interval: 300 });
  var setZoom = controls.setZoom, fitZoom = controls.fitZoom;
  window.chainrule = { epoch: function () { return state.epochs[current]; }, show: show };
  setZoom(Math.max(Math.min(fitZoom(), 1), 0.8));
  show(0);
  var rootBox = document.getElementById("v" + state.root);  // the loss first: where backward starts
  if (rootBox) {
    var r = rootBox.getBoundingClientRect(), v = view.getBoundingClientRect();
    view.scrollLeft = view.scrollWidth; view.scrollTop += (r.top + r.bottom - v.top - v.bottom) / 2;
  }
})();"""


def layout_graph(records: list[EpochRecord], precision: int) -> Graph:
    """One graph to lay out for every epoch: each number the widest it is in any epoch, and a ReLU
    that is dead in some epoch drawn dead (its row is hidden in the others), so no text outgrows
    its place."""
    first = records[0].graph

    def widest(values: list[float]) -> float:
        return max(values, key=lambda v: len(fmt(v, precision)))

    nodes: list[Node] = []
    for i, node in enumerate(first.nodes):
        datas = [r.graph.nodes[i].data for r in records]
        dead = node.op == "relu" and any(d == 0 for d in datas)
        grad = widest([r.graph.nodes[i].grad for r in records])
        nodes.append(replace(node, data=0.0 if dead else widest(datas), grad=grad))
    edges = [
        replace(
            e,
            local=widest([r.graph.edges[k].local for r in records]),
            carried=widest([r.graph.edges[k].carried for r in records]),
        )
        for k, e in enumerate(first.edges)
    ]
    return Graph(nodes, edges, first.root, True)
