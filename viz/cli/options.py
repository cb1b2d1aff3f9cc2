"""What the command checks before it starts any work: the text of each option, and its output paths.

The argument types turn an option's text into a value checked by the library's own checks
(``autograd.arguments``); argparse reports their ``ArgumentTypeError`` as a usage error. The text
is read strictly first: no spaces, no ``+``, no underscores, no ``1e3`` for a whole number.

Output paths are checked before the work that fills them (``autograd.files.check_writable``, which
the library's atomic writes use too): a training run never ends by finding out that its ``--save``
path cannot be written. The rule, the same for every command: chainrule creates the file you name
(or, for ``demo --out``, the directory you name), never a missing directory above it.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from autograd import arguments, files

MAX_EPOCHS = 1_000_000  # far beyond any run the command is for; bigger ints overflow the progress bar
WHOLE_NUMBER = re.compile(r"-?[0-9]+")  # strict: no spaces, signs other than -, underscores or 1e3
NUMBER = re.compile(r"-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?|-?(inf|nan|infinity)", re.IGNORECASE)

T = TypeVar("T")


class CommandError(Exception):
    """A failure the command reports as one line on stderr, with exit status ``status``."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def _checked(check: Callable[..., T], value: Any, **bounds: Any) -> T:
    """``check("it", value, ...)`` with its error as argparse's (which names the option itself)."""
    try:
        return check("it", value, **bounds)
    except (TypeError, ValueError) as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("it ")) from None


def _whole(text: str, minimum: int) -> int:
    if not WHOLE_NUMBER.fullmatch(text):
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    return _checked(arguments.integer, int(text), minimum=minimum)


def _number(text: str) -> float:
    if not NUMBER.fullmatch(text):
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    return _checked(arguments.real, float(text))  # refuses nan and inf, as every rate is refused


def positive_int(text: str) -> int:
    """A whole number >= 1 (batch size)."""
    return _whole(text, 1)


def epochs(text: str) -> int:
    """A whole number of epochs, 1 to MAX_EPOCHS."""
    n = _whole(text, 1)
    if n > MAX_EPOCHS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_EPOCHS:,}, got {n}")
    return n


def seed_int(text: str) -> int:
    """A whole number >= 0 (random seeds: NumPy refuses negative ones)."""
    return _whole(text, 0)


def positive_float(text: str) -> float:
    """A finite number > 0 (the learning rate)."""
    return _checked(arguments.real, _number(text), minimum=0.0, strict_min=True)


def hidden_sizes(text: str) -> list[int]:
    """Comma-separated layer widths, each >= 1: ``16,16``. No empty item, no zero."""
    items = text.split(",")
    if any(not item for item in items):
        raise argparse.ArgumentTypeError(f"expected widths separated by commas, like 16,16; got {text!r}")
    try:
        return [_whole(item, 1) for item in items]
    except argparse.ArgumentTypeError as e:
        raise argparse.ArgumentTypeError(f"in {text!r}: {e}") from None


def numbers(text: str) -> list[float]:
    """Comma-separated finite numbers: ``0.5,-1``."""
    try:
        return [_number(item) for item in text.split(",")]
    except argparse.ArgumentTypeError as e:
        raise argparse.ArgumentTypeError(f"in {text!r}: {e}") from None


def path(text: str) -> Path:
    """A path as typed; an empty one is refused here (``Path("")`` would quietly mean ".")."""
    if not text:
        raise argparse.ArgumentTypeError("expected a path, got an empty one ('')")
    return Path(text)


def _directory_exists(directory: Path, option: str) -> None:
    if not directory.exists():
        raise CommandError(
            f"{option}: the directory {str(directory)!r} does not exist "
            "(chainrule creates the file you name, not the directories above it)"
        )


def output_file(path: Path, option: str, suffixes: tuple[str, ...]) -> Path:
    """Check that ``path`` can become a file of one of ``suffixes``, before any work."""
    if path.suffix.lower() not in suffixes and not path.is_dir():
        raise CommandError(
            f"{option}: cannot tell the format of {str(path)!r}: its name must end in {', '.join(suffixes)}",
            status=2,
        )
    _directory_exists(path.parent, option)
    try:
        files.check_writable(path, "write")
    except OSError as e:
        raise CommandError(f"{option}: {e}") from None
    return path


def output_directory(path: Path, option: str) -> Path:
    """Check that ``path`` is, or can be made as, a directory to write into, before any work."""
    if path.exists() and not path.is_dir():
        raise CommandError(f"{option}: {str(path)!r} is a file, not a directory")
    _directory_exists(path.parent, option)
    try:
        files.check_writable(path / "probe" if path.is_dir() else path, "write")
    except OSError as e:
        raise CommandError(f"{option}: {e}") from None
    return path
