"""viz.plots: training curves, decision boundary, gradient size per layer (matplotlib, Agg)."""

import sys

import pytest
from required import required

matplotlib = required("matplotlib", "dev")
matplotlib.use("Agg")

from autograd import Value  # noqa: E402
from viz import layer_grad_sizes, plot_decision_boundary, plot_gradient_sizes, plot_history  # noqa: E402

EPOCHS = [
    {"train_loss": 0.7, "train_acc": 0.5, "val_loss": 0.72, "val_acc": 0.45},
    {"train_loss": 0.4, "train_acc": 0.8, "val_loss": 0.45, "val_acc": 0.75},
    {"train_loss": 0.2, "train_acc": 0.95, "val_loss": 0.3, "val_acc": 0.9},
]


def test_plot_history_draws_loss_and_accuracy():
    fig = plot_history(EPOCHS)
    loss_ax, acc_ax = fig.axes
    assert [line.get_label() for line in loss_ax.lines] == ["train", "validation"]
    assert list(loss_ax.lines[0].get_ydata()) == [0.7, 0.4, 0.2]
    assert list(acc_ax.lines[1].get_ydata()) == [0.45, 0.75, 0.9]
    assert list(acc_ax.lines[0].get_xdata()) == [1, 2, 3]
    # without validation: train curves only
    fig = plot_history([{k: v for k, v in e.items() if k.startswith("train")} for e in EPOCHS])
    assert len(fig.axes[0].lines) == 1
    with pytest.raises(ValueError, match="no epoch"):
        plot_history([])


def test_plot_history_from_fit():
    import nn

    X, y = nn.datasets.xor()
    model = nn.MLP(2, [4, 1], activation="tanh", seed=1)
    history = nn.fit(
        model,
        X,
        y,
        loss="bce_logits",
        optimizer=nn.Adam(model.parameters(), lr=0.05),
        epochs=5,
        validation=(X, y),
        progress=False,
    )
    fig = plot_history(history)
    assert list(fig.axes[0].lines[0].get_ydata()) == history["train_loss"]


class Threshold:
    """A 'model' predicting class 1 right of x0 = 0: output x0 (one output, > 0 means class 1)."""

    def __call__(self, x):
        return Value(x[0]) if not isinstance(x[0], Value) else x[0]


def test_decision_boundary_splits_where_the_model_does():
    X = [[-1.0, 0.0], [-0.5, 1.0], [0.5, -1.0], [1.0, 0.5]]
    y = [0, 0, 1, 1]
    fig = plot_decision_boundary(Threshold(), X, y, resolution=21, margin=0.0)
    ax = fig.axes[0]
    assert len(ax.collections) >= 2  # filled regions and the scattered points
    with pytest.raises(ValueError, match="2-D points"):
        plot_decision_boundary(Threshold(), [[1.0, 2.0, 3.0]], [0])


def test_decision_boundary_of_an_mlp():
    import nn

    X, y = nn.datasets.xor()
    model = nn.MLP(2, [4, 1], seed=0)
    fig = plot_decision_boundary(model, X, y, resolution=15)
    assert fig.axes[0].get_title() == "decision boundary"


def test_gradient_size_per_layer():
    import nn

    model = nn.MLP(2, [3, 1], seed=0)
    records = []
    for _step in range(3):
        model.zero_grad()
        loss = (model([0.5, -1.0]) - 1.0) ** 2
        loss.backward()
        sizes = layer_grad_sizes(model)
        assert set(sizes) == {"layers.0", "layers.1"}
        expected = sum(abs(p.grad) for n, p in model.named_parameters() if n.startswith("layers.1.")) / 4
        assert sizes["layers.1"] == pytest.approx(expected)
        records.append(sizes)
        for p in model.parameters():
            p.data -= 0.1 * p.grad
    fig = plot_gradient_sizes(records)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and [line.get_label() for line in ax.lines] == ["layers.0", "layers.1"]


def test_clear_error_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_history(EPOCHS)


def test_a_plot_as_a_cells_last_line_is_shown_once_in_jupyter():
    """In a real kernel with the inline backend (as Jupyter runs it): the figure a plot returns is
    drawn once, whether it is the cell's value or assigned; once closed, being the value shows it."""
    import nbclient
    import nbformat

    cells = [
        "%matplotlib inline\nimport nn, viz\nh = [{'train_loss': 1.0, 'train_acc': 0.5}] * 2",
        "viz.plot_history(h)",
        "fig = viz.plot_history(h)",
        "import matplotlib.pyplot as plt\nfig = viz.plot_history(h)\nplt.close(fig)\nfig",
        "viz.plot_decision_boundary(nn.MLP(2, [3, 1], seed=0), [[0.0, 1.0], [1.0, 0.0]], [0, 1])",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    pngs = [sum("image/png" in o.get("data", {}) for o in cell.outputs) for cell in nb.cells]
    assert pngs == [0, 1, 1, 1, 1], pngs
