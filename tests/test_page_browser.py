"""The backprop page in a real browser: Debian's chromium, driven by Playwright (which never
downloads a browser here: it launches the system's). Skipped only when no chromium is installed."""

import math
import random
import re

import pytest
from browser import CHROMIUM, Recorded, launched
from test_dot import mlp_loss
from test_frames import forward, random_graph

from autograd import Value
from nn.worked_example import worked_example
from viz import backprop_frames, backprop_html, trace
from viz.frames import backprop_steps
from viz.graph import gradients
from viz.style import fmt

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium (apt-get install chromium)")
HOSTILE = "</script><script>window.pwned=1</script>"


@pytest.fixture(scope="module")
def browser():
    yield from launched()


class Page(Recorded):
    """A page (1400x1000 unless told) that records every request and every console error. It asks for
    reduced motion unless ``motion``: the view then pans at once, so a test reads where it ends."""

    def __init__(self, browser, path, width=1400, height=1000, motion=False):
        super().__init__(
            browser, path, (width, height), reduced_motion="no-preference" if motion else "reduce"
        )

    def step(self) -> int:
        return int(self.page.inner_text("#counter").split()[1])

    def shapes(self) -> dict:
        """Node id -> its box in the drawing's own coordinates (independent of zoom and scroll)."""
        return self.page.evaluate(
            """() => Object.fromEntries(Array.from(document.querySelectorAll('#view g.node[id^="v"]'))
                 .map(g => { const s = g.querySelector('polygon, ellipse, text').getBBox();
                             return [g.id, [s.x, s.y, s.width, s.height]]; }))"""
        )

    def on_screen(self) -> tuple[list, dict]:
        """(the view's scroll, node id -> its box on the screen, getBoundingClientRect)."""
        return self.page.evaluate(
            """() => { const v = document.getElementById('view');
                 return [[v.scrollLeft, v.scrollTop], Object.fromEntries(
                   Array.from(v.querySelectorAll('g.node[id^="v"]')).map(g => {
                     const r = g.getBoundingClientRect();
                     return [g.id, [r.x, r.y, r.width, r.height]]; }))]; }"""
        )

    def current_in_view(self) -> bool:
        return self.page.evaluate(
            """() => { const v = document.getElementById('view').getBoundingClientRect();
                 const g = Array.from(document.querySelectorAll('#view g.node polygon'))
                   .find(p => p.getAttribute('stroke') === JSON.parse(
                        document.getElementById('state').textContent).current);
                 if (!g) return false;
                 const r = g.getBoundingClientRect();
                 return r.left >= v.left && r.right <= v.right && r.top >= v.top && r.bottom <= v.bottom; }"""
        )

    def close(self):
        self.page.close()


@pytest.fixture(scope="module")
def worked(tmp_path_factory):
    return backprop_html(worked_example()["E"], tmp_path_factory.mktemp("page") / "worked.html")


def test_one_key_press_is_one_step_whatever_has_focus(browser, worked):
    p = Page(browser, worked)
    p.page.click("#slider")  # the slider now has focus: its own arrow handling must not add a step
    start = p.step()
    p.page.keyboard.press("ArrowRight")
    assert p.step() == start + 1
    p.page.keyboard.press("ArrowLeft")
    p.page.keyboard.press("ArrowLeft")
    assert p.step() == start - 1
    assert int(p.page.input_value("#slider")) == start - 2  # slider, counter and caption agree
    assert p.page.inner_text("#caption").startswith(f"step {start - 1} of 33:")
    p.page.click("#next")  # a focused button: space must not click it as well as play
    after_click = p.step()
    p.page.keyboard.press("ArrowRight")
    assert p.step() == after_click + 1
    p.page.keyboard.press("End")
    assert p.step() == 33
    p.page.keyboard.press("Home")
    assert p.step() == 1
    p.page.keyboard.press(" ")
    assert p.page.inner_text("#play") == "pause"
    p.page.keyboard.press(" ")
    assert p.page.inner_text("#play") == "play" and p.step() == 1
    assert p.errors == []
    p.close()


