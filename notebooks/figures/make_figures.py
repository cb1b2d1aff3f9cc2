"""Write the README's pictures into this folder: python notebooks/figures/make_figures.py

worked_example.png / .svg: the 2-2-2 worked example, top to bottom so that it reads at the
README's width (about 880 px); mlp_collapsed.png: a collapsed MLP(2, [16, 16, 1]);
backprop_frame.png: one step of backward on the worked example.
"""

from pathlib import Path

import nn
from nn.worked_example import worked_example
from viz import backprop_frames, draw, render
from viz.backend import pipe

HERE = Path(__file__).parent


def main() -> None:
    loss = worked_example()["E"]
    drawing = draw(loss, rankdir="TB")
    drawing.graph_attr.update(nodesep="0.15")  # narrow enough to read at 880 px
    render(drawing, HERE / "worked_example.png")
    render(drawing, HERE / "worked_example.svg")
    model = nn.MLP(2, [16, 16, 1], seed=0)
    mlp = (1 - 1.0 * model([0.5, -0.3])).relu()
    mlp.backward()
    render(mlp, HERE / "mlp_collapsed.png", collapsed=True)
    frame = list(backprop_frames(loss, rankdir="TB"))[18]  # step 19 of 33: a node of the hidden layer
    frame.graph_attr.update(nodesep="0.15")
    (HERE / "backprop_frame.png").write_bytes(pipe(frame.source, "png"))


if __name__ == "__main__":
    main()
