"""The ``chainrule`` command: ``chainrule demo`` runs the worked example of the seed article."""

from __future__ import annotations

import argparse
import sys

from autograd import Value, sum as vsum

# The worked example (seeds/000): a 2-2-2 sigmoid network, no biases, E = sum of 0.5 * (t - o)^2.
X = (0.1, 0.2)
W1 = ((0.3, 0.25), (0.4, 0.35))  # row i: the weights into hidden unit i
W2 = ((0.45, 0.4), (0.7, 0.6))
T = (0.4, 0.6)


def worked_example() -> dict:
    """Build the worked example from plain Values, run backward, return its named Values."""
    x = [Value(v, label=f"x{i + 1}") for i, v in enumerate(X)]
    w1 = [[Value(w, label=f"w1[{i}][{j}]") for j, w in enumerate(row)] for i, row in enumerate(W1)]
    w2 = [[Value(w, label=f"w2[{i}][{j}]") for j, w in enumerate(row)] for i, row in enumerate(W2)]
    z = [vsum(w * xi for w, xi in zip(row, x)) for row in w1]
    h = [zi.sigmoid() for zi in z]
    o = [vsum(w * hi for w, hi in zip(row, h)).sigmoid() for row in w2]
    errors = [0.5 * (t - oi) ** 2 for t, oi in zip(T, o)]
    total = vsum(errors)
    for name, group in (("z", z), ("h", h), ("o", o), ("E", errors)):
        for i, v in enumerate(group):
            v.label = f"{name}{i + 1}"
    total.label = "E_total"
    total.backward()
    return {"x": x, "w1": w1, "w2": w2, "z": z, "h": h, "o": o, "errors": errors, "E": total}


def demo(lr: float = 0.5) -> None:
    ex = worked_example()

    def row(values):
        return ", ".join(f"{v:.8f}" for v in values)

    print("The worked example of seeds/000: x = (0.1, 0.2), a 2-2-2 sigmoid network, E = sum 0.5 (t - o)^2")
    print(f"  z (hidden pre-activation)  {row(v.data for v in ex['z'])}")
    print(f"  h (hidden output)          {row(v.data for v in ex['h'])}")
    print(f"  o (network output)         {row(v.data for v in ex['o'])}")
    print(f"  per-output error           {row(v.data for v in ex['errors'])}")
    print(f"  total error E              {ex['E'].data:.8f}")
    for name in ("w2", "w1"):
        print(f"  dE/d{name}                    {' | '.join(row(w.grad for w in r) for r in ex[name])}")
    for name in ("w2", "w1"):
        updated = [[w.data - lr * w.grad for w in r] for r in ex[name]]
        print(f"  {name} after SGD, lr {lr}      {' | '.join(row(r) for r in updated)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chainrule", description="See backpropagation work.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run the worked example and print every number")
    args = parser.parse_args(argv)
    if args.command == "demo":
        demo()
    return 0


if __name__ == "__main__":
    sys.exit(main())
