"""Files from drawings: SVG, PNG, PDF or the DOT source, chosen by the file's suffix.

The renderer itself (which program lays out the DOT source) lives in ``viz.backend``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import graphviz

from autograd import Value, files

from .backend import PDF_HELP, RenderError, find_renderer, graphviz_pure_path, pipe
from .dot import Drawing, draw

__all__ = ["FORMATS", "PDF_HELP", "RenderError", "find_renderer", "graphviz_pure_path", "pipe", "render"]

FORMATS = (".svg", ".png", ".pdf", ".dot", ".gv")


def render(
    root_or_drawing: Value | graphviz.Digraph,
    path: str | os.PathLike,
    renderer: str | None = None,
    **draw_options: Any,
) -> Path:
    """Write a drawing (or ``draw(root, **draw_options)``, laid out as ``draw`` chooses) to ``path``;
    the format is the suffix. A drawing of more than ``max_nodes`` boxes (3000 by default) is refused at once
    with ``DrawingTooBig``, except as DOT source (writing text is fast). The file is written
    atomically (``autograd.files``): a failed render leaves the old file as it was."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(
            f"render(): cannot tell the format of {str(path)!r}: use one of {', '.join(FORMATS)}"
        )
    if isinstance(root_or_drawing, Value):  # draw counts the boxes first: a big one is refused at once
        drawing = draw(root_or_drawing, **draw_options)
    elif isinstance(root_or_drawing, graphviz.Digraph):
        if draw_options:
            raise TypeError(f"render(): draw options {sorted(draw_options)} need a Value, not a drawing")
        drawing = root_or_drawing
    else:
        raise TypeError(f"render(): expected a Value or a drawing, got {type(root_or_drawing).__name__}")
    if suffix not in (".dot", ".gv") and isinstance(drawing, Drawing):
        drawing.check_size()
    path.parent.mkdir(parents=True, exist_ok=True)
    files.check_writable(path, "write the drawing")  # before the renderer runs, which may take seconds
    data = drawing.source if suffix in (".dot", ".gv") else pipe(drawing.source, suffix[1:], renderer)
    return files.write_atomic(path, data, "write the drawing")
