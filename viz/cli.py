"""The ``chainrule`` command: it demos, trains and draws.

chainrule demo                  the 2-2-2 worked example: every number, and its pictures
chainrule train moons           train an MLP on a bundled data set, print per-epoch metrics
chainrule draw model.json       draw a saved model's graph on one input
chainrule bench [--quick]       the benchmark suite (offered only in a clone of the repository)

Every failure is one line on stderr, ``chainrule: error: ...``, with exit status 2 for a usage
error and 1 otherwise; Ctrl-C ends with one line and status 130. ``CHAINRULE_TRACEBACK=1`` shows
the Python traceback instead (for bug reports).
"""

from __future__ import annotations

import argparse
import math
import os
import runpy
import sys
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import nn
from autograd import NumericError
from autograd import sum as vsum
from nn.worked_example import LR, worked_example

from . import cli_checks as checks
from .cli_parser import build_parser, command_parser
from .dot import DrawingTooBig
from .explain import explain
from .frames import backprop_html
from .render import FORMATS, find_renderer, render

TRACEBACK_ENV = "CHAINRULE_TRACEBACK"
DATASETS = ("xor", "moons", "spirals", "blobs", "digits")


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
    """Print every number of the worked example; with ``out``, also write its pictures there."""
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
        with checks.atomic_files() as pairs:
            tmp = [checks.temporary_beside(out / name, pairs) for name in names]
            for path in tmp[:2]:
                render(ex["E"], path, precision=8)
            backprop_html(ex["E"], tmp[2])
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


def _diverged(lr: float, when: str) -> checks.CommandError:
    return checks.CommandError(
        f"training diverged ({when}): the weights grew until the arithmetic gave inf or NaN; "
        f"try a smaller --lr (this run: {lr:g})"
    )


def _numeric_failure(e: Exception, model: nn.Module) -> bool:
    """A numeric failure (as fit classifies them: an ``autograd.NumericError``), or weights no
    longer finite: what a too-large step does, not a bug."""
    finite = all(math.isfinite(p.data) for p in model.parameters())
    return isinstance(e, NumericError) or not finite


def _all_finite(model: nn.Module, history: nn.History) -> bool:
    numbers = [p.data for p in model.parameters()] + [v for e in history.epochs for v in e.values()]
    return all(math.isfinite(x) for x in numbers)


def _fit(model: nn.Module, args: argparse.Namespace, loss: str, data: tuple) -> nn.History:
    """fit, with any numeric failure reported as divergence, whichever engine ran."""
    train_X, train_y, validation = data
    try:
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
            progress=sys.stderr.isatty(),  # a bar on a terminal; nothing in logs and pipes
            engine=args.engine,
        )
    except nn.TrainingDiverged as e:  # fit's every numeric failure, on either engine
        raise _diverged(args.lr, "while training") from e
    return history


def _evaluate(model: nn.Module, X: Any, y: Any, args: argparse.Namespace, loss: str) -> dict[str, float]:
    """The test split's scores; a library error here is one line naming what was being done.
    Weights that are finite but huge (1e299) can still overflow here: that too is divergence."""
    try:
        return nn.evaluate(model, X, y, loss=loss)
    except (ArithmeticError, ValueError) as e:
        if _numeric_failure(e, model):
            biggest = max(abs(p.data) for p in model.parameters())
            raise _diverged(args.lr, f"largest |weight| {biggest:.3g}, evaluating the test split") from e
        text = " ".join(str(e).split())
        text = text if len(text) <= 160 else text[:157] + "..."
        raise checks.CommandError(
            f"evaluating the trained model on the {len(X)} test examples failed ({type(e).__name__}: {text})"
        ) from e