def test_every_node_keeps_its_place_and_the_current_one_is_in_view(browser, worked):
    p = Page(browser, worked)
    first = p.shapes()
    assert len(first) == 37  # every node, constants included
    for _ in range(33 // 2):
        p.page.keyboard.press("ArrowRight")
        assert p.current_in_view()
    assert p.step() == 1 + 33 // 2
    assert p.shapes() == first
    p.close()


def test_worked_example_text_is_readable_without_zooming(browser, worked):
    p = Page(browser, worked)
    sizes = p.page.evaluate(
        """() => { const svg = document.querySelector('#view svg'), scale = svg.getScreenCTM().a;
             return Array.from(svg.querySelectorAll('g.node[id^="v"] text'))
               .filter(t => t.getAttribute('font-size') === '11.00')
               .map(t => [parseFloat(t.getAttribute('font-size')) * scale,
                          t.getBoundingClientRect().height]); }"""
    )
    assert len(sizes) > 60
    assert min(px for px, _ in sizes) >= 11  # the font's size in CSS pixels
    assert min(height for _, height in sizes) >= 11  # and the drawn text's height
    p.page.click("#fit")
    fitted = p.page.evaluate("() => document.querySelector('#view svg').getBoundingClientRect().width")
    assert fitted <= 1400
    p.page.click("#actual")
    assert p.page.evaluate("() => document.querySelector('#view svg').getScreenCTM().a") == pytest.approx(
        4 / 3, rel=1e-4
    )
    p.close()


def test_no_request_beyond_the_file_and_no_console_error(browser, worked):
    p = Page(browser, worked)
    for key in ("ArrowRight", "End", "Home", "ArrowLeft"):
        p.page.keyboard.press(key)
    p.page.click("#zoomin")
    p.page.click("#zoomout")
    assert p.requests == [p.url]
    assert p.errors == []
    p.close()


def test_a_hostile_label_shows_as_text_and_runs_nothing(browser, tmp_path):
    x = Value(0.5, label=HOSTILE)
    y = (x * 2.0).tanh()
    y.label = "y"
    path = backprop_html(y, tmp_path / "hostile.html", title=HOSTILE)
    p = Page(browser, path)
    p.page.keyboard.press("End")  # the caption of x names it
    assert p.page.evaluate("() => window.pwned") is None
    assert HOSTILE in p.page.inner_text("#caption")
    assert HOSTILE in p.page.inner_text("h1")
    texts = p.page.evaluate(
        "() => Array.from(document.querySelectorAll('#view text')).map(t => t.textContent)"
    )
    assert HOSTILE in texts
    assert p.errors == []
    p.close()


def test_an_mlp_page_follows_the_current_node(browser, tmp_path):
    path = backprop_html(mlp_loss([4, 4, 1]), tmp_path / "mlp.html")
    p = Page(browser, path)
    first = p.shapes()
    for _ in range(0, 86 - 1):
        p.page.keyboard.press("ArrowRight")
        assert p.current_in_view(), p.step()
    assert p.step() == 86 and p.shapes() == first
    assert p.errors == [] and p.requests == [p.url]
    p.close()


@pytest.mark.parametrize("which", ["worked", "mlp", "collapsed"])
def test_the_drawing_stays_still_on_screen_while_the_view_does_not_scroll(browser, worked, tmp_path, which):
    # the caption area has a fixed height: a caption of more lines must not push the drawing down
    import nn

    if which == "worked":
        path = worked
    else:
        X, y = nn.datasets.moons(n=100, noise=0.1, seed=0)
        sizes = [4, 4, 1] if which == "mlp" else [16, 16, 1]
        loss = nn.hinge(nn.MLP(2, sizes, seed=0)(X[3]), [2 * y[3] - 1])
        path = backprop_html(loss, tmp_path / "page.html", collapsed=which == "collapsed")
    p = Page(browser, path)
    count = int(p.page.inner_text("#counter").split()[-1])
    header = p.page.evaluate("() => document.querySelector('header').getBoundingClientRect().height")
    lines = set()
    still = 0
    scroll, boxes = p.on_screen()
    for _ in range(count - 1):
        p.page.keyboard.press("ArrowRight")
        lines.add(p.page.inner_text("#caption").count("\n"))
        now_scroll, now_boxes = p.on_screen()
        if now_scroll == scroll:  # no scroll: every node must be exactly where it was on screen
            assert now_boxes == boxes, p.step()
            still += 1
        scroll, boxes = now_scroll, now_boxes
        assert (
            p.page.evaluate("() => document.querySelector('header').getBoundingClientRect().height") == header
        )
    assert (
        len(lines) > 1 and still > 0
    )  # captions of different lengths, compared on steps that did not scroll
    assert p.errors == []
    p.close()


def frame_texts(source: str) -> tuple[dict, dict]:
    """(node id -> its gradient row, edge id -> its "carries" or "dL/dw" row) as a Python frame draws them."""
    nodes = re.findall(r'\tv\d+ \[label=<[^\n]*?>(grad [^<]*)</TD>[^\n]*? id="(v\d+)"', source)
    edges = re.findall(r'\t\S+ -> \S+ \[[^\n]*?>((?:carries|dL/dw) [^<]*)</TD>[^\n]*? id="(e\d+)"', source)
    return {i: text for text, i in nodes}, {i: text for text, i in edges}


SCREEN_TEXTS = r"""() => {
  const rows = (sel, pattern) => Object.fromEntries(Array.from(document.querySelectorAll(sel))
    .map(g => [g.id, Array.from(g.querySelectorAll('text')).map(t => t.textContent)
      .filter(t => pattern.test(t))])
    .filter(([id, t]) => t.length).map(([id, t]) => [id, t[t.length - 1]]));
  return [rows('#view g.node', /^grad /), rows('#view g.edge', /^(carries|dL\/dw) /)];
}"""


def test_a_collapsed_mlp_shows_at_every_step_the_gradients_python_draws(browser, tmp_path):
    """The collapsed view's neurons (several uses each) and weights (dL/dw on the edges), read on screen."""
    import nn

    X, y = nn.datasets.moons(n=100, noise=0.1, seed=0)
    loss = nn.hinge(nn.MLP(2, [4, 4, 1], seed=0)(X[3]), [2 * y[3] - 1])
    frames = [frame_texts(f.source) for f in backprop_frames(loss, collapsed=True)]
    p = Page(browser, backprop_html(loss, tmp_path / "collapsed.html", collapsed=True))
    sums = 0
    for s, (nodes, edges) in enumerate(frames):
        assert p.step() == s + 1
        assert p.page.evaluate(SCREEN_TEXTS) == [nodes, edges], s + 1
        sums += sum("so far" in t for t in nodes.values())
        p.page.keyboard.press("ArrowRight")
    assert sums > 0 and any(t.startswith("dL/dw ") and "?" not in t for t in frames[-1][1].values())
    assert p.errors == []
    p.close()


def test_every_gradient_on_screen_at_every_step_is_the_one_python_draws(browser, worked):
    """What the learner reads: each box's gradient (final, the sum so far or "?") and each edge's
    carried gradient, at every step, equal the Python frames' texts; h1's sum builds on screen."""
    ex = worked_example()
    frames = [frame_texts(f.source) for f in backprop_frames(ex["E"])]
    steps = backprop_steps(ex["E"])
    h1 = steps.graph.values.index(ex["h"][0])
    (first, second) = sorted(steps.graph.uses()[h1], key=lambda e: steps.order.index(e.child))
    a = steps.order.index(first.child)
    p = Page(browser, worked)
    seen = []
    for s, (nodes, edges) in enumerate(frames):
        assert p.step() == s + 1
        on_screen = p.page.evaluate(SCREEN_TEXTS)
        assert on_screen == [nodes, edges], s + 1
        seen.append(on_screen[0][f"v{h1}"])
        p.page.keyboard.press("ArrowRight")
    carried = fmt(first.carried)  # h1's first use: d E / d (w5 · h1) x w5
    assert carried == fmt(steps.graph.values[first.child].grad * ex["w2"][0][0].data)
    assert seen[a - 1] == "grad ?" and seen[a] == f"grad {carried} so far, 1 of 2 uses"
    assert seen[-1] == f"grad {fmt(ex['h'][0].grad)}"
    assert len({t for t in seen if "so far" in t}) == 2  # 1 of 2, then 2 of 2, then final
    assert p.errors == []
    p.close()


CAPTION = """() => {
  const c = document.getElementById('caption'), box = c.getBoundingClientRect(), style = getComputedStyle(c);
  const text = c.textContent, lines = text.split('\\n');
  const rect = (line, col) => {  // the screen box of one character of the caption
    let offset = 0;
    for (let k = 0; k < line; k++) offset += lines[k].length + 1;
    const r = document.createRange(), node = c.firstChild.nextSibling || c.firstChild.firstChild;
    const inHead = line === 0, target = inHead ? c.firstChild.firstChild : c.lastChild;
    const at = inHead ? col : offset + col - lines[0].length;
    r.setStart(target, at); r.setEnd(target, at + 1);
    return r.getBoundingClientRect();
  };
  const inside = r => r.top >= box.top && r.bottom <= box.top + c.clientHeight + 1 && r.left >= box.left;
  const first = rect(0, 0), lastLine = lines.length - 1;
  const equals = lines.map((ln, k) => k > 1 && /^ +[=+] /.test(ln) ? rect(k, ln.search(/[=+]/)).left : null);
  const head = c.firstChild.tagName;
  c.scrollTop = c.scrollHeight;
  const last = rect(lastLine, 0);
  const reached = inside(last);
  c.scrollTop = 0;
  return {lines, firstVisible: inside(first), head, reached, whiteSpace: style.whiteSpace,
          overflowY: style.overflowY, overflows: c.scrollHeight > c.clientHeight,
          wide: c.scrollWidth > c.clientWidth, moreText: document.getElementById('more').textContent,
          more: !document.getElementById('more').hidden, equals,
          pageFits: document.documentElement.scrollHeight <= innerHeight};
}"""


@pytest.mark.parametrize("which", ["worked", "mlp"])
@pytest.mark.parametrize("width", [1000, 1400])
def test_the_caption_says_the_value_first_and_nothing_is_cut_off(browser, worked, tmp_path, which, width):
    path = worked if which == "worked" else backprop_html(mlp_loss([4, 4, 1]), tmp_path / "mlp.html")
    height = 700 if width == 1000 else 1000
    p = Page(browser, path)
    p.page.set_viewport_size({"width": width, "height": height})
    count = int(p.page.inner_text("#counter").split()[-1])
    overflowed = 0
    for s in range(count):
        c = p.page.evaluate(CAPTION)
        value = re.fullmatch(rf"step {s + 1} of {count}: d\S+/d.+ = -?[\d.]+(e-?\d+)?", c["lines"][0])
        assert value, c["lines"][0]  # the first line states the value ...
        assert c["firstVisible"] and c["head"] == "STRONG", s + 1  # ... in view, in bold
        assert c["reached"], s + 1  # the last line can be scrolled to
        assert c["whiteSpace"] == "pre" and c["overflowY"] == "auto"  # lines never wrap
        assert c["more"] == (c["overflows"] or c["wide"]), s + 1  # said exactly when it goes on
        if c["more"]:
            assert ("below" in c["moreText"]) == c["overflows"] and ("right" in c["moreText"]) == c["wide"]
        assert c["pageFits"]
        columns = {round(x, 1) for x in c["equals"] if x is not None}
        assert len(columns) <= 1, (s + 1, c["lines"])  # every "=" and "+" of the sum in one column
        overflowed += c["overflows"]
        p.page.keyboard.press("ArrowRight")
    assert (overflowed > 0) == (which == "mlp")  # the MLP's inputs have long sums: they scroll
    assert p.errors == []
    p.close()


PLACEHOLDERS = "{title}{height}{counter}{last}{count}{state}{script}{svg}"
ALERT = "</script><script>alert(1)</script>"


def test_a_label_or_title_naming_the_placeholders_is_shown_as_written(browser, tmp_path):
    x = Value(0.5, label=PLACEHOLDERS + ALERT)
    w = Value(-2.0, label="{svg}")
    y = (x * w).tanh()
    y.label = "{script}" + ALERT
    path = backprop_html(y, tmp_path / "placeholders.html", title=PLACEHOLDERS + ALERT)
    p = Page(browser, path)
    dialogs = []
    p.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    p.page.reload()
    assert p.page.inner_text("h1") == PLACEHOLDERS + ALERT
    assert p.page.title() == PLACEHOLDERS + ALERT
    assert p.page.inner_text("#caption").startswith(f"step 1 of 4: d({{script}}{ALERT})/d")
    texts = p.page.evaluate(
        "() => Array.from(document.querySelectorAll('#view text')).map(t => t.textContent)"
    )
    assert PLACEHOLDERS + ALERT in texts and "{svg}" in texts and "{script}" + ALERT in texts
    captions = []
    for s in range(4):
        assert p.step() == s + 1 and int(p.page.input_value("#slider")) == s
        captions.append(p.page.inner_text("#caption"))
        p.page.keyboard.press("ArrowRight")
    assert p.step() == 4
    assert any(f"/d({PLACEHOLDERS}{ALERT}) = " in c for c in captions)
    p.page.fill("#slider", "1")  # the slider itself moves the steps too
    assert p.step() == 2
    assert dialogs == [] and p.errors == []
    p.close()


# --- change a value and watch --------------------------------------------------------------------


def engine_numbers(root: Value) -> tuple[list, list, list]:
    """(values, gradients, local derivatives) of the graph below root, from the Python engine."""
    graph = trace(root, gradients(root))
    return [n.data for n in graph.nodes], [n.grad for n in graph.nodes], [e.local for e in graph.edges]


def page_numbers(p: Page) -> tuple[list, list, list]:
    """The page's numbers now, as floats (Playwright gives an integral number as an int)."""
    return tuple(
        [float(x) for x in p.page.evaluate(f"() => window.chainrule.{f}()")]
        for f in ("values", "grads", "locals")
    )


def assert_close(page: list, python: list, what: str) -> None:
    assert len(page) == len(python), what
    for k, (a, b) in enumerate(zip(page, python)):
        assert abs(a - b) <= 1e-12 * max(1.0, abs(b)), (what, k, a, b)


def edit(p: Page, node: int, text: str) -> str:
    """Click node's box (or number), type ``text``; the message the page gives."""
    p.page.click(f"#v{node}")
    assert p.page.evaluate("() => document.activeElement.id") == "edit-value"
    p.page.fill("#edit-value", text)
    return p.page.inner_text("#edit-message")


def test_the_page_writes_numbers_as_python_does(browser, worked):
    rng = random.Random(0)
    xs = [
        0.0,
        1.0,
        -1.0,
        0.1,
        0.5,
        0.25,
        0.40625,
        -0.03125,
        1.03125,
        12345.0,
        2.5,
        9.99995,
        9.99996,
        0.099996,
    ]
    xs += [0.0009999, 1e-5, 1.5e-7, 123456789.0, 1e16, 1e300, 5e-324, -2.2250738585072014e-308, 1 / 3]
    xs += [float("inf"), float("-inf"), float("nan")]
    xs += [rng.uniform(-1, 1) * 10 ** rng.randint(-12, 12) for _ in range(300)]
    xs += [rng.randint(-99999, 99999) / 2 ** rng.randint(0, 12) for _ in range(200)]  # ties in decimal
    p = Page(browser, worked)
    for precision in (1, 2, 3, 4, 6, 8, 10, 17):
        shown = p.page.evaluate("([xs, p]) => xs.map(x => window.chainrule.fmt(x, p))", [xs, precision])
        assert shown == [fmt(x, precision) for x in xs], precision
    lists = [
        [rng.uniform(-1, 1) * 10 ** rng.randint(-20, 20) for _ in range(rng.randint(1, 9))]
        for _ in range(200)
    ]
    lists += [[1e100, 1.0, -1e100], [0.1] * 10, [1e308, 1e308, -1e308], [2.0**-1074, 1.0, -1.0]]
    sums = p.page.evaluate("ls => ls.map(l => window.chainrule.fsum(l))", lists)
    for xs_, s in zip(lists, sums):
        try:
            exact = math.fsum(xs_)
        except OverflowError:  # the page's sum op then adds left to right, as autograd's _sum does
            exact = None
        assert (s if s is None else float(s)) == exact, xs_  # (an integral number comes back an int)
    p.close()


def test_every_primitive_has_a_rule_in_the_page(browser, worked):
    from autograd import OPS

    p = Page(browser, worked)
    assert set(p.page.evaluate("() => window.chainrule.rules()")) == set(OPS) | {"**k"}
    p.close()


@pytest.mark.parametrize("seed", range(5))
def test_an_edited_leaf_gives_the_python_engines_numbers_on_random_graphs_of_every_primitive(
    browser, tmp_path, seed
):
    """Set one leaf, then another, on the page: every value, local derivative and gradient, and
    every caption, is what Python computes for the same graph built with those leaves."""
    from autograd import OPS

    root, leaves, used = random_graph(seed)
    assert used >= set(OPS) | {"**k"}
    p = Page(browser, backprop_html(root, tmp_path / "random.html"))
    assert_close(page_numbers(p)[0], engine_numbers(root)[0], "before")
    ids = forward(root)
    rng = random.Random(seed)
    present = {int(v.label[1:]): i for i, v in enumerate(ids) if v.label.startswith("x")}
    for k in rng.sample(sorted(present), 2):
        leaves[k] = round(leaves[k] + rng.uniform(-1.5, 1.5), 6)
        x = present[k]
        assert "every number recomputed" in edit(p, x, repr(leaves[k]))
        again, _, _ = random_graph(seed, list(leaves))
        for got, want, what in zip(page_numbers(p), engine_numbers(again), ("values", "grads", "locals")):
            assert_close(got, want, what)
    captions = backprop_steps(again).captions
    p.page.click("#first")
    for s, caption in enumerate(captions):
        assert p.page.evaluate("() => window.chainrule.caption()") == caption, s
        assert p.page.inner_text("#caption") == caption, s  # the caption shown says the new numbers
        p.page.keyboard.press("ArrowRight")
    assert p.errors == [] and p.requests == [p.url]
    p.close()


def drawn_texts(source: str) -> dict:
    """Node id -> its "data" row, edge id -> its "local" row, as a Python drawing writes them."""
    rows = re.findall(r"\t(v\d+) \[label=<[^\n]*?(data [^<]*)<", source)
    rows += [
        (i, t) for t, i in re.findall(r"\t\S+ -> \S+ \[[^\n]*?(local [^<]*)<[^\n]*? id=\"(e\d+)\"", source)
    ]
    return dict(rows)


SCREEN_ROWS = r"""() => Object.fromEntries(
  Array.from(document.querySelectorAll('#view g.node, #view g.edge')).flatMap(g =>
    Array.from(g.querySelectorAll('text')).map(t => t.textContent).filter(t => /^(data|local) /.test(t))
      .map(t => [g.id, t])))"""


def test_an_edited_worked_example_weight_shows_what_python_draws(browser, worked, monkeypatch):
    """w2[0][0] from 0.45 to 0.5, on the page: each box's value and gradient, each edge's local
    derivative and carried gradient, at every step, and every caption, as Python draws the
    worked example built with that weight; reset brings the first numbers back."""
    import nn.worked_example as we

    before = worked_example()
    first = [frame_texts(f.source) for f in backprop_frames(before["E"])]
    monkeypatch.setattr(we, "W2", ((0.5, 0.4), (0.7, 0.6)))
    ex = we.worked_example()
    frames = list(backprop_frames(ex["E"]))
    steps = backprop_steps(ex["E"])
    w = steps.graph.values.index(ex["w2"][0][0])
    p = Page(browser, worked)
    assert edit(p, w, "0.5") == "w2[0][0] = 0.5: every number recomputed"
    p.page.click("#first")
    for s, frame in enumerate(frames):
        assert p.page.evaluate(SCREEN_TEXTS) == list(frame_texts(frame.source)), s + 1
        assert p.page.inner_text("#caption") == steps.captions[s], s + 1
        p.page.keyboard.press("ArrowRight")
    assert p.page.evaluate(SCREEN_ROWS) == drawn_texts(frames[-1].source)
    fills = p.page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('#view g.node[id^="v"] polygon'))
             .map(s => [s.parentNode.id, s.getAttribute('fill')]))"""
    )
    python_fills = dict(re.findall(r'\t(v\d+) \[label=<[^\n]*? fillcolor="([^"]+)"', frames[-1].source))
    assert fills == python_fills  # coloured by the new gradients, as Python colours them
    assert first[-1] != list(frame_texts(frames[-1].source))  # the edit did change numbers on screen
    assert_close(page_numbers(p)[1], engine_numbers(ex["E"])[1], "grads")
    p.page.click("#reset")
    assert page_numbers(p) == engine_numbers(before["E"])
    assert p.page.evaluate(SCREEN_TEXTS) == list(first[-1])
    assert p.errors == [] and p.requests == [p.url]
    p.close()


def test_an_edited_constant_drawn_as_a_number_gives_the_python_engines_numbers(browser, worked, monkeypatch):
    import nn.worked_example as we

    graph = backprop_steps(worked_example()["E"]).graph
    target = next(n.id for n in graph.nodes if graph.is_constant(n.id) and n.data == 0.4)
    p = Page(browser, worked)
    assert edit(p, target, "0.3").endswith(" = 0.3: every number recomputed")
    assert p.page.text_content(f"#v{target} text") == "0.3"
    monkeypatch.setattr(we, "T", (0.3, 0.6))
    for got, want, what in zip(page_numbers(p), engine_numbers(we.worked_example()["E"]), "vgl"):
        assert_close(got, want, what)
    p.close()


def test_a_bad_number_is_refused_visibly_and_changes_nothing(browser, tmp_path):
    x = Value(2.0, label=HOSTILE)
    y = (x.log() * Value(3.0, label="w")).tanh()
    y.label = "y"
    p = Page(browser, backprop_html(y, tmp_path / "bad.html"))
    before, caption = page_numbers(p), p.page.inner_text("#caption")
    xid = 0
    edit(p, xid, "2")
    assert p.page.inner_text("#edit-name") == HOSTILE  # the label, shown as text
    for text, said in [
        ("", "type a number"),
        ("abc", "“abc” is not a number"),
        ("NaN", "“NaN” is not a number"),
        ("1e999", "too large"),
        ("-1", "log() of -1.0 is undefined (at "),
        ("0", "log() of 0.0 is undefined"),
    ]:
        p.page.fill("#edit-value", text)
        message = p.page.inner_text("#edit-message")
        assert message.startswith("refused: ") and said in message, (text, message)
        assert message.endswith("nothing changed")
        assert p.page.evaluate("() => getComputedStyle(document.getElementById('edit-message')).color") == (
            "rgb(178, 24, 43)"
        )
        assert page_numbers(p) == before and p.page.inner_text("#caption") == caption
    p.page.fill("#edit-value", "3")
    assert page_numbers(p)[0][xid] == 3.0
    assert_close(page_numbers(p)[1], engine_numbers((Value(3.0).log() * 3.0).tanh())[1], "grads")
    p.page.click("#reset")
    assert page_numbers(p) == before and p.page.input_value("#edit-value") == "2"
    assert p.page.evaluate("() => window.pwned") is None
    assert p.errors == [] and p.requests == [p.url]
    p.close()


def test_keys_typed_in_the_number_field_do_not_move_the_steps(browser, worked):
    p = Page(browser, worked)
    p.page.keyboard.press("ArrowRight")
    assert p.step() == 2
    p.page.click("#v0")
    p.page.keyboard.press("End")
    p.page.keyboard.press("ArrowLeft")
    p.page.keyboard.press("Home")
    p.page.keyboard.press("Shift+End")
    p.page.keyboard.type("0.15")
    p.page.keyboard.press(" ")
    assert p.step() == 2 and p.page.inner_text("#play") == "play"
    assert p.page.input_value("#edit-value") == "0.15 "  # typed, with the space, and accepted
    assert page_numbers(p)[0][0] == 0.15
    p.page.keyboard.press("Enter")  # done: the page's own keys work again
    p.page.keyboard.press("ArrowRight")
    assert p.step() == 3 and page_numbers(p)[0][0] == 0.15
    p.close()


def test_a_collapsed_page_says_values_change_on_the_full_drawing(browser, tmp_path):
    path = backprop_html(mlp_loss([2, 1]), tmp_path / "collapsed.html", collapsed=True)
    p = Page(browser, path)
    assert "collapsed=False" in p.page.inner_text("#edit-hint")
    assert p.page.evaluate("() => window.chainrule.values()") is None
    p.page.keyboard.press("End")
    assert p.errors == []
    p.close()


def test_dragging_a_value_recomputes_like_typing_it(browser, worked, monkeypatch):
    import nn.worked_example as we

    p = Page(browser, worked)
    ex = worked_example()
    edit(p, backprop_steps(ex["E"]).graph.values.index(ex["x"][0]), "0.1")
    p.page.fill("#edit-drag", "50")  # half of max(1, |0.1|) up: 0.6
    assert p.page.input_value("#edit-value") == "0.6"
    assert p.page.inner_text("#edit-message") == "x1 = 0.6: every number recomputed"
    monkeypatch.setattr(we, "X", (0.6, 0.2))
    for got, want, what in zip(page_numbers(p), engine_numbers(we.worked_example()["E"]), "vgl"):
        assert_close(got, want, what)
    p.page.keyboard.press("ArrowRight")  # the slider's own keys: a value, not a step
    assert p.step() == 1 and p.page.input_value("#edit-value") != "0.6"
    assert p.errors == []
    p.close()


def test_a_caption_that_cannot_be_rewritten_says_its_numbers_are_the_original_ones(browser, tmp_path):
    x = Value(0.5, label="x\U000f0001")  # a label with the characters the page's slots are made of
    w = Value(-2.0, label="w")
    y = (x * w).tanh()
    y.label = "y"
    steps = backprop_steps(y)
    p = Page(browser, backprop_html(y, tmp_path / "marks.html"))
    fixed = p.page.evaluate("() => JSON.parse(document.getElementById('state').textContent).fixed")
    assert fixed and all("x\U000f0001" in steps.captions[s] for s in fixed)
    p.page.click("#v1")
    p.page.fill("#edit-value", "-1")
    p.page.click("#last")
    captions = []
    for _ in steps.order:
        captions.append(p.page.inner_text("#caption"))
        p.page.keyboard.press("ArrowLeft")
    for s, caption in zip(reversed(range(len(steps.order))), captions):
        assert caption.endswith("\n(this caption keeps the original numbers)") == (s in fixed), s
    assert p.errors == []
    p.close()


def test_a_relu_brought_to_life_loses_its_dead_row_and_takes_its_colour(browser, tmp_path):
    def build(x0: float) -> Value:
        y = (Value(x0, label="x") * Value(2.0, label="w")).relu() * Value(3.0, label="k")
        y.label = "y"
        return y

    p = Page(browser, backprop_html(build(-1.0), tmp_path / "relu.html"))
    dead = """() => Array.from(document.querySelectorAll('#view g.node text'))
      .filter(t => t.textContent === 'dead ReLU').map(t => getComputedStyle(t).visibility)"""
    assert p.page.evaluate(dead) == ["visible"]
    edit(p, 0, "1")
    assert p.page.evaluate(dead) == ["hidden"]
    p.page.click("#last")
    source = next(iter(reversed(list(backprop_frames(build(1.0)))))).source
    python_fills = dict(re.findall(r'\t(v\d+) \[label=<[^\n]*? fillcolor="([^"]+)"', source))
    fills = p.page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('#view g.node[id^="v"] polygon'))
             .map(s => [s.parentNode.id, s.getAttribute('fill')]))"""
    )
    assert fills == python_fills and p.page.evaluate(SCREEN_TEXTS) == list(frame_texts(source))
    dashes = "() => Array.from(document.querySelectorAll('#view polygon[stroke-dasharray]')).length"
    assert p.page.evaluate(dashes) == 0
    edit(p, 0, "-2")
    assert p.page.evaluate(dead) == ["visible"] and p.page.evaluate(dashes) == 1
    assert p.errors == []
    p.close()


