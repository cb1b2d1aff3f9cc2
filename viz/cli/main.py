"""Running one command line: parse it, run the command, and report any failure as one line."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Any

import nn

from .commands import DATASETS, demo, draw_model, train
from .options import CommandError
from .parser import build_parser, command_parser

TRACEBACK_ENV = "CHAINRULE_TRACEBACK"


def _one_line(e: BaseException) -> str:
    """The exception as one line: its message and notes, newlines folded."""
    if isinstance(e, OSError) and e.strerror:
        text = f"{e.filename}: {e.strerror}" if e.filename else e.strerror
    else:
        text = str(e) or type(e).__name__
    if not isinstance(e, (CommandError, nn.ModelFileError, nn.TrainingDiverged, OSError)):
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
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command; return its exit status (argparse exits itself for --help and usage errors)."""
    parser = build_parser(DATASETS)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
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
    except CommandError as e:
        if e.status == 2:
            command_parser(parser, args.command).print_usage(sys.stderr)
        print(f"chainrule: error: {e}", file=sys.stderr)
        return e.status
    except Exception as e:
        print(f"chainrule: error: {_one_line(e)}", file=sys.stderr)
        return 1
