"""The training page (viz.training_page, chainrule train --watch): its numbers are the engine's at
each epoch, its size is bounded, user text is inert; and in a real browser (Debian's chromium,
driven by Playwright, never a downloaded one) the numbers on screen are Python's, epoch by epoch,
and no node moves."""

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from browser import Recorded, launched

import nn
from autograd import Value
from viz import DrawingTooBig, TrainingPage, trace, training_page
from viz.cli import main
from viz.style import fmt
from viz.training import GRID

HOSTILE = "{state}{svg}{script}</script><script>window.pwned=1</script><b>bold</b>"


def small_page(path: Path | None = None, epochs: int = 12, **options) -> tuple[TrainingPage, nn.MLP, tuple]:
    X, y = nn.datasets.moons(n=60, noise=0.1, seed=1)
    model = nn.MLP(2, [4, 4, 1], seed=3)
    optimizer = nn.Adam(model.parameters(), lr=0.05)
    page = training_page(
        model, X, y, loss="bce_logits", epochs=epochs, optimizer=optimizer, path=path, **options
    )
    return page, model, (X, y)


def state_of(html: str) -> dict:
    start = html.index('<script type="application/json" id="state">') + len(
        '<script type="application/json" id="state">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def column_at(col: str, s: int) -> str:
    return col.split("|")[s] if "|" in col else col


def fresh_example(weights: tuple, X, y, example: int) -> Value:
    """The example's loss, forward and backward, on a new model given those weights (eagerly)."""
    model = nn.MLP(2, [4, 4, 1], seed=99)  # other initial weights: all of them are overwritten
    for p, w in zip(model.parameters(), weights, strict=True):
        p.data = w
    out = model([float(v) for v in X[example]])
    loss = nn.bce_logits(out, [float(y[example])])
    loss.backward()
    return loss


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return small_page(tmp_path_factory.mktemp("training") / "small.html", example=5)


def test_each_epochs_numbers_are_a_fresh_forward_and_backward_of_that_epochs_weights(small):
    page, model, (X, y) = small
    assert page.epochs == list(range(13)) and page.sampled == ""
    assert page.records[-1].weights == tuple(p.data for p in model.parameters())  # the trained model
    state = state_of(page.html)
    for record in (page.records[0], page.records[6], page.records[12]):
        fresh = trace(fresh_example(record.weights, X, y, 5))
        assert len(fresh.nodes) == len(record.graph.nodes)
        for a, b in zip(fresh.nodes, record.graph.nodes, strict=True):
            assert abs(a.data - b.data) <= 1e-12 and abs(a.grad - b.grad) <= 1e-12, (record.epoch, a.id)
        for a, b in zip(fresh.edges, record.graph.edges, strict=True):
            assert abs(a.local - b.local) <= 1e-12 and abs(a.carried - b.carried) <= 1e-12
        s = page.epochs.index(record.epoch)
        for j, i in enumerate(state["graph"]["boxes"]):  # the texts the page shows
            assert column_at(state["graph"]["grad"][j], s) == fmt(fresh.nodes[i].grad)
            assert column_at(state["graph"]["data"][j], s) == fmt(fresh.nodes[i].data)
    assert page.records[0].weights != page.records[12].weights  # it did learn


def test_the_curve_is_the_training_sets_loss_after_each_epoch_and_the_training_is_fits(small):
    page, _, (X, y) = small
    assert len(page.losses) == 13 and page.losses[-1] < page.losses[0]
    again = nn.MLP(2, [4, 4, 1], seed=3)  # fit in one call, full batch: the same weights
    nn.fit(again, X, y, loss="bce_logits", optimizer=nn.Adam(again.parameters(), lr=0.05), epochs=6)
    assert [p.data for p in again.parameters()] == pytest.approx(page.records[6].weights, abs=1e-12)
    assert nn.evaluate(again, X, y, "bce_logits")["loss"] == pytest.approx(page.losses[6], abs=1e-12)
    assert len(page.history) == 12 and page.history.engine == "tape"


def test_the_boundary_is_the_models_prediction_on_the_grid(small):
    page, _, (X, y) = small
    record = page.records[4]
    x0, x1, y0, y1 = page.boundary
    assert x0 < min(X[:, 0]) and x1 > max(X[:, 0]) and y0 < min(X[:, 1]) and y1 > max(X[:, 1])
    model = nn.MLP(2, [4, 4, 1], seed=0)
    for p, w in zip(model.parameters(), record.weights, strict=True):
        p.data = w
    for row, col in [(0, 0), (0, GRID - 1), (GRID - 1, 3), (17, 20)]:  # row 0 is the top (largest y)
        cx = x0 + (col + 0.5) * (x1 - x0) / GRID
        cy = y1 - (row + 0.5) * (y1 - y0) / GRID
        assert record.classes[row * GRID + col] == str(nn.predict(model, [[cx, cy]])[0])
    assert set(record.classes) == {"0", "1"}


def test_moons_mlp_8_8_1_over_100_epochs_is_under_2_mb(tmp_path):
    X, y = nn.datasets.moons(n=100, noise=0.1, seed=0)
    model = nn.MLP(2, [8, 8, 1], seed=0)
    page = training_page(
        model, X, y, loss="bce_logits", optimizer=nn.Adam(model.parameters(), lr=0.05), epochs=100,
        path=tmp_path / "moons.html",
    )  # fmt: skip
    size = (tmp_path / "moons.html").stat().st_size
    assert size == len(page.html.encode("utf-8")) and size < 2_000_000
    assert page.epochs == list(range(101)) and page.sampled == ""  # every epoch, none sampled


def test_sampled_epochs_are_said_on_the_page_and_in_the_result():
    page, _, _ = small_page(epochs=30, max_frames=7)
    assert page.epochs == [0, 5, 10, 15, 20, 25, 30]
    assert "7 of the 31 epochs" in page.sampled and len(page.losses) == 31  # the curve: every epoch
    state = state_of(page.html)
    assert state["sampled"] == page.sampled and state["epochs"] == page.epochs


def test_no_boundary_for_inputs_that_are_not_2_d_and_the_page_says_why():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    y = (X.sum(axis=1) > 0).astype(int)
    model = nn.MLP(3, [3, 1], seed=0)
    page = training_page(model, X, y, loss="bce_logits", epochs=2)
    assert page.boundary is None and "3 features" in page.no_boundary
    state = state_of(page.html)
    assert state["boundary"] is None and state["noBoundary"] == page.no_boundary
    assert all(r.classes is None for r in page.records)


def test_user_text_is_inert(tmp_path):
    def hostile_loss(out, t):
        loss = (out - t[0]) ** 2
        loss.label = HOSTILE + "\ud800"  # drawn in the graph: escaped, the lone surrogate as its escape
        return loss

    hostile_loss.__name__ = HOSTILE
    X, y = nn.datasets.moons(n=20, noise=0.1, seed=0)
    model = nn.MLP(2, [2, 1], seed=0)
    with pytest.warns(nn.FallbackWarning) as said:  # a loss of its own runs eagerly: said in epoch 1 only
        page = training_page(model, X, [float(v) for v in y], loss=hostile_loss, epochs=2, title=HOSTILE)
    assert len(said) == 3  # scoring epoch 0, training and scoring epoch 1; not again in epoch 2
    html = page.html
    assert "window.pwned" not in html.replace("window.pwned=1&lt;", "")  # only ever escaped
    assert html.count("<script") == 2 and "<b>bold</b>" not in html
    assert "&lt;/script&gt;&lt;script&gt;window.pwned=1" in html  # shown as text, in the title
    state_of(html)  # the state still parses
    assert "&lt;b&gt;bold&lt;/b&gt;\\ud800" in html  # the graph's label
    html.encode("utf-8")  # no lone surrogate left
    assert "regression" in page.no_boundary  # values as targets: no classes to colour


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"example": 60}, "example 60 is not a row of X, which has 60 examples"),
        ({"example": -1}, "example must be an integer >= 0"),
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"max_frames": 1}, "max_frames must be an integer >= 2"),
        ({"rankdir": "XX"}, "rankdir"),
    ],
)
def test_bad_arguments_are_refused_before_training(options, message):
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        small_page(**({"epochs": 3} | options))


