"""What the ``chainrule`` command checks before it starts any work, and how it writes its files.

The argument types turn the text of an option into a checked value (argparse reports their
``ArgumentTypeError`` as a usage error). The output checks look at a path before the work that
would fill it: a training run never ends by finding out that its ``--save`` path cannot be written.

The rule for output paths, the same for every command: chainrule creates the file you name (or,
for ``demo --out``, the directory you name), never a missing directory above it.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MAX_PARAMETERS = 1_000_000  # a scalar engine holds each parameter as a Python object
MAX_EPOCHS = 1_000_000  # far beyond any run the command is for; bigger ints overflow the progress bar
WHOLE_NUMBER = re.compile(r"-?[0-9]+")  # strict: no spaces, signs other than -, underscores or 1e3


class CommandError(Exception):
    """A failure the command reports as one line on stderr, with exit status ``status``."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def _integer(text: str, minimum: int, maximum: int | None = None) -> int:
    if not WHOLE_NUMBER.fullmatch(text):
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    n = int(text)
    if n < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {n}")
    if maximum is not None and n > maximum:
        raise argparse.ArgumentTypeError(f"must be at most {maximum:,}, got {n}")
    return n


def positive_int(text: str) -> int:
    """A whole number >= 1 (batch size)."""
    return _integer(text, 1)


def epochs(text: str) -> int:
    """A whole number of epochs, 1 to MAX_EPOCHS."""
    return _integer(text, 1, MAX_EPOCHS)


def seed_int(text: str) -> int:
    """A whole number >= 0 (random seeds: NumPy refuses negative ones)."""
    return _integer(text, 0)


def _finite(text: str) -> float:
    try:
        if text != text.strip() or "_" in text or text.startswith("+"):  # float() takes " 1", "1_0", "+1"
            raise ValueError(text)
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(x):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return x


def positive_float(text: str) -> float:
    """A finite number > 0 (the learning rate)."""
    x = _finite(text)
    if x <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text!r}")
    return x


def hidden_sizes(text: str) -> list[int]:
    """Comma-separated layer widths, each >= 1: ``16,16``. No empty item, no zero."""
    items = text.split(",")
    if any(not item for item in items):
        raise argparse.ArgumentTypeError(f"expected widths separated by commas, like 16,16; got {text!r}")
    try:
        return [_integer(item, 1) for item in items]
    except argparse.ArgumentTypeError as e:
        raise argparse.ArgumentTypeError(f"in {text!r}: {e}") from None


def path(text: str) -> Path:
    """A path as typed; an empty one is refused here (``Path("")`` would quietly mean ".")."""
    if not text:
        raise argparse.ArgumentTypeError("expected a path, got an empty one ('')")
    return Path(text)


def numbers(text: str) -> list[float]:
    """Comma-separated finite numbers: ``0.5,-1``."""
    try:
        return [_finite(item) for item in text.split(",")]
    except argparse.ArgumentTypeError as e:
        raise argparse.ArgumentTypeError(f"in {text!r}: {e}") from None


def check_model_size(nin: int, sizes: list[int]) -> None:
    """Refuse a model too big to hold as Python objects, before building it."""
    count = sum((fan_in + 1) * width for fan_in, width in zip([nin, *sizes], sizes))
    if count > MAX_PARAMETERS:
        raise CommandError(
            f"--hidden {','.join(map(str, sizes[:-1]))} makes {count:,} parameters; "
            f"the command trains at most {MAX_PARAMETERS:,}",
            status=2,
        )


def _writable_directory(directory: Path, option: str) -> None:
    """The directory exists, is a directory, and a file can be created in it."""
    if not directory.exists():
        raise CommandError(
            f"{option}: the directory {str(directory)!r} does not exist "
            "(chainrule creates the file you name, not the directories above it)"
        )
    if not directory.is_dir():
        raise CommandError(f"{option}: {str(directory)!r} is not a directory")
    try:
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".chainrule-probe-")
    except OSError as e:
        raise CommandError(f"{option}: cannot write in {str(directory)!r}: {e.strerror}") from None
    os.close(fd)
    os.unlink(probe)


def output_file(path: Path, option: str, suffixes: tuple[str, ...]) -> Path:
    """Check that ``path`` can become a file of one of ``suffixes`` (before any work)."""
    if path.is_dir():
        raise CommandError(f"{option}: {str(path)!r} is a directory; name a file inside it")
    if path.suffix.lower() not in suffixes:
        raise CommandError(
            f"{option}: cannot tell the format of {str(path)!r}: its name must end in {', '.join(suffixes)}",
            status=2,
        )
    _writable_directory(path.parent, option)
    return path


def output_directory(path: Path, option: str) -> Path:
    """Check that ``path`` is, or can be made as, a directory to write into (before any work)."""
    if path.exists() and not path.is_dir():
        raise CommandError(f"{option}: {str(path)!r} is a file, not a directory")
    _writable_directory(path if path.is_dir() else path.parent, option)
    return path


@contextmanager
def atomic_files() -> Iterator[list[tuple[Path, Path]]]:
    """Collect (temporary, final) path pairs; on success rename each temporary file to its final
    name, on any error or Ctrl-C delete them, so no half-written file is ever left behind."""
    pairs: list[tuple[Path, Path]] = []
    try:
        yield pairs
    except BaseException:
        for tmp, _ in pairs:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, final in pairs:
        os.replace(tmp, final)


def temporary_beside(final: Path, pairs: list[tuple[Path, Path]]) -> Path:
    """A short temporary name in ``final``'s directory, with its suffix (renderers read the suffix)."""
    tmp = final.with_name(f".chainrule-{os.getpid()}-{len(pairs)}{final.suffix}")
    pairs.append((tmp, final))
    return tmp
