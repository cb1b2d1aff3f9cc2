"""``Module``: the base of every network, with its parameters, their names and their state.

A module lists its own parameters (``own_parameters``) and its sub-modules (``children``); the
base class derives everything else from those two: ``named_parameters`` (dotted names such as
``layers.0.neurons.1.w.0``), ``parameters``, ``zero_grad``, ``state_dict``/``load_state_dict``.

Every Value a module makes carries a ``Scope`` in ``Value.scope``: its module's dotted name as a
string (what users and error messages read), with the structure beside it for renderers, which read
the kinds and indices and never parse the string.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Mapping
from typing import Any

from autograd import Value

Part = tuple[str, int | None]  # one step of a module path: ("layer", 1), ("neuron", 3); ("a", None)
Role = tuple[str, int | None]  # what a Value is in its module: ("weight", 2), ("bias", None), ...
ROLES = ("weight", "bias", "input", "sum", "activation")  # "input" i: the product w_i·x_i


class Scope(str):
    """Where a module made a Value, as an immutable record that reads as the module's dotted name.

    The string is the name (``layers.1.neurons.3``, as in ``named_parameters``): it compares equal
    to it and its repr is the string's. ``parts`` is the path as (kind, index) pairs,
    ``(("layer", 1), ("neuron", 3))`` (a user module's child: ``(its name, None)``); ``role`` says
    what the Value is there, one of ``ROLES`` with its index (``("weight", 2)``, ``("bias", None)``),
    or None.
    """

    __slots__ = ("parts", "role")
    parts: tuple[Part, ...]
    role: Role | None

    def __new__(cls, text: str = "", parts: tuple[Part, ...] = (), role: Role | None = None) -> Scope:
        scope = super().__new__(cls, text)
        object.__setattr__(scope, "parts", tuple(parts))
        object.__setattr__(scope, "role", role)
        return scope

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a Scope cannot be changed: make a new one")

    def child(self, name: str, part: Part) -> Scope:
        """The scope of a sub-module called ``name`` (its dotted name's last step) at ``part``."""
        return Scope(_join(self, name), (*self.parts, part))

    def with_role(self, kind: str, index: int | None = None) -> Scope:
        """This module's scope for a Value of role ``kind`` (one of ``ROLES``), index ``index``."""
        return Scope(self, self.parts, (kind, index))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Scope, (str(self), self.parts, self.role))

    def __copy__(self) -> Scope:
        return self

    def __deepcopy__(self, memo: dict) -> Scope:
        return self  # immutable: copies of a model share it, as they share strings


TOP = Scope()  # the scope of a top module


class Module:
    """Base class: subclasses define ``__call__``, ``own_parameters()`` and ``children()``.

    ``child_kind``: the kind of this module's children when they are numbered in order ("layer" for
    an MLP's layers); None: each child is its own kind, named by its name (a user module's)."""

    _scope: Scope = TOP  # this module's place inside its parent model (TOP for the top module)
    child_kind: str | None = None

    def __call__(self, x: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __call__")

    # --- what subclasses provide -------------------------------------------------------------

    def own_parameters(self) -> list[tuple[str, Value]]:
        """This module's own parameters (not its children's) as (name, Value) pairs."""
        return []

    def own_values(self) -> list[Value]:
        """The Values of ``own_parameters()``, in its order, without their names."""
        return [p for _, p in self.own_parameters()]

    def children(self) -> list[tuple[str, Module]]:
        """This module's direct sub-modules as (name, module) pairs, in order."""
        return []

    # --- derived from those --------------------------------------------------------------------

    def named_parameters(self, prefix: str = "") -> list[tuple[str, Value]]:
        """Every parameter with a stable dotted name, in ``parameters()`` order."""
        named = [(_join(prefix, name), p) for name, p in self.own_parameters()]
        for name, child in self.children():
            named.extend(child.named_parameters(_join(prefix, name)))
        return named

    def parameters(self) -> list[Value]:
        """Every parameter (a leaf Value), in the order of ``named_parameters()``."""
        return [p for _, m in self.modules() for p in m.own_values()]  # no names: fit asks every call

    def num_parameters(self) -> int:
        """How many scalar parameters the module has."""
        return len(self.named_parameters())

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0 (backward accumulates into leaves)."""
        for p in self.parameters():
            p.grad = 0.0

    def modules(self) -> Iterator[tuple[str, Module]]:
        """This module and all its sub-modules, depth first, with their dotted names."""
        stack: list[Module] = [self]  # a stack, not nested generators: fit walks a model thrice a call
        while stack:
            m = stack.pop()
            yield m._scope, m
            stack.extend(child for _, child in reversed(m.children()))

    def state_dict(self) -> dict[str, float]:
        """The parameters' values by name: a plain dict of floats, safe to copy or to store."""
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Set every parameter from ``state`` (as made by ``state_dict``).

        Every name must be present, no other name may be, and each entry must be one finite
        number; otherwise a KeyError or ValueError names the entries at fault and nothing changes.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"load_state_dict: expected a dict of name -> number, got {type(state).__name__}")
        named = dict(self.named_parameters())
        missing = [n for n in named if n not in state]
        extra = [n for n in state if n not in named]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {len(missing)} entries: {_some(missing)}")
            if extra:
                parts.append(f"unexpected {len(extra)} entries: {_some(extra)}")
            raise KeyError(f"load_state_dict for {self!r}: " + "; ".join(parts))
        values = {}
        for name in named:
            values[name] = _one_number(state[name], f"load_state_dict: entry {name!r}")
        for name, p in named.items():  # only after every entry has been checked
            p.data = values[name]

    # --- names for the renderer ----------------------------------------------------------------

    @property
    def scope(self) -> Scope:
        """This module's place in its model: a ``Scope``, read as ``layers.0.neurons.1`` ("" at the top)."""
        return self._scope

    def _set_scope(self, scope: str = "") -> None:
        """Place this module (and, recursively, its children and parameters) inside a parent; a
        plain string (a user module's own name for itself) becomes a one-part scope."""
        if not isinstance(scope, Scope):
            scope = Scope(scope, ((scope, None),)) if scope else TOP
        self._scope = scope
        for _, p in self.own_parameters():
            p.scope = scope
        for k, (name, child) in enumerate(self.children()):
            child._set_scope(scope.child(name, (self.child_kind, k) if self.child_kind else (name, None)))


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _some(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def _one_number(x: Any, where: str) -> float:
    """x as a finite float, or a ValueError/TypeError saying what x is instead."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        shape = f" of {len(x)} items" if hasattr(x, "__len__") and not isinstance(x, str) else ""
        raise ValueError(f"{where}: expected one number, got {type(x).__name__}{shape}: {x!r:.60}")
    f = float(x)
    if not math.isfinite(f):
        raise ValueError(f"{where}: expected a finite number, got {f!r}")
    return f