# --- the view follows the steps: few, small, smooth moves --------------------------------------------

VIEW = """() => { const v = document.getElementById('view'), r = v.getBoundingClientRect();
  const st = JSON.parse(document.getElementById('state').textContent);
  const step = +document.getElementById('slider').value;
  const box = document.querySelector('#v' + st.order[step] + ' polygon').getBoundingClientRect();
  const top = r.top + v.clientTop, left = r.left + v.clientLeft;
  return {scroll: [v.scrollLeft, v.scrollTop], inside: box.left >= left && box.right <= left + v.clientWidth
    && box.top >= top && box.bottom <= top + v.clientHeight}; }"""


def settled(p: Page) -> dict:
    """The view once it has stopped gliding: its scroll and whether the current node's box is inside."""
    p.page.wait_for_function("() => !window.chainrule.view().moving")
    return p.page.evaluate(VIEW)


def view_moves(p: Page) -> tuple[int, int]:
    """Step through the whole page with the key: (steps on which the view moved, steps taken); every
    step's box must be fully inside the view once it has settled."""
    count = int(p.page.inner_text("#counter").split()[-1])
    before = settled(p)
    assert before["inside"]
    moves = 0
    for _ in range(count - 1):
        p.page.keyboard.press("ArrowRight")
        now = settled(p)
        assert now["inside"], p.step()
        moves += now["scroll"] != before["scroll"]
        before = now
    return moves, count - 1


