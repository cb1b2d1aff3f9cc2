"""Save and load a model as a plain JSON file: format version, architecture, weights. Never pickle.

    {"format": "chainrule-model", "version": 1,
     "architecture": {"type": "MLP", "nin": 2, "sizes": [16, 16, 1], "activation": "relu", ...},
     "weights": [[[w0, w1, b], ...], ...]}       # layer -> neuron -> its weights, then its bias

Floats are written with Python's shortest exact repr, so save -> load round-trips bit for bit.
The save is atomic: the JSON goes to a temporary file in the same directory, is flushed and
fsynced, then ``os.replace`` puts it in place; a failure at any point leaves the old file as it was.
"""

from __future__ import annotations

import json
import math
import os
import secrets
from pathlib import Path
from typing import Any

from .layers import MLP, Layer, Neuron
from .module import Module

FORMAT = "chainrule-model"
VERSION = 1
_TYPES = {"MLP": MLP, "Layer": Layer, "Neuron": Neuron}


class ModelFileError(ValueError):
    """A model file that cannot be read: truncated, corrupt, wrong version or wrong shape."""


def _layers(model: Module) -> list[Layer | Neuron]:
    """The model's layers as a list (a lone Neuron counts as a layer of one)."""
    return model.layers if isinstance(model, MLP) else [model]


def _rows(layer: Layer | Neuron) -> list[list[float]]:
    neurons = layer.neurons if isinstance(layer, Layer) else [layer]
    return [[p.data for p in n.parameters()] for n in neurons]


def to_dict(model: Module) -> dict[str, Any]:
    """The model as plain JSON-ready data (what ``save`` writes)."""
    kind = type(model).__name__
    if type(model) not in _TYPES.values():
        raise TypeError(
            f"save() handles MLP, Layer and Neuron, not {kind}; use model.state_dict() for others"
        )
    return {
        "format": FORMAT,
        "version": VERSION,
        "architecture": {"type": kind, **model.config()},
        "weights": [_rows(layer) for layer in _layers(model)],
    }


def save(model: Module, path: str | os.PathLike) -> Path:
    """Write ``model`` to ``path`` as JSON, atomically. Returns the path."""
    path = Path(path)
    text = json.dumps(to_dict(model), allow_nan=False, indent=1)  # fails here, before any file is touched
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # 0o666 less the umask
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX); skipped where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load(path: str | os.PathLike) -> Module:
    """Read a model written by ``save``. Raises ModelFileError saying what is wrong with the file."""
    path = Path(path)
    raw = path.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        hint = " (the file is empty)" if not raw.strip() else " (truncated or corrupt?)"
        raise ModelFileError(f"{path}: not valid JSON{hint}: {e}") from None
    except ModelFileError as e:
        raise ModelFileError(f"{path}: {e}") from None
    return from_dict(data, str(path))


def _no_constant(name: str) -> None:
    raise ModelFileError(f"the file holds {name}, not a finite number")


def from_dict(data: Any, where: str = "model data") -> Module:
    """The model described by ``data`` (as made by ``to_dict``)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ModelFileError(f'{where}: not a chainrule model file (no "format": "{FORMAT}")')
    if "version" not in data:
        raise ModelFileError(f"{where}: missing key 'version'")
    if data["version"] != VERSION:
        raise ModelFileError(
            f"{where}: format version {data['version']!r}; this chainrule reads version {VERSION}"
        )
    for key in ("architecture", "weights"):
        if key not in data:
            raise ModelFileError(f"{where}: missing key {key!r}")
    arch = data["architecture"]
    if not isinstance(arch, dict) or arch.get("type") not in _TYPES:
        raise ModelFileError(
            f"{where}: architecture must name a type among {sorted(_TYPES)}, got {arch!r:.100}"
        )
    kwargs = {k: v for k, v in arch.items() if k != "type"}
    try:
        model = _TYPES[arch["type"]](**kwargs, seed=0)  # weights overwritten below
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"{where}: bad architecture {arch!r:.100}: {e}") from None
    _set_weights(model, data["weights"], where)
    return model


def _set_weights(model: Module, weights: Any, where: str) -> None:
    layers = _layers(model)
    if not isinstance(weights, list) or len(weights) != len(layers):
        got = f"{len(weights)} layers" if isinstance(weights, list) else type(weights).__name__
        raise ModelFileError(f"{where}: weights hold {got}; the architecture has {len(layers)} layers")
    values = []
    for i, (layer, rows) in enumerate(zip(layers, weights)):
        expect = _rows(layer)
        if not isinstance(rows, list) or len(rows) != len(expect):
            got = f"{len(rows)} neurons" if isinstance(rows, list) else type(rows).__name__
            raise ModelFileError(f"{where}: layer {i} holds {got}; the architecture says {len(expect)}")
        for j, (row, want) in enumerate(zip(rows, expect)):
            if not isinstance(row, list) or len(row) != len(want):
                got = f"{len(row)} numbers" if isinstance(row, list) else type(row).__name__
                raise ModelFileError(
                    f"{where}: layer {i} neuron {j} holds {got}; the architecture says {len(want)} "
                    "(its weights, then its bias)"
                )
            for k, v in enumerate(row):
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise ModelFileError(f"{where}: layer {i} neuron {j} entry {k} is {v!r}, not a number")
            values.extend(float(v) for v in row)
    for p, v in zip(model.parameters(), values):
        p.data = v
