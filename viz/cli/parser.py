"""The ``chainrule`` command line: its options, their help and defaults, and examples per command."""

from __future__ import annotations

import argparse
import sys
from importlib import metadata
from pathlib import Path
from typing import NoReturn

from ..training import MAX_FRAMES
from . import options as checks
from .commands import COLLAPSE_ABOVE


class Parser(argparse.ArgumentParser):
    """argparse, with every error as ``chainrule: error: ...`` after a one-line usage."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"chainrule: error: {message}\n")


class _Help(argparse.RawDescriptionHelpFormatter):
    """Keep the examples' line breaks."""


def version() -> str:
    try:
        return metadata.version("chainrule")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _command(
    commands: argparse._SubParsersAction, name: str, usage: str, about: str, examples: str
) -> Parser:
    return commands.add_parser(
        name,
        usage=f"chainrule {name} {usage}",
        help=about,
        description=about,
        epilog="examples:\n" + examples,
        formatter_class=_Help,
    )


def _demo(commands: argparse._SubParsersAction) -> None:
    p = _command(
        commands,
        "demo",
        "[--out DIR | --no-pictures]",
        "the 2-2-2 worked example: every number, the chain rule behind one gradient, and its pictures",
        "  chainrule demo                    # numbers, and out/worked_example.{svg,png}, *_backprop.html\n"
        "  chainrule demo --out pictures     # the pictures go to pictures/ (created if missing)\n"
        "  chainrule demo --no-pictures      # the numbers only\n",
    )
    p.add_argument(
        "--out",
        type=checks.path,
        default=Path("out"),
        metavar="DIR",
        help="directory for the pictures; created if missing, its parent must exist (default: out)",
    )
    p.add_argument("--no-pictures", action="store_true", help="print the numbers only (default: off)")


def _train(commands: argparse._SubParsersAction, datasets: tuple[str, ...]) -> None:
    p = _command(
        commands,
        "train",
        "DATASET [options]",
        "train an MLP (ReLU hidden layers, Adam) on a bundled data set; print its metrics",
        "  chainrule train xor --hidden 8 --epochs 300 --lr 0.05\n"
        "  chainrule train moons --epochs 100 --lr 0.05 --save moons.json\n"
        "  chainrule train digits --hidden 32 --epochs 20 --batch-size 32\n"
        "  chainrule train moons --hidden 8,8 --epochs 100 --lr 0.05 --watch moons.html\n",
    )
    p.add_argument(
        "dataset",
        choices=datasets,
        metavar="DATASET",
        help=f"one of {', '.join(datasets)} (no download; moons, spirals and blobs drawn from --seed)",
    )
    p.add_argument(
        "--hidden",
        type=checks.hidden_sizes,
        default=[16, 16],
        metavar="N,N",
        help="hidden layer widths, comma-separated (default: 16,16)",
    )
    p.add_argument(
        "--epochs",
        type=checks.epochs,
        default=50,
        help=f"passes over the data, at most {checks.MAX_EPOCHS:,} (default: 50)",
    )
    p.add_argument(
        "--batch-size",
        type=checks.positive_int,
        default=None,
        metavar="N",
        help="examples per step, shuffled each epoch (default: the whole training set)",
    )
    p.add_argument(
        "--lr", type=checks.positive_float, default=0.01, help="Adam's learning rate (default: 0.01)"
    )
    p.add_argument(
        "--seed",
        type=checks.seed_int,
        default=0,
        metavar="N",
        help="seed for the data, the split, the weights and the shuffling (default: 0)",
    )
    p.add_argument(
        "--engine",
        choices=("auto", "eager", "tape"),
        default="auto",
        help="auto: the batch tape when the model traces; eager: Value by Value (default: auto)",
    )
    p.add_argument(
        "--save",
        type=checks.path,
        metavar="FILE.json",
        help="save the trained model as JSON (default: not saved)",
    )
    _watch(p)


def _watch(p: Parser) -> None:
    p.add_argument(
        "--watch",
        type=checks.path,
        metavar="FILE.html",
        help="write a page that shows the network learn, epoch by epoch: one example's graph with "
        "every value and gradient, the loss curve and, for 2-D data, the decision boundary; "
        f"at most {MAX_FRAMES} epochs recorded, evenly spaced, said on the page (default: no page)",
    )
    p.add_argument(
        "--watch-example",
        type=checks.seed_int,
        default=0,
        metavar="N",
        help="with --watch: which example of the training split the page draws, from 0 (default: 0)",
    )


def _draw(commands: argparse._SubParsersAction) -> None:
    p = _command(
        commands,
        "draw",
        "MODEL.json [options]",
        "draw a saved model's graph on one input: every value and gradient",
        "  chainrule draw moons.json                          # model.svg, input 0.5 for each feature\n"
        "  chainrule draw xor.json --full --out xor.png       # every node, even over the size\n"
        "  chainrule draw moons.json --input 1,-0.5 --out moons.png\n"
        "  chainrule draw digits.json --collapsed --out digits.svg\n",
    )
    p.add_argument(
        "model", type=checks.path, metavar="MODEL.json", help="a model file written by train --save"
    )
    p.add_argument(
        "--input",
        type=checks.numbers,
        default=None,
        metavar="X,X",
        help="the input, one number per feature, comma-separated (default: 0.5 for each)",
    )
    p.add_argument(
        "--out",
        type=checks.path,
        default=Path("model.svg"),
        metavar="FILE",
        help="the picture; .svg, .png, .pdf or .dot, its directory must exist (default: model.svg)",
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument(
        "--collapsed",
        action="store_true",
        help="one box per neuron (default: every node, unless that is over "
        f"{COLLAPSE_ABOVE} boxes: then one box per neuron, said on stderr)",
    )
    size.add_argument(
        "--full", action="store_true", help="every node, however many (default: see --collapsed)"
    )


def build_parser(datasets: tuple[str, ...]) -> Parser:
    """The whole command line."""
    parser = Parser(
        prog="chainrule",
        description="See backpropagation work: a scalar autograd engine whose graph you can draw.",
        epilog="examples:\n  chainrule demo\n  chainrule train moons --save moons.json\n"
        "  chainrule draw moons.json --out moons.png\n\n"
        "Errors are one line; set CHAINRULE_TRACEBACK=1 to see a Python traceback instead.",
        formatter_class=_Help,
    )
    parser.add_argument("--version", action="version", version=f"chainrule {version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    _demo(commands)
    _train(commands, datasets)
    _draw(commands)
    return parser


def command_parser(parser: Parser, name: str) -> argparse.ArgumentParser:
    """The sub-parser of command ``name`` (for its usage line), or ``parser`` itself."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and name in action.choices:
            return action.choices[name]
    return parser