BOXES = """() => { const st = JSON.parse(document.getElementById('state').textContent);
  const v = document.getElementById('view');
  return [v.clientWidth, v.clientHeight, st.order.map(i => document.querySelector('#v' + i + ' polygon'))
    .filter(g => g).map(g => g.getBoundingClientRect()).map(r => [r.left, r.top, r.right, r.bottom])]; }"""


def fewest_moves(p: Page) -> int:
    """The fewest moves any panning that shows each step's whole box could make: the steps split into
    the longest runs whose boxes fit in the view together (greedy, which is optimal for runs)."""
    width, height, boxes = p.page.evaluate(BOXES)
    runs, box = 1, boxes[0]
    for r in boxes[1:]:
        u = [min(box[0], r[0]), min(box[1], r[1]), max(box[2], r[2]), max(box[3], r[3])]
        runs, box = (runs + 1, r) if u[2] - u[0] > width or u[3] - u[1] > height else (runs, u)
    return runs - 1


# Measured at 1000x700 (a view of 1000x392 under the controls and the caption, 1000x431 for the
# worked example's shorter captions): 23 moves in 85 MLP steps (27%; 46 when every step whose box
# came near an edge re-centred it) and 5 in 32 worked-example steps (16%; 9 before), the fewest any
# panning could make: the MLP's layer-2 weights and layer-1 ReLUs alternate in one column ~100 px
# apart, so every 4 of them span 665 px and need two views.
MOST_MOVES = {"mlp": 0.30, "worked": 0.20}


