"""A dependency that the README's test command installs is required, not optional: a test that needs
one fails (naming the extra to install) rather than skipping, so a green run always ran it."""

import importlib
from types import ModuleType

import pytest


def required(module: str, extra: str) -> ModuleType:
    """Import ``module``, or fail the test: it comes with chainrule's ``extra``."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        pytest.fail(
            f"{module} is missing ({e}): it comes with chainrule's {extra!r} extra, which the README's "
            f"test command installs: pip install -e '.[{extra}]'",
            pytrace=False,
        )