def train(args: argparse.Namespace) -> None:
    """Train an MLP on a bundled data set and print what fit measured."""
    if args.save is not None:
        checks.output_file(args.save, "--save", (".json",))
    X, y = _dataset(args.dataset, args.seed)
    classes = int(max(y)) + 1
    binary = classes == 2
    sizes = [*args.hidden, 1 if binary else classes]
    checks.check_model_size(len(X[0]), sizes)
    model = nn.MLP(len(X[0]), sizes, activation="relu", seed=args.seed)
    loss = "bce_logits" if binary else "cross_entropy"
    train_X, train_y, validation, test_X, test_y = _splits(X, y, args.seed)
    print(f"{args.dataset}: {len(X)} examples, {classes} classes; {model}, loss {loss}, Adam lr {args.lr}")
    sys.stdout.flush()
    history = _fit(model, args, loss, (train_X, train_y, validation))
    for i, e in enumerate(history.epochs, 1):
        if i == 1 or i == len(history.epochs) or i % max(1, len(history.epochs) // 10) == 0:
            print(f"  epoch {i:4d}  " + "  ".join(f"{k} {v:.4f}" for k, v in e.items()))
    if not _all_finite(model, history):  # checked before evaluating: no library error on NaN weights
        raise _diverged(args.lr, f"after {len(history.epochs)} epochs")
    test = _evaluate(model, test_X, test_y, args, loss)
    print(
        f"engine {history.engine}: {sum(history.seconds):.2f} s in all; test loss {test['loss']:.4f}, "
        f"test accuracy {test['acc']:.2%}"
    )
    if args.save is not None:
        print(f"saved {nn.save(model, args.save)}")


def _load_model(path: Path) -> nn.Module:
    if not path.exists():
        raise checks.CommandError(f"{str(path)!r}: no such file")
    if path.is_dir():
        raise checks.CommandError(f"{str(path)!r} is a directory, not a model file")
    try:
        return nn.load(path)
    except nn.ModelFileError as e:
        raise checks.CommandError(str(e)) from None
    except OSError as e:
        raise checks.CommandError(f"cannot read {str(path)!r}: {e.strerror}") from None
    except (ValueError, RecursionError, MemoryError, OverflowError, TypeError, KeyError) as e:
        raise checks.CommandError(f"{str(path)!r} is not a usable model file ({type(e).__name__})") from None


def draw_model(args: argparse.Namespace) -> None:
    """Draw a saved model's graph on one input (collapsed to one box per neuron with --collapsed)."""
    checks.output_file(args.out, "--out", FORMATS)
    _renderers_for((args.out.suffix.lower(),))
    model = _load_model(args.model)
    nin = int(getattr(model, "nin", 0))
    if args.input is not None and len(args.input) != nin:
        raise checks.CommandError(f"--input: the model takes {nin} numbers, got {len(args.input)}", 2)
    out = model(args.input if args.input is not None else [0.5] * nin)
    root = vsum(out) if isinstance(out, list) else out
    root.label = "Σ outputs" if isinstance(out, list) else "output"
    root.backward()
    try:
        with checks.atomic_files() as pairs:
            render(root, checks.temporary_beside(args.out, pairs), collapsed=args.collapsed)
    except DrawingTooBig as e:  # the library's advice names its keyword; here it is an option
        too_many = str(e).split(":")[0]  # "the drawing has N nodes, over max_nodes=M"
        raise checks.CommandError(f"{too_many}; draw it with --collapsed (one box per neuron)") from None
    print(f"wrote {args.out}")


def bench_script() -> Path | None:
    """tests/benchmarks/run.py of the clone this package runs from, or None (an installed copy)."""
    root = Path(__file__).resolve().parents[1]
    script = root / "tests" / "benchmarks" / "run.py"
    project = root / "pyproject.toml"
    if script.is_file() and project.is_file() and 'name = "chainrule"' in project.read_text("utf-8"):
        return script
    return None


def bench(args: argparse.Namespace) -> int:
    """Run the benchmark suite of the clone this package was installed from."""
    script = bench_script()
    assert script is not None  # the parser offers bench only when the script is there
    saved = sys.argv
    sys.argv = [str(script)] + (["--quick"] if args.quick else [])
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 1
    finally:
        sys.argv = saved
    return 0


def _one_line(e: BaseException) -> str:
    """The exception as one line: its message and notes, newlines folded."""
    if isinstance(e, OSError) and e.strerror:
        text = f"{e.filename}: {e.strerror}" if e.filename else e.strerror
    else:
        text = str(e) or type(e).__name__
    if not isinstance(e, (checks.CommandError, nn.ModelFileError, nn.TrainingDiverged, OSError)):
        text = f"{type(e).__name__}: {text} (set {TRACEBACK_ENV}=1 to see the traceback)"
    notes = getattr(e, "__notes__", [])
    return " ".join([text, *notes]).replace("\n", " ")


def _one_line_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    """A warning (say, fit falling back to the eager engine) as one line, without the source line."""
    print(f"chainrule: warning: {message}".replace("\n", " "), file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        demo(None if args.no_pictures else args.out)
    elif args.command == "train":
        train(args)
    elif args.command == "draw":
        draw_model(args)
    elif args.command == "bench":
        return bench(args)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command; return its exit status (argparse exits itself for --help and usage errors)."""
    args_list = sys.argv[1:] if argv is None else argv
    parser = build_parser(DATASETS, bench_script() is not None)
    if args_list[:1] == ["bench"] and bench_script() is None:
        parser.error(
            "bench runs tests/benchmarks/run.py from a clone of the repository; this copy "
            "of chainrule was installed without it (git clone, then pip install -e .)"
        )
    args = parser.parse_args(args_list)
    if os.environ.get(TRACEBACK_ENV, "") not in ("", "0"):
        return _run(args)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning
            return _run(args)
    except KeyboardInterrupt:
        print("chainrule: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (chainrule demo | head): nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except checks.CommandError as e:
        if e.status == 2:
            command_parser(parser, args.command).print_usage(sys.stderr)
        print(f"chainrule: error: {e}", file=sys.stderr)
        return e.status
    except Exception as e:
        print(f"chainrule: error: {_one_line(e)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
