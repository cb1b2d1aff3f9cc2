"""The ``chainrule`` command: it demos, trains and draws.

chainrule demo                  the worked example of seed 000: every number, and its pictures
chainrule train moons           train an MLP on a bundled data set, print per-epoch metrics
chainrule draw model.json       draw a saved model's graph on one input
chainrule bench [--quick]       the benchmark suite (from a clone of the repository)
"""

from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

from autograd import sum as vsum
from nn.worked_example import LR, worked_example


def demo(out: Path | None = Path("out"), lr: float = LR) -> None:
    """Print every number of the worked example; with ``out``, also write its pictures there."""
    ex = worked_example()

    def row(values) -> str:
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
    print("\nThe chain rule behind dE/dw5 (w2[0][0]):")
    from .explain import explain

    print("  " + str(explain(ex["w2"][0][0], precision=8)).replace("\n", "\n  "))
    if out is not None:
        from .frames import backprop_html
        from .render import render

        written = [render(ex["E"], out / f"worked_example.{fmt}", precision=8) for fmt in ("svg", "png")]
        written.append(backprop_html(ex["E"], out / "worked_example_backprop.html"))
        print("\nWrote " + ", ".join(str(p) for p in written))


def train(args: argparse.Namespace) -> None:
    """Train an MLP on a bundled data set and print what fit measured."""
    import nn

    loaders = {
        "xor": nn.datasets.xor,
        "moons": lambda: nn.datasets.moons(n=200, noise=0.1, seed=args.seed),
        "spirals": lambda: nn.datasets.spirals(n=100, classes=3, seed=args.seed),
        "blobs": lambda: nn.datasets.blobs(seed=args.seed),
        "digits": lambda: nn.datasets.digits(normalize=True),
    }
    X, y = loaders[args.dataset]()
    classes = int(max(y)) + 1
    hidden = [int(h) for h in args.hidden.split(",") if h] if args.hidden else [16, 16]
    binary = classes == 2
    model = nn.MLP(len(X[0]), hidden + [1 if binary else classes], activation="relu", seed=args.seed)
    loss = "bce_logits" if binary else "cross_entropy"
    if len(X) >= 20:
        (train_X, train_y), validation, (test_X, test_y) = nn.datasets.split(X, y, seed=args.seed)
    else:  # too few to split (xor): train and test on all of it
        train_X, train_y, validation, test_X, test_y = X, y, None, X, y
    print(f"{args.dataset}: {len(X)} examples, {classes} classes; {model}, loss {loss}, Adam lr {args.lr}")
    history = nn.fit(
        model,
        train_X,
        train_y,
        loss=loss,
        optimizer=nn.Adam(model.parameters(), lr=args.lr),
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation=validation,
        seed=args.seed,
        progress=True,
        engine=args.engine,
    )
    for i, e in enumerate(history.epochs, 1):
        if i == 1 or i == len(history) or i % max(1, len(history) // 10) == 0:
            print(f"  epoch {i:4d}  " + "  ".join(f"{k} {v:.4f}" for k, v in e.items()))
    test = nn.evaluate(model, test_X, test_y, loss=loss)
    print(
        f"engine {history.engine}: {sum(history.seconds):.2f} s in all; test loss {test['loss']:.4f}, "
        f"test accuracy {test['acc']:.2%}"
    )
    if args.save:
        print(f"saved {nn.save(model, args.save)}")


def draw_model(args: argparse.Namespace) -> None:
    """Draw a saved model's graph on one input (collapsed to one box per neuron with --collapsed)."""
    import nn

    from .render import render

    model = nn.load(args.model)
    x = [float(v) for v in args.input.split(",")] if args.input else [0.5] * model.nin
    out = model(x)
    root = vsum(out) if isinstance(out, list) else out
    root.label = "output" if not isinstance(out, list) else "Σ outputs"
    root.backward()
    print(f"wrote {render(root, args.out, collapsed=args.collapsed)}")


def bench(args: argparse.Namespace) -> int:
    """Run tests/benchmarks/run.py from the repository this package was installed from."""
    script = Path(__file__).resolve().parents[1] / "tests" / "benchmarks" / "run.py"
    if not script.is_file():
        print(
            "chainrule bench needs a clone of the repository (tests/benchmarks/run.py was not found "
            f"next to {Path(__file__).resolve().parent}); install it with pip install -e .",
            file=sys.stderr,
        )
        return 2
    saved = sys.argv
    sys.argv = [str(script)] + (["--quick"] if args.quick else [])
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as e:
        return int(e.code or 0)
    finally:
        sys.argv = saved
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chainrule", description="See backpropagation work.")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("demo", help="the worked example: every number, and its pictures")
    p.add_argument("--out", type=Path, default=Path("out"), help="where to write the pictures (default: out)")
    p.add_argument("--no-pictures", action="store_true", help="print the numbers only")
    p = commands.add_parser("train", help="train an MLP on a bundled data set")
    p.add_argument("dataset", choices=["xor", "moons", "spirals", "blobs", "digits"])
    p.add_argument("--hidden", default="", help="hidden layer sizes, e.g. 32,32 (default 16,16)")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=None, help="default: full batch")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--engine", choices=["auto", "eager", "tape"], default="auto")
    p.add_argument("--save", type=Path, help="save the trained model (JSON)")
    p = commands.add_parser("draw", help="draw a saved model's graph on one input")
    p.add_argument("model", type=Path)
    p.add_argument("--input", help="comma-separated input numbers (default: 0.5 each)")
    p.add_argument("--out", type=Path, default=Path("model.svg"), help=".svg, .png, .pdf or .dot")
    p.add_argument("--collapsed", action="store_true", help="one box per neuron")
    p = commands.add_parser("bench", help="the benchmark suite (needs a clone of the repository)")
    p.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "demo":
        demo(None if args.no_pictures else args.out)
    elif args.command == "train":
        train(args)
    elif args.command == "draw":
        draw_model(args)
    elif args.command == "bench":
        return bench(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
