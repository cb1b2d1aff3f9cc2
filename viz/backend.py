"""The renderer back end: DOT source in, SVG / PNG / PDF bytes out (a leaf: imports no other viz module).

The renderer: the system Graphviz ``dot`` when it is on PATH, else the ``graphviz-pure`` binary
that pip installs with chainrule (looked up on PATH, then beside the running Python, so an
unactivated venv works). graphviz-pure writes SVG and PNG, not PDF: PDF comes from the system
``dot``, else from the ``pdf`` extra (pygraphviz, which bundles Graphviz's libraries).
Choose with ``render(..., renderer=...)`` or the environment variable ``CHAINRULE_RENDERER``:
``auto`` (default), ``dot``, ``graphviz-pure`` or ``pygraphviz``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

ENV = "CHAINRULE_RENDERER"
RENDERERS = ("auto", "dot", "graphviz-pure", "pygraphviz")
PDF_HELP = (
    "PDF needs Graphviz's `dot` program on PATH (apt install graphviz, brew install graphviz, "
    "winget install graphviz) or the pdf extra: pip install 'chainrule[pdf]' (pygraphviz, which "
    "bundles Graphviz). graphviz-pure, the renderer installed with chainrule, writes SVG and PNG only."
)


class RenderError(RuntimeError):
    """No renderer can write the requested format, or the renderer failed."""


def graphviz_pure_path() -> str | None:
    """The graphviz-pure binary: on PATH, else in this interpreter's scripts directory."""
    found = shutil.which("graphviz-pure")
    if found:
        return found
    exe = "graphviz-pure.exe" if os.name == "nt" else "graphviz-pure"
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(folder) / exe
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _has_pygraphviz() -> bool:
    try:
        import pygraphviz  # noqa: F401
    except ImportError:
        return False
    return True


def find_renderer(fmt: str = "svg", renderer: str | None = None) -> tuple[str, str | None]:
    """(name, executable) of the renderer to use for ``fmt``; executable is None for pygraphviz."""
    choice = renderer or os.environ.get(ENV) or "auto"
    if choice not in RENDERERS:
        raise ValueError(f"renderer must be one of {', '.join(RENDERERS)}, got {choice!r} (from {ENV}?)")
    dot = shutil.which("dot") if choice in ("auto", "dot") else None
    if dot:
        return "dot", dot
    if choice == "dot":
        raise RenderError("renderer 'dot' was asked for, but no `dot` program is on PATH (install Graphviz)")
    if choice == "pygraphviz" or (fmt == "pdf" and choice == "auto"):
        if _has_pygraphviz():
            return "pygraphviz", None
        if fmt == "pdf":
            raise RenderError(PDF_HELP)
        raise RenderError(
            "renderer 'pygraphviz' was asked for, but it is not installed: pip install 'chainrule[pdf]'"
        )
    if fmt == "pdf":
        raise RenderError(PDF_HELP)
    pure = graphviz_pure_path()
    if pure is None:
        raise RenderError(
            "no Graphviz renderer found: neither `dot` on PATH nor the graphviz-pure binary "
            "(pip install graphviz-pure, a dependency of chainrule)"
        )
    return "graphviz-pure", pure


def pipe(source: str, fmt: str, renderer: str | None = None) -> bytes:
    """Lay out DOT ``source`` and return the ``fmt`` ('svg', 'png', 'pdf') bytes."""
    name, exe = find_renderer(fmt, renderer)
    if name == "pygraphviz":
        import pygraphviz

        return pygraphviz.AGraph(string=source).draw(format=fmt, prog="dot")
    assert exe is not None  # every renderer but pygraphviz is a program
    proc = subprocess.run([exe, f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True)
    if proc.returncode != 0 or not proc.stdout:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise RenderError(f"{name} ({exe}) failed to write {fmt}: {err or 'no output'}")
    return proc.stdout


def pipe_many(source: str, formats: tuple[str, ...], renderer: str | None = None) -> dict[str, bytes]:
    """Lay out DOT ``source`` once and write it in each of ``formats`` ('svg', 'png'): one run of
    the renderer, so a notebook's SVG and PNG of a drawing show the same layout."""
    name, exe = find_renderer(formats[0], renderer)
    if name == "pygraphviz":
        import pygraphviz

        graph = pygraphviz.AGraph(string=source)
        graph.layout(prog="dot")
        return {fmt: graph.draw(format=fmt) for fmt in formats}
    assert exe is not None  # every renderer but pygraphviz is a program
    with tempfile.TemporaryDirectory(prefix="chainrule-") as folder:
        outs = {fmt: Path(folder, f"drawing.{fmt}") for fmt in formats}
        args = [arg for fmt, out in outs.items() for arg in (f"-T{fmt}", f"-o{out}")]
        proc = subprocess.run([exe, *args], input=source.encode("utf-8"), capture_output=True)
        found = {fmt: out.read_bytes() for fmt, out in outs.items() if out.is_file()}
    missing = [fmt for fmt in formats if not found.get(fmt)]
    if proc.returncode != 0 or missing:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise RenderError(
            f"{name} ({exe}) failed to write {', '.join(missing) or 'its output'}: {err or 'no output'}"
        )
    return found
