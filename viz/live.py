"""Change a value and watch: what the step-by-step page needs to recompute every number in the
browser when a leaf (an input, a weight, a constant) is given a new value.

``model(graph)`` lists the graph's nodes in forward order (op, parents, the exponent of ``x ** n``,
every number as drawn) for the page's script. ``Templates`` turns a caption into text and slots,
each slot an expression over the graph's numbers (a node's gradient, an edge's local derivative or
carried gradient, products and exactly rounded sums of them): the caption is written once more from
a copy of the graph whose numbers are ``Tagged``, which leave a mark where they are formatted.
``SCRIPT`` holds the op table in JavaScript (a forward rule and local derivatives for every
primitive of ``autograd.ops.OPS``, as that table computes them, domain checks included), ``fmt`` as
``viz.style.fmt`` writes numbers, and the recomputation: forward in id order, backward in the order
``autograd`` uses, so the numbers are the Python engine's.
"""

from __future__ import annotations

import functools
import json
import math
import operator
import re
from dataclasses import fields, replace
from typing import Any

from autograd import topological_order

from .explain import Explanation
from .graph import Edge, Graph
from .style import BINS, ZERO_FILL, fmt

# A slot in a caption written with tagged numbers: one character of Unicode's private use plane 15
# for the index, then padding, as long as the number it stands for, so that a caption's layout (a
# sum one term per line once it is too long) is the one the numbers give.
FIRST, PAD = 0xF0000, "\U000ffffd"
SLOT = re.compile("([\U000f0000-\U000ffffc])\U000ffffd*")
MARKED = re.compile("[\U000f0000-\U000ffffd]")  # user text with these is never read as slots
Template = list[str | int]  # text, and indices into the expressions (``Templates.exprs``)


def number(x: float) -> float | str:
    """A number for JSON: infinities and NaN (which JSON lacks) as "inf", "-inf", "nan"."""
    return x if math.isfinite(x) else str(x)


class Tagged(float):
    """A number of the graph that knows what it is (``expr``): formatted, it writes a mark for
    ``Templates``; a product of tagged numbers is tagged. Equal to nothing but itself, so that
    ``fmt`` never writes a tagged 0 as a plain "0" that an edit would leave behind."""

    expr: Any
    table: Templates

    def __new__(cls, value: float, expr: Any, table: Templates) -> Tagged:
        x = super().__new__(cls, value)
        x.expr, x.table = expr, table
        return x

    def __mul__(self, other: Any) -> Any:
        return self.table.times(self, other)

    def __rmul__(self, other: Any) -> Any:
        return self.table.times(other, self)

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    __hash__ = float.__hash__

    def __format__(self, spec: str) -> str:
        return self.table.mark(self.expr, self)

    def __str__(self) -> str:
        return self.table.mark(self.expr, self)

    __repr__ = __str__