@pytest.mark.parametrize("which", ["mlp", "worked"])
def test_the_view_moves_on_few_steps_and_always_shows_the_current_box(browser, worked, tmp_path, which):
    path = worked if which == "worked" else backprop_html(mlp_loss([4, 4, 1]), tmp_path / "mlp.html")
    p = Page(browser, path, 1000, 700, motion=True)
    fewest = fewest_moves(p)
    moves, steps = view_moves(p)
    assert moves <= MOST_MOVES[which] * steps, (moves, steps)
    assert 0 < fewest <= moves <= fewest + fewest // 10, (
        fewest,
        moves,
    )  # (the graph is larger than the view)
    p.page.keyboard.press("Home")  # back to the start: a jump, and the root's box is in view again
    assert settled(p)["inside"]
    assert p.errors == []
    p.close()


GLIDE = """() => new Promise(done => {  // every scroll position from one step to the end of its glide
  const v = document.getElementById('view'), seen = [[v.scrollLeft, v.scrollTop]];
  document.getElementById('next').click();
  (function frame() {
    seen.push([v.scrollLeft, v.scrollTop]);
    if (window.chainrule.view().moving) requestAnimationFrame(frame); else done(seen);
  })();
})"""


@pytest.mark.parametrize("motion", [True, False])
def test_a_pan_glides_there_unless_the_reader_prefers_reduced_motion(browser, tmp_path, motion):
    p = Page(browser, backprop_html(mlp_loss([4, 4, 1]), tmp_path / "mlp.html"), 1000, 700, motion=motion)
    for _ in range(85):  # the first step whose view moves
        seen = p.page.evaluate(GLIDE)
        if seen[-1] != seen[0]:
            break
    else:
        raise AssertionError("the view never moved")
    aim = p.page.evaluate("() => window.chainrule.view().aim")
    assert seen[-1] == aim and p.page.evaluate(VIEW)["inside"]
    between = {tuple(s) for s in seen} - {tuple(seen[0]), tuple(seen[-1])}
    if motion:  # positions on the way, each nearer the aim than the one before
        assert len(between) >= 2
        dist = [abs(x - aim[0]) + abs(y - aim[1]) for x, y in seen]
        assert all(a >= b for a, b in zip(dist, dist[1:]))
    else:
        assert between == set()  # at once
    p.close()