def test_a_graph_too_big_to_read_is_refused_before_training():
    X, y = nn.datasets.moons(n=20, noise=0.1, seed=0)
    model = nn.MLP(2, [30, 30, 1], seed=0)
    before = [p.data for p in model.parameters()]
    with pytest.raises(DrawingTooBig, match=r"one example's graph has \d+ nodes to draw, over the 1000"):
        training_page(model, X, y, loss="bce_logits", epochs=2)
    assert [p.data for p in model.parameters()] == before


def test_the_command_writes_the_page_and_says_so(tmp_path, capsys):
    out = tmp_path / "xor.html"
    assert main(["train", "xor", "--hidden", "3", "--epochs", "4", "--watch", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "epochs 0 to 4" in printed
    state = state_of(out.read_text(encoding="utf-8"))
    assert state["epochs"] == [0, 1, 2, 3, 4] and state["boundary"] is not None


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["--watch", "p.png"], 2, "--watch: cannot tell the format of 'p.png': its name must end in .html"),
        (["--watch", "missing/p.html"], 1, "--watch: the directory 'missing' does not exist"),
        (
            ["--watch", "p.html", "--watch-example", "140"],
            2,
            "--watch-example 140: the training split has 140",
        ),
        (
            ["--watch", "p.html", "--watch-example", "-1"],
            2,
            "argument --watch-example: must be an integer >= 0",
        ),
        (["--watch", "p.html", "--hidden", "40,40"], 2, "--watch: one example's graph has"),
    ],
)
def test_bad_watch_options_are_one_clear_line(args, status, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    try:
        code = main(["train", "moons", "--epochs", "1", *args])
    except SystemExit as e:  # a usage error: argparse's exit
        code = e.code
    assert code == status
    assert message in capsys.readouterr().err
    assert not (tmp_path / "p.html").exists()


def test_help_says_what_watch_writes(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--watch FILE.html" in text and "--watch-example N" in text
    assert "evenly spaced, said on the page" in text and "--watch moons.html" in text


# --- in the browser --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    yield from launched()


class Browser(Recorded):
    """The page at a viewport size, with every request and console error recorded."""

    def __init__(self, browser, path: Path, size=(1400, 1000)):
        super().__init__(browser, path, size)

    def epoch(self) -> int:
        return int(self.page.inner_text("#counter").split()[1])

    def boxes(self) -> dict:
        """Every node's box: in the drawing's coordinates, and on the screen."""
        return self.page.evaluate(
            """() => Object.fromEntries(Array.from(document.querySelectorAll('#view g.node')).map(g => {
                 const s = g.querySelector('polygon, ellipse, text'), b = s.getBBox(),
                   r = g.getBoundingClientRect();
                 return [g.id, [b.x, b.y, b.width, b.height, r.x, r.y, r.width, r.height]]; }))"""
        )

    def text(self, node_id: str, prefix: str) -> str:
        return self.page.evaluate(
            """([id, prefix]) => Array.from(document.getElementById(id).querySelectorAll('text'))
                 .map(t => t.textContent).find(t => t.startsWith(prefix))""",
            [node_id, prefix],
        )

    def curve_points(self) -> int:
        points = self.page.get_attribute("#loss-line", "points").split()
        return len(points)


def check_epoch(b: Browser, page: TrainingPage, s: int) -> None:
    """What the screen says at recorded epoch s is what Python computed."""
    record = page.records[s]
    k = record.epoch
    assert b.epoch() == k
    assert b.page.inner_text("#loss") == fmt(page.losses[k])
    assert b.page.inner_text("#example-loss") == fmt(record.graph.nodes[record.graph.root].data)
    assert b.curve_points() == k + 1  # epochs 0 to k
    for node in record.graph.nodes:
        if node.is_leaf and node.label:  # the inputs and every weight and bias
            assert b.text(f"v{node.id}", "grad ") == "grad " + fmt(node.grad), (k, node.id)
    first = record.graph.edges[len(record.graph.edges) // 2]
    assert b.text(f"e{len(record.graph.edges) // 2}", "carries ") == "carries " + fmt(first.carried)
    fills = b.page.evaluate(
        "() => Array.from(document.querySelectorAll('#boundary rect')).map(r => r.getAttribute('fill'))"
    )
    assert len(fills) == GRID * GRID
    assert len(set(fills)) == len(set(record.classes))  # one colour per class the grid predicts


def test_stepping_through_epochs_shows_pythons_numbers_and_moves_no_node(browser, small):
    page = small[0]
    b = Browser(browser, page.path)
    before = b.boxes()
    assert len(before) > 50
    check_epoch(b, page, 0)
    for s in range(1, 4):
        b.page.keyboard.press("ArrowRight")
        check_epoch(b, page, s)
    b.page.keyboard.press("End")
    check_epoch(b, page, 12)
    b.page.keyboard.press("ArrowLeft")
    check_epoch(b, page, 11)
    b.page.fill("#slider", "7")  # the slider: an input event
    check_epoch(b, page, 7)
    b.page.keyboard.press("Home")
    check_epoch(b, page, 0)
    after = b.boxes()
    moved = max(abs(x - y) for k in before for x, y in zip(before[k], after[k], strict=True))
    assert moved == 0  # 0 px: in the drawing and on the screen
    assert b.errors == [] and b.requests == [b.url]
    b.page.close()


def test_the_page_works_at_1000_by_700_and_plays(browser, small):
    page = small[0]
    b = Browser(browser, page.path, (1000, 700))
    b.page.keyboard.press(" ")
    assert b.page.inner_text("#play") == "pause"
    b.page.wait_for_function("() => window.chainrule.epoch() >= 3")
    b.page.keyboard.press(" ")
    assert b.page.inner_text("#play") == "play"
    check_epoch(b, page, b.epoch())
    view = b.page.evaluate("() => document.getElementById('view').getBoundingClientRect().width")
    assert view > 500  # the graph keeps most of the window beside the curve and the boundary
    assert b.errors == []
    b.page.close()


def test_hostile_text_stays_text_in_the_browser(browser, tmp_path):
    page, _, _ = small_page(tmp_path / "hostile.html", epochs=2, title=HOSTILE)
    b = Browser(browser, page.path)
    assert b.page.evaluate("() => window.pwned") is None
    assert b.page.inner_text("h1") == HOSTILE
    b.page.keyboard.press("End")
    assert b.epoch() == 2 and b.errors == [] and b.requests == [b.url]
    b.page.close()


def test_sampled_pages_say_so_on_screen(browser, tmp_path):
    page, _, _ = small_page(tmp_path / "sampled.html", epochs=20, max_frames=5)
    b = Browser(browser, page.path)
    assert page.sampled in b.page.inner_text("#sampled")
    b.page.keyboard.press("ArrowRight")
    assert b.epoch() == 5 and "(recorded 2 of 5)" in b.page.inner_text("#counter")
    assert b.curve_points() == 6 and not math.isnan(page.losses[5])
    b.page.close()