class Templates:
    """The expressions of one page's captions (``exprs``), each stored once."""

    def __init__(self, precision: int = 4) -> None:
        self.exprs: list[Any] = []
        self.precision = precision
        self._index: dict[str, int] = {}

    def mark(self, expr: Any, value: float) -> str:
        """The slot for ``expr``, as many characters long as ``value`` is written."""
        key = json.dumps(expr)
        if key not in self._index:
            if len(self.exprs) >= 0xFFFD:
                raise OverflowError("more numbers than a caption's slots can tell apart")
            self._index[key] = len(self.exprs)
            self.exprs.append(expr)
        return chr(FIRST + self._index[key]) + PAD * (len(fmt(float(value), self.precision)) - 1)

    def tag(self, value: float, expr: Any) -> Tagged:
        return Tagged(value, expr, self)

    def times(self, a: Any, b: Any) -> Any:
        """a * b, tagged: a plain 1 drops out (1 * x is x exactly)."""
        value = float(a) * float(b)
        if not isinstance(a, Tagged) and float(a) == 1.0:
            return self.tag(value, b.expr)
        if not isinstance(b, Tagged) and float(b) == 1.0:
            return self.tag(value, a.expr)
        left = expr_of(a)
        if isinstance(left, list) and left[0] == "*":  # (a * b) * c: one product, multiplied in order
            return self.tag(value, [*left, expr_of(b)])
        return self.tag(value, ["*", left, expr_of(b)])

    def total(self, xs: list[Any]) -> Tagged:
        """math.fsum of the numbers, tagged: the page sums them exactly rounded too."""
        return self.tag(math.fsum(xs), ["+", *(expr_of(x) for x in xs)])

    def graph(self, graph: Graph) -> Graph:
        """A copy of ``graph`` whose gradients, local derivatives and carried gradients are tagged."""
        nodes = [replace(n, grad=self.tag(n.grad, f"g{n.id}")) for n in graph.nodes]
        edges = [
            Edge(e.parent, e.child, self.tag(e.local, f"l{k}"), self.tag(e.carried, f"c{k}"), e.slot)
            for k, e in enumerate(graph.edges)
        ]
        return Graph(nodes, edges, graph.root, graph.grads_computed, graph.values)

    def explanation(self, how: Explanation) -> Explanation:
        """``how`` with its total (an exactly rounded sum of its terms) tagged as well."""
        return TaggedExplanation(**{f.name: getattr(how, f.name) for f in fields(how)})

    def split(self, text: str) -> Template:
        """A caption written with tagged numbers as text and slot indices."""
        parts = SLOT.split(text)
        return [ord(p) - FIRST if k % 2 else p for k, p in enumerate(parts) if p or k % 2]

    def render(self, template: Template, graph: Graph, precision: int) -> str:
        """The template's text with ``graph``'s numbers, as the page's script writes it."""
        return "".join(
            p if isinstance(p, str) else fmt(self.value(self.exprs[p], graph), precision) for p in template
        )

    def value(self, expr: Any, graph: Graph) -> float:
        """An expression's number in ``graph``: "g7" node 7's gradient, "l3" edge 3's local derivative,
        "c3" what edge 3 carries back, ["*", ...] a product (left to right), ["+", ...] math.fsum."""
        if isinstance(expr, str) and expr[0] in "glc":
            k = int(expr[1:])
            if expr[0] == "g":
                return graph.nodes[k].grad
            return graph.edges[k].local if expr[0] == "l" else graph.edges[k].carried
        if not isinstance(expr, list):
            return float(expr)
        if expr[0] == "*":
            return functools.reduce(operator.mul, (self.value(a, graph) for a in expr[1:]))
        return math.fsum(self.value(a, graph) for a in expr[1:])


class TaggedExplanation(Explanation):
    """An Explanation of tagged numbers whose total (the sum of its terms' products) is tagged."""

    @property
    def total(self) -> float:
        products = [t.product for t in self.terms]
        assert isinstance(self.grad, Tagged)  # made by Templates.explanation
        return self.grad.table.total(products) if products else 1.0


def expr_of(x: Any) -> Any:
    return x.expr if isinstance(x, Tagged) else number(float(x))


def rules() -> list[str]:
    """The names of the ops ``SCRIPT`` has a rule for (``**k``: ``x ** n`` for a constant n)."""
    return re.findall(r'^  "([^"]+)": \[', SCRIPT, flags=re.M)


def op_name(v: Any) -> str:
    """A node's op as the script's table names it: ``**k`` for ``x ** n``; '' for a leaf."""
    name = v.op
    return "**k" if name.startswith("**") and len(v.parents) == 1 else name


def model(graph: Graph, precision: int, color: bool) -> tuple[dict[str, Any] | None, str]:
    """(what the page's script needs to recompute ``graph``, "") or (None, why it cannot)."""
    known = set(rules())
    ops = [op_name(v) for v in graph.values]
    for v, op in zip(graph.values, ops):
        if v.primitive.custom or (op and op not in known):
            return None, f"values cannot be changed here: the op {v.op!r} has no rule in the page's script"
    index = {v: i for i, v in enumerate(graph.values)}
    order = [index[v] for v in topological_order(graph.values[graph.root])]
    data = {
        "op": ops,
        "arg": {i: float(v.op[2:]) for i, (v, op) in enumerate(zip(graph.values, ops)) if op == "**k"},
        "parents": [[e.parent for e in graph.edges_into(i)] for i in range(len(graph.nodes))],
        "name": [graph.place(i) for i in range(len(graph.nodes))],
        "data": [number(n.data) for n in graph.nodes],
        "grad": [number(n.grad) for n in graph.nodes],
        "local": [number(e.local) for e in graph.edges],
        "backward": order,
        "precision": precision,
        "color": color,
        "bins": [[low, fill, text] for low, fill, text, _ in BINS],
        "zero": ZERO_FILL,
    }
    return data, ""


