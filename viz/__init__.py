"""viz: draw the computation graph, every forward value and every gradient; plots; the CLI.

from viz import draw, render, explain
loss.backward()
render(loss, "graph.svg")          # or .png, .pdf, .dot; draw(loss) displays in Jupyter
print(explain(w))                  # the chain-rule sum behind w.grad
"""

from .dot import Drawing, DrawingTooBig, draw, draw_dot, draw_graph
from .explain import Explanation, explain
from .frames import (
    InlinePage,
    backprop_frames,
    backprop_html,
    save_frames,
    save_gif,
    show_backprop,
    show_frames,
)
from .graph import Edge, Graph, Node, gradients, trace
from .plots import layer_grad_sizes, plot_decision_boundary, plot_gradient_sizes, plot_history
from .render import RenderError, find_renderer, render
from .training import EpochRecord, TrainingPage, training_page

__all__ = [
    "trace",
    "Graph",
    "Node",
    "Edge",
    "gradients",
    "draw",
    "draw_graph",
    "draw_dot",
    "DrawingTooBig",
    "Drawing",
    "render",
    "find_renderer",
    "RenderError",
    "backprop_frames",
    "backprop_html",
    "save_frames",
    "save_gif",
    "show_frames",
    "show_backprop",
    "InlinePage",
    "training_page",
    "TrainingPage",
    "EpochRecord",
    "explain",
    "Explanation",
    "plot_history",
    "plot_decision_boundary",
    "plot_gradient_sizes",
    "layer_grad_sizes",
]
