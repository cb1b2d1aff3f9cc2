"""Backpropagation step by step: one drawing per node, in the order backward() finalises gradients.

Frame k shows the gradients known after k + 1 steps: the root's (1) first, then each node once all
of its consumers have passed their gradient back. The gradients are computed afresh from the root
(no ``.grad`` is read or changed), so frames work before or after ``backward()``.
"""

from __future__ import annotations

import html
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from autograd import Value

from .dot import Drawing, draw_graph
from .graph import gradients, trace
from .render import pipe


def backprop_frames(root: Value, **draw_options: Any) -> Iterator[Drawing]:
    """Yield one drawing per node in backward order, each showing which gradients are known so far."""
    graph = trace(root, gradients(root))
    known: set[int] = set()
    for node_id in reversed(range(len(graph.nodes))):  # ids are forward order; backward runs it in reverse
        known.add(node_id)
        yield draw_graph(graph, known=set(known), current=node_id, **draw_options)


def save_frames(
    frames: Iterator[Drawing], directory: str | os.PathLike, fmt: str = "png", renderer: str | None = None
) -> list[Path]:
    """Write frames as ``frame_000.<fmt>``, ``frame_001.<fmt>``, ... in ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, frame in enumerate(frames):
        path = directory / f"frame_{i:03d}.{fmt}"
        path.write_bytes(frame.source.encode("utf-8") if fmt == "dot" else pipe(frame.source, fmt, renderer))
        paths.append(path)
    return paths


def save_gif(
    frames: Iterator[Drawing], path: str | os.PathLike, duration_ms: int = 900, renderer: str | None = None
) -> Path:
    """Write the frames as one looping animated GIF (needs Pillow); frames are padded to one size."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            "save_gif() needs Pillow: pip install 'chainrule[plots]' (or pip install pillow)"
        ) from None
    images = [Image.open(io.BytesIO(pipe(f.source, "png", renderer))).convert("RGB") for f in frames]
    if not images:
        raise ValueError("save_gif(): no frames")
    width, height = max(i.width for i in images), max(i.height for i in images)
    padded = []
    for im in images:
        canvas = Image.new("RGB", (width, height), "white")
        canvas.paste(im, (0, 0))
        padded.append(canvas)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    padded[0].save(path, save_all=True, append_images=padded[1:], duration=duration_ms, loop=0)
    return path


def show_frames(frames: Iterator[Drawing], renderer: str | None = None) -> Any:
    """In Jupyter: a slider over the frames (needs ipywidgets: pip install ipywidgets)."""
    try:
        import ipywidgets as widgets
    except ImportError:
        raise ImportError(
            "show_frames() needs ipywidgets (pip install ipywidgets); "
            "backprop_html() writes a page with a slider without it"
        ) from None
    svgs = [pipe(f.source, "svg", renderer).decode("utf-8") for f in frames]
    out = widgets.HTML(value=svgs[0])
    slider = widgets.IntSlider(value=0, min=0, max=len(svgs) - 1, description="step")
    slider.observe(lambda change: setattr(out, "value", svgs[change["new"]]), names="value")
    return widgets.VBox([slider, out])


def _inline_svg(svg: bytes) -> str:
    """The <svg> element alone (no XML declaration or DOCTYPE), for inlining in HTML."""
    text = svg.decode("utf-8")
    return text[text.index("<svg") :]


def backprop_html(
    root: Value,
    path: str | os.PathLike,
    title: str = "Backpropagation, step by step",
    renderer: str | None = None,
    max_frames: int | None = 300,
    **draw_options: Any,
) -> Path:
    """Write one self-contained page (inline SVG frames, a slider, play and step buttons; no network).
    Each frame draws the whole graph: more than ``max_frames`` nodes is refused (None: no limit)."""
    n = len(trace(root).nodes)
    if max_frames is not None and n > max_frames:
        raise ValueError(
            f"backprop_html(): the graph has {n} nodes, one frame each (over max_frames={max_frames}); "
            "draw a smaller graph or pass max_frames=None"
        )
    frames = [_inline_svg(pipe(f.source, "svg", renderer)) for f in backprop_frames(root, **draw_options)]
    divs = "\n".join(
        f'<div class="frame" id="f{i}"{"" if i == 0 else " hidden"}>{svg}</div>'
        for i, svg in enumerate(frames)
    )
    page = _PAGE.format(title=html.escape(title), last=len(frames) - 1, count=len(frames), frames=divs)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }}
.controls {{ display: flex; gap: .5em; align-items: center; margin-bottom: 1em; }}
input[type=range] {{ width: 40em; max-width: 60vw; }}
.frame svg {{ max-width: 100%; height: auto; }}
</style></head>
<body>
<h1>{title}</h1>
<div class="controls">
<button id="prev" title="step back">&#9664;</button>
<button id="play">play</button>
<button id="next" title="step forward">&#9654;</button>
<input id="slider" type="range" min="0" max="{last}" value="0">
<span id="counter">step 1 of {count}</span>
</div>
<p>Each step finalises one gradient (outlined in blue): a node's gradient is known once every node
that uses it has passed its share back. Unknown gradients show <code>grad ?</code>.
Arrow keys step too.</p>
{frames}
<script>
(function () {{
  var frames = document.querySelectorAll(".frame"), slider = document.getElementById("slider");
  var counter = document.getElementById("counter"), play = document.getElementById("play");
  var current = 0, timer = null;
  function show(i) {{
    i = Math.max(0, Math.min(frames.length - 1, i));
    frames[current].hidden = true; frames[i].hidden = false; current = i;
    slider.value = i; counter.textContent = "step " + (i + 1) + " of " + frames.length;
  }}
  function stop() {{ clearInterval(timer); timer = null; play.textContent = "play"; }}
  slider.addEventListener("input", function () {{ stop(); show(+slider.value); }});
  document.getElementById("prev").addEventListener("click", function () {{ stop(); show(current - 1); }});
  document.getElementById("next").addEventListener("click", function () {{ stop(); show(current + 1); }});
  document.addEventListener("keydown", function (e) {{
    if (e.key === "ArrowLeft") {{ stop(); show(current - 1); }}
    if (e.key === "ArrowRight") {{ stop(); show(current + 1); }}
  }});
  play.addEventListener("click", function () {{
    if (timer) {{ stop(); return; }}
    if (current === frames.length - 1) show(0);
    play.textContent = "pause";
    timer = setInterval(function () {{
      if (current === frames.length - 1) stop(); else show(current + 1);
    }}, 900);
  }});
}})();
</script>
</body></html>
"""
