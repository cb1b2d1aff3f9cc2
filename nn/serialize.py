"""Save and load a model as a plain JSON file: format version, architecture, weights. Never pickle.

    {"format": "chainrule-model", "version": 1,
     "architecture": {"type": "MLP", "nin": 2, "sizes": [16, 16, 1], "activation": "relu", ...},
     "weights": [[[w0, w1, b], ...], ...]}       # layer -> neuron -> its weights, then its bias

Floats are written with Python's shortest exact repr, so save -> load round-trips bit for bit.
The save is atomic (``autograd.files``): the JSON goes to a temporary file in the same directory, is
flushed and fsynced, then ``os.replace`` puts it in place; a failure at any point leaves the old file
as it was, and a FIFO or a device is never replaced.

``load`` trusts nothing in the file: every field has an exact type, the architecture is checked
against the limits below and against the weights before any model is built, and whatever the
JSON holds, a bad file raises ``ModelFileError`` (a missing file stays a ``FileNotFoundError``).
"""

from __future__ import annotations

import json
import math
import os
import reprlib
from pathlib import Path
from typing import Any

from autograd import files
from autograd.arguments import positive_int

from .layers import MLP, Layer, Neuron
from .module import Module

FORMAT = "chainrule-model"
VERSION = 1
_TYPES: dict[str, type[MLP] | type[Layer] | type[Neuron]] = {"MLP": MLP, "Layer": Layer, "Neuron": Neuron}

# What a model file may hold. A scalar model of a million parameters already needs a few hundred MB
# of Values; the limits keep a small crafted file from asking for more before anything is checked.
MAX_FILE_BYTES = 64 * 2**20  # a million parameters take about 25 MB of JSON
MAX_PARAMETERS = 1_000_000
MAX_LAYERS = 1_000
MAX_WIDTH = 100_000  # inputs of a layer, or neurons in it
MAX_INT_DIGITS = 20  # longer integer literals are refused while parsing (no huge-int arithmetic)

# The architecture's fields, each with its exact JSON type; the others may be left out (defaults).
_FIELDS: dict[str, dict[str, type]] = {
    "MLP": {"nin": int, "sizes": list, "activation": str, "output_activation": str, "bias": bool},
    "Layer": {"nin": int, "nout": int, "activation": str, "bias": bool},
    "Neuron": {"nin": int, "activation": str, "bias": bool},
}
_REQUIRED = {"MLP": ("nin", "sizes"), "Layer": ("nin", "nout"), "Neuron": ("nin",)}
_repr = reprlib.Repr()  # a short repr of anything the file holds, safe at any nesting depth
_repr.maxlevel, _repr.maxlist, _repr.maxdict, _repr.maxstring, _repr.maxother = 3, 8, 8, 40, 40
_show = _repr.repr


class ModelFileError(ValueError):
    """A model file that cannot be read: truncated, corrupt, wrong version, wrong shape, over a limit."""


def _layers(model: MLP | Layer | Neuron) -> list[Layer | Neuron]:
    """The model's layers as a list (a lone Neuron counts as a layer of one)."""
    return [*model.layers] if isinstance(model, MLP) else [model]


def _rows(layer: Layer | Neuron) -> list[list[float]]:
    neurons = layer.neurons if isinstance(layer, Layer) else [layer]
    return [[p.data for p in n.parameters()] for n in neurons]


def to_dict(model: Module) -> dict[str, Any]:
    """The model as plain JSON-ready data (what ``save`` writes)."""
    kind = type(model).__name__
    if not isinstance(model, (MLP, Layer, Neuron)) or type(model) not in _TYPES.values():
        raise TypeError(
            f"save() handles MLP, Layer and Neuron, not {kind}; use model.state_dict() for others"
        )
    arch = {"type": kind, **model.config()}
    over = _over_limits(_shape(arch), arch["bias"])
    if over:  # never write a file that load would refuse
        raise ValueError(f"save(): {over}")
    return {
        "format": FORMAT,
        "version": VERSION,
        "architecture": arch,
        "weights": list(map(_rows, _layers(model))),
    }


