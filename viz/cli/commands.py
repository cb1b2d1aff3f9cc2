"""The command's three commands: ``demo``, ``train`` and ``draw``. Each checks its options and its
output paths before any work, then calls the library; what the library reports is passed on as it
says it, never re-checked or parsed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import nn
from autograd import NumericError, files
from autograd import sum as vsum
from nn.serialize import check_architecture
from nn.worked_example import LR, worked_example

from ..dot import DrawingTooBig, count_boxes, draw
from ..explain import explain
from ..frames import backprop_page
from ..render import FORMATS, find_renderer, render
from ..training import PAGE_NODES, training_page
from . import options as checks
from .options import CommandError

DATASETS = ("xor", "moons", "spirals", "blobs", "digits")
COLLAPSE_ABOVE = 300  # draw: a model whose full graph has more nodes is drawn one box per neuron
README_STYLE: dict[str, Any] = {"rankdir": "TB", "precision": 4}  # the look of the README figure


def _renderers_for(suffixes: Iterable[str]) -> None:
    """Fail now, not after the work, when no renderer can write one of these formats."""
    for suffix in suffixes:
        if suffix not in (".dot", ".gv"):
            try:
                find_renderer(suffix[1:])
            except (ValueError, RuntimeError) as e:
                raise checks.CommandError(str(e)) from None


def _print_worked_example(ex: dict, lr: float) -> None:
    def row(values: Iterable[float]) -> str:
        return ", ".join(f"{v:.8f}" for v in values)

    print("The 2-2-2 worked example: x = (0.1, 0.2), two sigmoid layers, E = sum 0.5 (t - o)^2")
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
    w = ex["w2"][0][0]  # named as the drawing and explain name it
    print(f"\nThe chain rule behind d{ex['E'].label}/d{w.label}:")
    print("  " + str(explain(w, precision=8)).replace("\n", "\n  "))


def demo(out: Path | None = Path("out"), lr: float = LR) -> None:
    """Print every number of the worked example; with ``out``, also write its pictures there
    (each file written atomically by the library: never half of one)."""
    if out is not None:
        checks.output_directory(out, "--out")
        _renderers_for((".svg", ".png"))
    ex = worked_example()
    _print_worked_example(ex, lr)
    if out is None:
        return
    names = ["worked_example.svg", "worked_example.png", "worked_example_backprop.html"]
    created = not out.exists()
    out.mkdir(exist_ok=True)
    try:
        drawing = draw(ex["E"], **README_STYLE)  # one layout, written as SVG and PNG
        for name in names[:2]:
            render(drawing, out / name)
        files.write_atomic(out / names[2], backprop_page(ex["E"], **README_STYLE), "write the page")
    except BaseException:
        if created and not any(out.iterdir()):
            out.rmdir()
        raise
    print("\nWrote " + ", ".join(str(out / name) for name in names))


def _dataset(name: str, seed: int) -> tuple[Any, Any]:
    loaders = {
        "xor": nn.datasets.xor,
        "moons": lambda: nn.datasets.moons(n=200, noise=0.1, seed=seed),
        "spirals": lambda: nn.datasets.spirals(n=100, classes=3, seed=seed),
        "blobs": lambda: nn.datasets.blobs(seed=seed),
        "digits": lambda: nn.datasets.digits(normalize=True),
    }
    return loaders[name]()


def _splits(X: Any, y: Any, seed: int) -> tuple[Any, Any, Any, Any, Any]:
    """Train X, y; validation pair or None; test X, y (arrays, which fit and evaluate take)."""
    if len(X) < 20:  # too few to split (xor): train and test on all of it
        return X, y, None, X, y
    (train_X, train_y), validation, (test_X, test_y) = nn.datasets.split(X, y, seed=seed)
    return train_X, train_y, validation, test_X, test_y


def _diverged(lr: float, when: str) -> CommandError:
    return CommandError(
        f"training diverged ({when}): the weights grew until the arithmetic gave inf or NaN; "
        f"try a smaller --lr (this run: {lr:g})"
    )


def _fit(model: nn.Module, args: argparse.Namespace, loss: str, data: tuple) -> nn.History:
    """fit, with its report of a numeric failure (on either engine) said as divergence. fit checks
    every loss and, after each epoch, every weight: what it returns is finite."""
    train_X, train_y, validation = data
    try:
        return nn.fit(
            model,
            train_X,
            train_y,
            loss=loss,
            optimizer=nn.Adam(model.parameters(), lr=args.lr),
            epochs=args.epochs,
            batch_size=args.batch_size,
            validation=validation,
            seed=args.seed,
            progress=sys.stderr.isatty(),  # a bar on a terminal; nothing in logs and pipes
            engine=args.engine,
        )
    except nn.TrainingDiverged as e:
        raise _diverged(args.lr, "while training") from e


def _watch(model: nn.Module, args: argparse.Namespace, loss: str, data: tuple) -> tuple[nn.History, str]:
    """``_fit`` by way of ``viz.training_page``, which trains epoch by epoch and writes the page;
    and the line that says so."""
    train_X, train_y, validation = data
    try:
        page = training_page(
            model, train_X, train_y, loss=loss, epochs=args.epochs,
            optimizer=nn.Adam(model.parameters(), lr=args.lr), example=args.watch_example,
            path=args.watch, title=f"{args.dataset}: watch {model} learn", batch_size=args.batch_size,
            seed=args.seed, engine=args.engine, validation=validation,
        )  # fmt: skip
    except nn.TrainingDiverged as e:
        raise _diverged(args.lr, "while training") from e
    except DrawingTooBig as e:
        raise CommandError(
            f"--watch: one example's graph has {e.nodes} nodes, over the {PAGE_NODES} a page can show; "
            "use smaller --hidden layers (8,8 draws about 250)",
            status=2,
        ) from None
    size = len(page.html.encode("utf-8"))
    note = f"; {page.sampled}" if page.sampled else ""
    return page.history, f"wrote {page.path} ({size / 1e6:.1f} MB, epochs 0 to {args.epochs}{note})"


def _evaluate(model: nn.Module, X: Any, y: Any, args: argparse.Namespace, loss: str) -> dict[str, float]:
    """The test split's scores. Weights that are finite but huge (1e299) can still overflow here:
    that too is divergence; any other library error is one line naming what was being done."""
    try:
        return nn.evaluate(model, X, y, loss=loss)
    except NumericError as e:
        biggest = max(abs(p.data) for p in model.parameters())
        raise _diverged(args.lr, f"largest |weight| {biggest:.3g}, evaluating the test split") from e
    except (ArithmeticError, ValueError) as e:
        text = " ".join(str(e).split())
        text = text if len(text) <= 160 else text[:157] + "..."
        raise CommandError(
            f"evaluating the trained model on the {len(X)} test examples failed ({type(e).__name__}: {text})"
        ) from e


def train(args: argparse.Namespace) -> None:
    """Train an MLP on a bundled data set and print what fit measured."""
    if args.save is not None:
        checks.output_file(args.save, "--save", (".json",))
    if args.watch is not None:
        checks.output_file(args.watch, "--watch", (".html",))
    X, y = _dataset(args.dataset, args.seed)
    classes = int(max(y)) + 1
    binary = classes == 2
    sizes = [*args.hidden, 1 if binary else classes]
    try:
        check_architecture(len(X[0]), sizes)
    except ValueError as e:  # nn.load would refuse the file it saves: refused before training
        raise CommandError(f"--hidden {','.join(map(str, args.hidden))}: {e}", status=2) from None
    model = nn.MLP(len(X[0]), sizes, activation="relu", seed=args.seed)
    loss = "bce_logits" if binary else "cross_entropy"
    train_X, train_y, validation, test_X, test_y = _splits(X, y, args.seed)
    if args.watch is not None and args.watch_example >= len(train_X):
        raise CommandError(
            f"--watch-example {args.watch_example}: the training split has {len(train_X)} examples "
            f"(0 to {len(train_X) - 1})",
            status=2,
        )
    print(f"{args.dataset}: {len(X)} examples, {classes} classes; {model}, loss {loss}, Adam lr {args.lr}")
    sys.stdout.flush()
    data = (train_X, train_y, validation)
    history, wrote = _watch(model, args, loss, data) if args.watch else (_fit(model, args, loss, data), "")
    for i, scores in enumerate(history.epochs, 1):
        if i == 1 or i == len(history.epochs) or i % max(1, len(history.epochs) // 10) == 0:
            print(f"  epoch {i:4d}  " + "  ".join(f"{k} {v:.4f}" for k, v in scores.items()))
    test = _evaluate(model, test_X, test_y, args, loss)
    print(
        f"engine {history.engine}: {sum(history.seconds):.2f} s in all; test loss {test['loss']:.4f}, "
        f"test accuracy {test['acc']:.2%}"
    )
    if wrote:
        print(wrote)
    if args.save is not None:
        print(f"saved {nn.save(model, args.save)}")


def _load_model(path: Path) -> nn.Module:
    """nn.load, its errors as one line: it refuses special files and every kind of bad file."""
    try:
        return nn.load(path)
    except nn.ModelFileError as e:
        raise CommandError(str(e)) from None
    except FileNotFoundError:
        raise CommandError(f"{str(path)!r}: no such file") from None
    except IsADirectoryError:
        raise CommandError(f"{str(path)!r} is a directory, not a model file") from None
    except OSError as e:
        raise CommandError(f"cannot read {str(path)!r}: {e.strerror}") from None


def draw_model(args: argparse.Namespace) -> None:
    """Draw a saved model's graph on one input: every node, or one box per neuron when the full
    graph has more than COLLAPSE_ABOVE nodes (said on stderr) or with --collapsed."""
    checks.output_file(args.out, "--out", FORMATS)
    _renderers_for((args.out.suffix.lower(),))
    model = _load_model(args.model)
    nin = int(getattr(model, "nin", 0))
    if args.input is not None and len(args.input) != nin:
        raise CommandError(f"--input: the model takes {nin} numbers, got {len(args.input)}", 2)
    out = model(args.input if args.input is not None else [0.5] * nin)
    root = vsum(out) if isinstance(out, list) else out
    root.label = "Σ outputs" if isinstance(out, list) else "output"
    root.backward()
    collapsed = args.collapsed
    if not collapsed and not args.full:
        full, small = count_boxes(root, False), count_boxes(root, True)
        if full > COLLAPSE_ABOVE and small < full:
            collapsed = True
            print(
                f"chainrule: drawing one box per neuron: every node would be {full} boxes, over "
                f"{COLLAPSE_ABOVE} (--full draws them all)",
                file=sys.stderr,
            )
    try:
        render(root, args.out, collapsed=collapsed)
    except DrawingTooBig as e:  # the library's advice names its keyword; here it is an option
        advice = "draw it without --full" if e.collapsed_nodes is not None else "no option makes it smaller"
        raise CommandError(
            f"the drawing has {e.nodes} nodes, over the {e.limit} that can be laid out in seconds; {advice}"
        ) from None
    print(f"wrote {args.out}")