SCRIPT = r"""var live = (function () {
  function Refused(message) { this.message = message; }
  function num(x) { return typeof x === "string" ? Number(x.replace("inf", "Infinity")) : x; }
  function show(x) {  // a number as Python's repr writes it, in messages
    return x === Infinity ? "inf" : x === -Infinity ? "-inf" : x !== x ? "nan"
      : Number.isInteger(x) && Math.abs(x) < 1e16 ? x.toFixed(1) : String(x);
  }

  // --- numbers as viz.style.fmt writes them (exactly: half to even, on the exact binary value) ---
  function exact(x) {  // |x| = digits / 10^decimals, exactly
    var view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, Math.abs(x));
    var hi = view.getUint32(0), e = (hi >>> 20) & 0x7ff;
    var m = (BigInt(hi & 0xfffff) << 32n) | BigInt(view.getUint32(4));
    if (e) m |= 1n << 52n; else e = 1;
    e -= 1075;
    return e >= 0 ? [(m << BigInt(e)).toString(), 0] : [(m * 5n ** BigInt(-e)).toString(), -e];
  }
  function roundTo(d, k, f) {  // the digits of d / 10^k rounded to f decimals (half to even)
    var cut = k - f;
    if (cut <= 0) return d + "0".repeat(-cut);
    var keep = d.length > cut ? d.slice(0, d.length - cut) : "0";
    var rest = d.length > cut ? d.slice(d.length - cut) : "0".repeat(cut - d.length) + d;
    var half = "5" + "0".repeat(cut - 1), n = BigInt(keep);
    if (rest > half || (rest === half && n % 2n === 1n)) n += 1n;
    return n.toString();
  }
  function fixed(digits, f) {  // an integer's digits as a number with f decimals
    if (f <= 0) return digits;
    digits = digits.padStart(f + 1, "0");
    return digits.slice(0, digits.length - f) + "." + digits.slice(digits.length - f);
  }
  function strip(s) { return s.indexOf(".") < 0 ? s : s.replace(/0+$/, "").replace(/\.$/, ""); }
  function fmt(x, p) {
    if (x === 0) return "0";
    if (!isFinite(x)) return show(x);
    var sign = x < 0 ? "-" : "", a = Math.abs(x), d = exact(x);
    if (Number("1e" + (3 - p)) <= a && a < 1) return sign + strip(fixed(roundTo(d[0], d[1], p), p));
    var X = d[0].length - d[1] - 1, r = roundTo(d[0], d[1], p - 1 - X);  // X: the leading digit's power
    if (r.length > p) r = roundTo(d[0], d[1], p - 1 - ++X);  // 9.99996 -> 10.00: one power more
    if (-4 <= X && X < p) return sign + strip(fixed(r, p - 1 - X));
    var e = Math.abs(X), mant = r.slice(0, p);
    return sign + strip(mant[0] + "." + mant.slice(1)) + "e" + (X < 0 ? "-" : "+") + (e < 10 ? "0" : "") + e;
  }

  // --- math.fsum (Shewchuk's exactly rounded sum, as CPython computes it); null where it raises ---
  function fsum(xs) {
    var partials = [], special = 0, inf = 0;
    for (var n = 0; n < xs.length; n++) {
      var x = xs[n], i = 0;
      if (!isFinite(x)) { special += x; if (x === x) inf += x; continue; }
      for (var j = 0; j < partials.length; j++) {
        var y = partials[j];
        if (Math.abs(x) < Math.abs(y)) { var t = x; x = y; y = t; }
        var hi = x + y, lo = y - (hi - x);
        if (lo !== 0) partials[i++] = lo;
        x = hi;
      }
      if (!isFinite(x)) return null;  // intermediate overflow
      partials.length = i;
      if (x !== 0) partials.push(x);
    }
    if (special !== 0) return inf !== inf ? null : special;
    var k = partials.length, sum = 0, low = 0;
    if (k > 0) {
      sum = partials[--k];
      while (k > 0) {
        var a = sum, b = partials[--k];
        sum = a + b;
        low = b - (sum - a);
        if (low !== 0) break;
      }
      if (k > 0 && ((low < 0 && partials[k - 1] < 0) || (low > 0 && partials[k - 1] > 0))) {
        var twice = low * 2, s2 = sum + twice;
        if (twice === s2 - sum) sum = s2;
      }
    }
    return sum;
  }
  function plainSum(xs) { var t = 0; xs.forEach(function (x) { t += x; }); return t; }

  // --- the op table: autograd.ops.OPS, forward rule and local derivatives side by side -----------
  function pow(a, b) {
    if (a < 0 && !Number.isInteger(b)) {
      throw new Refused("pow(): " + power(a, b) + " is undefined (negative base, exponent not an integer)");
    }
    if (a === 0 && b < 0) throw new Refused("pow(): " + power(a, b) + " divides by zero");
    var out = Math.pow(a, b);
    if (!isFinite(out) && isFinite(a) && isFinite(b)) {
      throw new Refused("pow(): " + power(a, b) + " overflows a float");
    }
    return out;
  }
  function power(a, b) { return (a < 0 ? "(" + show(a) + ")" : show(a)) + " ** " + show(b); }
  function step(x) { return x > 0 ? 1 : 0; }
  function sign(x) { return x > 0 ? 1 : x < 0 ? -1 : 0; }
  var RULES = {
  "+": [function (a, b) { return a + b; }, function () { return [1, 1]; }],
  "-": [function (a, b) { return a - b; }, function () { return [1, -1]; }],
  "*": [function (a, b) { return a * b; }, function (a, b) { return [b, a]; }],
  "/": [function (a, b) {
    if (b === 0) throw new Refused("division by zero: " + show(a) + " / " + show(b));
    return a / b;
  }, function (a, b, out) { return [1 / b, -out / b]; }],
  "**": [pow, function (a, b, out) {
    if (a < 0) {
      throw new Refused("pow(): the derivative of " + power(a, b) + " with respect to the exponent is " +
        "undefined (log of a negative base)");
    }
    if (a === 0 && b < 1 && b !== 0) {
      throw new Refused("pow(): the derivative of " + power(a, b) + " is infinite");
    }
    return [a !== 0 || b >= 1 ? b * Math.pow(a, b - 1) : 0, a !== 0 ? out * Math.log(a) : 0];
  }],
  "**k": [function (x, n) { return pow(x, n); }, function (x, n) {
    if (n === 0) return [0];
    if (x === 0 && n > 0 && n < 1) {
      throw new Refused("pow(): the derivative of " + power(x, n) + " is infinite");
    }
    return [n * Math.pow(x, n - 1)];
  }],
  "neg": [function (x) { return -x; }, function () { return [-1]; }],
  "exp": [function (x) {
    var out = Math.exp(x);
    if (out === Infinity && isFinite(x)) throw new Refused("exp() of " + show(x) + " overflows a float");
    return out;
  }, function (x, out) { return [out]; }],
  "log": [function (x) {
    if (x <= 0) throw new Refused("log() of " + show(x) + " is undefined");
    return Math.log(x);
  }, function (x) { return [1 / x]; }],
  "tanh": [Math.tanh, function (x, out) { return [1 - out * out]; }],
  "sigmoid": [function (x) {
    if (x >= 0) return 1 / (1 + Math.exp(-x));
    var e = Math.exp(x);
    return e / (1 + e);
  }, function (x, out) { return [out * (1 - out)]; }],
  "relu": [function (x) { return x <= 0 ? 0 : x; }, function (x) { return [step(x)]; }],
  "abs": [Math.abs, function (x) { return [sign(x)]; }],
  "sum": [function () {
    var xs = Array.prototype.slice.call(arguments), s = fsum(xs);
    return s === null ? plainSum(xs) : s;
  }, function () { return new Array(arguments.length - 1).fill(1); }],
  "max": [function () {
    var xs = Array.prototype.slice.call(arguments);
    for (var i = 0; i < xs.length; i++) if (xs[i] !== xs[i]) return xs[i];
    return Math.max.apply(null, xs);
  }, function () {
    var xs = Array.prototype.slice.call(arguments), out = xs.pop();
    var first = xs.findIndex(function (x) { return x === out || (out !== out && x !== x); });
    return xs.map(function (x, i) { return i === first ? 1 : 0; });
  }],
  };

  // --- the recomputation ----------------------------------------------------------------------------
  function Model(m) {
    this.m = m;
    this.child = []; this.first = [];  // edge k: its child; node i: its first edge
    for (var i = 0, k = 0; i < m.op.length; i++) {
      this.first.push(k);
      m.parents[i].forEach(function () { this.child.push(i); k++; }, this);
    }
    this.original = { data: m.data.map(num), grad: m.grad.map(num), local: m.local.map(num) };
    this.now = this.original;
  }
  Model.prototype.compute = function (leaf, value) {  // the numbers with one leaf changed, or Refused
    var m = this.m, data = this.now.data.slice(), local = [], grad = data.map(function () { return 0; });
    data[leaf] = value;
    for (var i = 0; i < m.op.length; i++) {
      var op = m.op[i];
      if (!op) continue;
      var rule = RULES[op], xs = m.parents[i].map(function (p) { return data[p]; });
      var args = op === "**k" ? [xs[0], m.arg[i]] : xs;
      var out;
      try {
        out = rule[0].apply(null, args);
        if (out !== out && !xs.some(function (x) { return x !== x; })) {
          throw new Refused(op + ": inputs [" + xs.map(show).join(", ") + "] give NaN");
        }
        var d = op === "**k" ? rule[1](xs[0], m.arg[i], out) : rule[1].apply(null, xs.concat([out]));
      } catch (e) {
        if (e instanceof Refused) e.message += " (at " + m.name[i] + ")";
        throw e;
      }
      data[i] = out;
      Array.prototype.push.apply(local, d);
    }
    var root = m.op.length - 1;
    grad[root] = 1;
    m.backward.forEach(function (i) {
      var g = grad[i], k = this.first[i];
      m.parents[i].forEach(function (p, slot) { grad[p] += local[k + slot] * g; });
    }, this);
    grad.forEach(function (g, i) {
      if (g !== g) throw new Refused("backward: the gradient of " + m.name[i] + " is NaN");
    });
    return { data: data, grad: grad, local: local };
  };
  Model.prototype.value = function (expr) {  // a caption's number: see viz.live.Templates.value
    var n = this.now, kind = Array.isArray(expr) || typeof expr === "string" ? expr[0] : null;
    if (kind === "g") return n.grad[+expr.slice(1)];
    if (kind === "l") return n.local[+expr.slice(1)];
    if (kind === "c") return n.grad[this.child[+expr.slice(1)]] * n.local[+expr.slice(1)];
    if (kind === "*") {  // left to right, as Python multiplied
      var product = this.value(expr[1]);
      for (var k = 2; k < expr.length; k++) product *= this.value(expr[k]);
      return product;
    }
    if (kind === "+") return fsum(expr.slice(1).map(this.value, this));
    return num(expr);
  };
  Model.prototype.colours = function (g) {  // viz.style.grad_colors: (fill, text colour)
    var a = Math.abs(g), bins = this.m.bins;
    if (a === 0 || a !== a) return [this.m.zero, "#000000"];
    for (var i = 0; i < bins.length; i++) if (a >= bins[i][0]) return [bins[i][1], bins[i][2]];
    return [bins[bins.length - 1][1], bins[bins.length - 1][2]];
  };
  var NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
  function parse(text) {  // a typed number, or Refused
    var t = text.trim();
    if (!t) throw new Refused("type a number, such as 0.5 or -2e-3");
    if (!NUMBER.test(t)) {
      throw new Refused("\u201c" + t + "\u201d is not a number: type one such as 0.5 or -2e-3");
    }
    var x = Number(t);
    if (!isFinite(x)) throw new Refused("\u201c" + t + "\u201d is too large for a float");
    return x;
  }
  return { Model: Model, Refused: Refused, fmt: fmt, fsum: fsum, parse: parse, num: num,
    rules: function () { return Object.keys(RULES); } };
})();
"""