def test_a_view_the_reader_moved_is_left_where_it_is_while_the_step_stays_in_it(browser, tmp_path):
    p = Page(browser, backprop_html(mlp_loss([4, 4, 1]), tmp_path / "mlp.html"), 1000, 700)
    box = p.page.evaluate(
        """() => { const v = document.getElementById('view'), st = JSON.parse(
             document.getElementById('state').textContent);
           const r = document.querySelector('#v' + st.order[0] + ' polygon').getBoundingClientRect();
           const w = v.getBoundingClientRect(); return [r.left - w.left, r.top - w.top]; }"""
    )
    p.page.evaluate("d => { const v = document.getElementById('view'); v.scrollLeft += d; }", box[0] - 500)
    scroll = p.page.evaluate(VIEW)["scroll"]  # the root's box now in the view's middle, by the reader
    p.page.keyboard.press("ArrowRight")
    p.page.keyboard.press("ArrowLeft")
    assert p.page.evaluate(VIEW) == {"scroll": scroll, "inside": True}
    p.close()


def test_choosing_and_changing_a_value_leaves_the_view_where_the_reader_put_it(browser, tmp_path):
    p = Page(browser, backprop_html(mlp_loss([4, 4, 1]), tmp_path / "mlp.html"), 1000, 700)
    p.page.evaluate("() => { const v = document.getElementById('view'); v.scrollLeft = 0; v.scrollTop = 0; }")
    assert p.page.evaluate(VIEW) == {"scroll": [0, 0], "inside": False}  # the root's box: far away
    leaf = p.page.evaluate(
        """() => { const v = document.getElementById('view').getBoundingClientRect();
             const st = JSON.parse(document.getElementById('state').textContent);
             return st.model.op.findIndex((op, i) => { if (op) return false;
               const r = document.getElementById('v' + i).getBoundingClientRect();
               return r.left >= v.left && r.right <= v.right && r.top >= v.top
                 && r.bottom <= v.bottom; }); }"""
    )
    assert leaf >= 0
    assert "every number recomputed" in edit(p, leaf, "2.5")
    assert p.page.evaluate(VIEW)["scroll"] == [0, 0]
    p.page.keyboard.press("Enter")
    p.page.keyboard.press("ArrowRight")  # a step: the view goes to it again
    assert p.page.evaluate(VIEW)["inside"]
    assert p.errors == []
    p.close()


