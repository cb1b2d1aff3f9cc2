"""Drawing benchmark: seconds to trace a 50,000-node graph and build its DOT source, full and
collapsed (building the source only: laying out 50,000 nodes is Graphviz's job, and slow); then the
size and write time of the step-by-step page for the worked example, MLP(2,[4,4,1]) and MLP(2,[8,8,1]).

    python tests/benchmarks/bench_draw.py [--neurons 1000] [--repeats 3]

The graph: ``neurons`` tanh neurons of 12 inputs each, with nn-style scopes, their outputs summed
in one long chain (about 50 nodes per neuron, so 1786 neurons give 50,019 nodes).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from autograd import Value
from autograd import sum as vsum
from nn import MLP
from nn.module import Scope
from nn.worked_example import worked_example
from viz import backprop_html, draw, trace
from viz.frames import backprop_steps


def _scoped(v: Value, scope: Scope, label: str) -> Value:
    v.scope, v.label = scope, label
    return v


def build(neurons: int) -> Value:
    """Neurons made by hand with the scope records nn gives its own (so collapsing finds them)."""
    xs = [Value(0.01 * i, label=f"x{i}") for i in range(12)]
    outs = []
    for j in range(neurons):
        layer, k = j // 100, j % 100
        n = Scope(f"layers.{layer}.neurons.{k}", (("layer", layer), ("neuron", k)))
        ws = [_scoped(Value(0.001 * (i + j)), n.with_role("weight", i), f"w{i}") for i in range(12)]
        terms = [
            _scoped(w * x, n.with_role("input", i), f"w{i}·x{i}") for i, (w, x) in enumerate(zip(ws, xs))
        ]
        bias = _scoped(Value(0.0), n.with_role("bias"), "b")
        total = _scoped(vsum(terms + [bias]), n.with_role("sum"), "Σ")
        outs.append(_scoped(total.tanh(), n.with_role("activation"), "tanh"))
    acc = outs[0]
    for o in outs[1:]:
        acc = acc + o
    acc.backward()
    return acc


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--neurons", type=int, default=1786)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    root = build(args.neurons)
    graph = trace(root)
    n_nodes, n_edges = len(graph.nodes), len(graph.edges)
    t_trace = timed(lambda: trace(root), args.repeats)
    t_full = timed(lambda: draw(root).source, args.repeats)
    t_collapsed = timed(lambda: draw(root, collapsed=True).source, args.repeats)
    full_len, collapsed_len = len(draw(root).source), len(draw(root, collapsed=True).source)
    print(f"graph: {n_nodes:,} nodes, {n_edges:,} edges ({args.neurons} neurons); median of {args.repeats}")
    print(f"  trace                    {t_trace:7.3f} s")
    print(f"  DOT source, full         {t_full:7.3f} s   ({full_len / 1e6:.1f} MB)")
    print(f"  DOT source, collapsed    {t_collapsed:7.3f} s   ({collapsed_len / 1e6:.2f} MB)")
    pages(args.repeats)


def pages(repeats: int) -> None:
    """The backprop page: one drawing plus the state of each step."""
    cases = {"worked example": worked_example()["E"]}
    for sizes in ([4, 4, 1], [8, 8, 1]):
        model = MLP(2, sizes, seed=0)
        loss = (1 - 1.0 * model([0.5, -0.3])).relu()  # hinge loss of one example, label +1
        loss.backward()
        cases[f"MLP(2, {sizes})"] = loss
    with tempfile.TemporaryDirectory() as folder:
        for name, root in cases.items():
            path = Path(folder) / "page.html"
            seconds = timed(lambda root=root, path=path: backprop_html(root, path), repeats)
            steps = len(backprop_steps(root).order)
            print(f"  page, {name:18} {steps:4} steps  {path.stat().st_size / 1e3:7.1f} kB  {seconds:6.3f} s")


if __name__ == "__main__":
    main()