def save(model: Module, path: str | os.PathLike) -> Path:
    """Write ``model`` to ``path`` as JSON, atomically (``autograd.files.write_atomic``). Returns the path.

    Through a symlink, the link's target is written. Re-saving keeps the file's permission bits.
    A missing or unwritable place, or a special file (FIFO, device), raises an OSError naming
    ``path``, and leaves everything as it was.
    """
    text = json.dumps(to_dict(model), allow_nan=False, indent=1)  # fails here, before any file is touched
    return files.write_atomic(path, text + "\n", "save the model")


def check_save_path(path: str | os.PathLike) -> Path:
    """The file ``save(model, path)`` will write (a symlink's target), once it is known that it can;
    else an OSError naming ``path``. Cheap: call it before training to fail early."""
    return files.check_writable(path, "save the model")


def check_architecture(nin: int, sizes: list[int], bias: bool = True) -> None:
    """Refuse, with a ValueError saying which limit, an MLP too big for a model file (the limits
    above), before it is built: a scalar model holds each parameter as a Python object."""
    widths = [positive_int("nin", nin)] + [positive_int(f"sizes[{i}]", n) for i, n in enumerate(sizes)]
    problem = _over_limits(list(zip(widths[:-1], widths[1:])), bias)
    if problem is not None:
        raise ValueError(problem)


def load(path: str | os.PathLike) -> Module:
    """Read a model written by ``save``. Raises ModelFileError saying what is wrong with the file."""
    path = Path(path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO nobody writes: no wait
    with os.fdopen(fd, "rb") as f:
        kind = files.special_kind(path, os.fstat(fd).st_mode)  # the file opened, not a name that may change
        if kind is not None:
            raise ModelFileError(f"{path}: it is {kind}, not a regular file; a model file is a regular file")
        raw = f.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise ModelFileError(f"{path}: larger than the limit of {MAX_FILE_BYTES:,} bytes for a model file")
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant, parse_int=_small_int)
    except ModelFileError as e:
        raise ModelFileError(f"{path}: {e}") from None
    except RecursionError:
        raise ModelFileError(f"{path}: not a model file (nested too deeply to read)") from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        hint = " (the file is empty)" if not raw.strip() else " (truncated or corrupt?)"
        raise ModelFileError(f"{path}: not valid JSON{hint}: {e}") from None
    return from_dict(data, str(path))


def _no_constant(name: str) -> None:
    raise ModelFileError(f"the file holds {name}, not a finite number")


def _small_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise ModelFileError(
            f"the file holds an integer of {len(digits)} characters (at most {MAX_INT_DIGITS})"
        )
    return int(digits)


def from_dict(data: Any, where: str = "model data") -> Module:
    """The model described by ``data`` (as made by ``to_dict``). Sizes are checked against the
    limits and the weights before anything is built; every problem is a ModelFileError."""
    _check_header(data, where)
    kind, kwargs = _architecture(data["architecture"], where)
    try:
        shape = _shape({"type": kind, **kwargs})
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"{where}: bad architecture {_show(data['architecture'])}: {e}") from None
    bias = kwargs.get("bias", True)
    over = _over_limits(shape, bias)
    if over:
        raise ModelFileError(f"{where}: {over}")
    layers = _weights(data["weights"], shape, bias, where)
    weights: Any = layers if kind == "MLP" else layers[0] if kind == "Layer" else layers[0][0]
    try:
        return _TYPES[kind](**kwargs, weights=weights)
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"{where}: bad architecture {_show(data['architecture'])}: {e}") from None


def _check_header(data: Any, where: str) -> None:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ModelFileError(f'{where}: not a chainrule model file (no "format": "{FORMAT}")')
    for key in ("version", "architecture", "weights"):
        if key not in data:
            raise ModelFileError(f"{where}: missing key {key!r}")
    extra = sorted(set(data) - {"format", "version", "architecture", "weights"})
    if extra:
        raise ModelFileError(f"{where}: unknown keys {_show(extra)}")
    version = data["version"]
    if type(version) is not int:
        raise ModelFileError(f"{where}: format version {_show(version)} is not an integer")
    if version != VERSION:
        raise ModelFileError(f"{where}: format version {version}; this chainrule reads version {VERSION}")