# --- an edited number never leaves its box -----------------------------------------------------------

OVERFLOW = """() => Array.from(document.querySelectorAll('#view g.node')).flatMap(g => {
  const shape = g.querySelector('polygon');
  if (!shape || !g.querySelectorAll('text').length) return [];
  const b = shape.getBBox();
  return Array.from(g.querySelectorAll('text')).filter(t => getComputedStyle(t).visibility !== 'hidden')
    .map(t => [g.id, t.textContent, t.getBBox()]).filter(([id, s, r]) => r.x < b.x - 0.5
      || r.x + r.width > b.x + b.width + 0.5 || r.y < b.y - 0.5 || r.y + r.height > b.y + b.height + 0.5)
    .map(([id, s]) => id + ': ' + s); })"""


FONT_SIZES = (
    "() => Array.from(document.querySelectorAll('#view g.node text')).map(t => t.getAttribute('font-size'))"
)


def test_a_long_edited_number_stays_inside_every_box(browser, tmp_path):
    """The output neuron's bias from 0 to -123.456789: the loss's value and gradients get longer
    (``data 1.55e+04`` in the root's box, drawn for ``data 1.092``); at every step each node's text
    stays inside its box, and the numbers still read as Python writes them."""
    p = Page(browser, backprop_html(mlp_loss([4, 4, 1]), tmp_path / "mlp.html"), 1000, 700)
    assert p.page.evaluate(OVERFLOW) == []
    drawn = p.page.evaluate(FONT_SIZES)
    names = p.page.evaluate("() => JSON.parse(document.getElementById('state').textContent).model.name")
    assert "every number recomputed" in edit(p, names.index("layer 2 › neuron 0 › b"), "-123.456789")
    p.page.keyboard.press("Enter")
    for s in range(86):
        assert p.page.evaluate(OVERFLOW) == [], s + 1
        p.page.keyboard.press("ArrowRight")
    root = len(names) - 1
    values = p.page.evaluate("() => window.chainrule.values()")
    assert p.page.evaluate(SCREEN_ROWS)[f"v{root}"] == f"data {fmt(values[root])}" == "data 1.55e+04"
    assert p.page.evaluate(SCREEN_TEXTS)[0][f"v{root}"] == "grad 1"
    assert p.page.evaluate(FONT_SIZES) != drawn  # a number had to be drawn smaller to fit
    p.page.click("#reset")
    assert p.page.evaluate(OVERFLOW) == []
    assert p.page.evaluate(FONT_SIZES) == drawn  # every number back at the size it was drawn
    assert p.errors == []
    p.close()
