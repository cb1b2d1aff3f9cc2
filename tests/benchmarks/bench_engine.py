"""Eager-engine benchmark: ns per op forward and backward on a 100,000-op expression, against
micrograd 0.1.0 measured in the same process (medians of interleaved runs, garbage collector on).

    python tests/benchmarks/bench_engine.py [--repeats 5] [--terms 25000]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time

import autograd


def build(value_cls, terms: int, seed: int = 0):
    """sum over i of relu(a_i * b_i + c_i), reduced as a balanced tree: 4 * terms - 1 ops, wide and
    shallow (micrograd's recursive topological sort cannot take a deep one)."""
    rng = random.Random(seed)
    leaves = [value_cls(rng.uniform(-1, 1)) for _ in range(3 * terms)]
    t0 = time.perf_counter()
    level = [(leaves[3 * i] * leaves[3 * i + 1] + leaves[3 * i + 2]).relu() for i in range(terms)]
    while len(level) > 1:
        nxt = [level[i] + level[i + 1] for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0], time.perf_counter() - t0


def measure(value_cls, terms: int) -> tuple[float, float]:
    root, forward = build(value_cls, terms)
    t0 = time.perf_counter()
    root.backward()
    backward = time.perf_counter() - t0
    ops = 4 * terms - 1
    del root
    return forward / ops * 1e9, backward / ops * 1e9


def engines() -> dict:
    found = {"chainrule": autograd.Value}
    try:
        from micrograd.engine import Value as MicrogradValue

        found["micrograd 0.1.0"] = MicrogradValue
    except ImportError:
        pass
    return found


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--terms", type=int, default=25_000)
    args = parser.parse_args(argv)
    found = engines()
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in found}
    for _ in range(args.repeats):  # interleaved, so both see the same machine load
        for name, cls in found.items():
            runs[name].append(measure(cls, args.terms))
            gc.collect()
    table = {
        name: (statistics.median(f for f, _ in r), statistics.median(b for _, b in r)) for name, r in runs.items()
    }
    ops = 4 * args.terms - 1
    print(f"{ops:,}-op expression, median of {args.repeats} interleaved runs, GC on")
    print(f"{'engine':<18}{'forward ns/op':>15}{'backward ns/op':>16}")
    for name, (f, b) in table.items():
        print(f"{name:<18}{f:>15.0f}{b:>16.0f}")
    if "micrograd 0.1.0" in table:
        (cf, cb), (mf, mb) = table["chainrule"], table["micrograd 0.1.0"]
        print(f"chainrule is {mf / cf:.1f}x faster forward and {mb / cb:.2f}x as fast backward as micrograd")
    else:
        print("micrograd not installed (pip install -e '.[dev]'): no ratio")
    return table


if __name__ == "__main__":
    main()