def _architecture(arch: Any, where: str) -> tuple[str, dict[str, Any]]:
    """The model type and its constructor arguments, each of its exact JSON type."""
    kind = arch.get("type") if isinstance(arch, dict) else None
    if not isinstance(kind, str) or kind not in _TYPES:
        raise ModelFileError(
            f"{where}: architecture must name a type among {sorted(_TYPES)}, got {_show(arch)}"
        )
    fields = _FIELDS[kind]
    kwargs = {k: v for k, v in arch.items() if k != "type"}
    for key, value in kwargs.items():
        if key not in fields:
            raise ModelFileError(f"{where}: bad architecture: {kind} has no field {_show(key)}")
        if type(value) is not fields[key]:  # exact: true is not 1, 1.0 is not 1
            raise ModelFileError(
                f"{where}: bad architecture: {key} must be {fields[key].__name__}, got {_show(value)}"
            )
    for key in _REQUIRED[kind]:
        if key not in kwargs:
            raise ModelFileError(f"{where}: bad architecture: {kind} needs {key!r}")
    if kind == "MLP" and not all(type(n) is int for n in kwargs["sizes"]):
        raise ModelFileError(
            f"{where}: bad architecture: sizes must hold integers, got {_show(kwargs['sizes'])}"
        )
    return kind, kwargs


def _shape(arch: dict[str, Any]) -> list[tuple[int, int]]:
    """(inputs, neurons) of each layer, the sizes checked as positive ints."""
    nin = positive_int("nin", arch["nin"])
    if arch["type"] == "Neuron":
        return [(nin, 1)]
    if arch["type"] == "Layer":
        return [(nin, positive_int("nout", arch["nout"]))]
    sizes = arch["sizes"]
    if not isinstance(sizes, list) or not sizes or len(sizes) > MAX_LAYERS:
        raise ValueError(f"sizes must be a list of 1 to {MAX_LAYERS} layer widths, got {_show(sizes)}")
    widths = [nin] + [positive_int(f"sizes[{i}]", n) for i, n in enumerate(sizes)]
    return list(zip(widths[:-1], widths[1:]))


def _over_limits(shape: list[tuple[int, int]], bias: bool) -> str | None:
    """What in the architecture is over the limits above, if anything."""
    for i, (nin, nout) in enumerate(shape):
        if max(nin, nout) > MAX_WIDTH:
            return f"layer {i} is {nin} -> {nout}, over the limit of {MAX_WIDTH:,} inputs or neurons"
    count = sum((nin + bias) * nout for nin, nout in shape)
    if count > MAX_PARAMETERS:
        return f"the architecture has {count:,} parameters, over the limit of {MAX_PARAMETERS:,}"
    return None


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _weights(weights: Any, shape: list[tuple[int, int]], bias: bool, where: str) -> list[list[list[float]]]:
    """The file's weights as floats, layer by layer, once each list has the architecture's length."""
    if not isinstance(weights, list) or len(weights) != len(shape):
        got = _count(len(weights), "layer") if isinstance(weights, list) else type(weights).__name__
        has = _count(len(shape), "layer")
        raise ModelFileError(f"{where}: weights hold {got}; the architecture has {has}")
    layers = []
    for i, (rows, (nin, nout)) in enumerate(zip(weights, shape)):
        if not isinstance(rows, list) or len(rows) != nout:
            got = f"{len(rows)} neurons" if isinstance(rows, list) else type(rows).__name__
            raise ModelFileError(f"{where}: layer {i} holds {got}; the architecture says {nout}")
        layers.append([_row(row, nin + bias, f"{where}: layer {i} neuron {j}") for j, row in enumerate(rows)])
    return layers


def _row(row: Any, n: int, where: str) -> list[float]:
    if not isinstance(row, list) or len(row) != n:
        got = f"{len(row)} numbers" if isinstance(row, list) else type(row).__name__
        raise ModelFileError(f"{where} holds {got}; the architecture says {n} (its weights, then its bias)")
    for k, v in enumerate(row):
        if type(v) not in (int, float) or not math.isfinite(v):
            raise ModelFileError(f"{where} entry {k} is {_show(v)}, not a number")
    return [float(v) for v in row]
