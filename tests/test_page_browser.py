"""The backprop page in a real browser: Debian's chromium, driven by Playwright (which never
downloads a browser here: it launches the system's). Skipped only when no chromium is installed."""

import shutil
from pathlib import Path

import pytest
from test_dot import mlp_loss

from autograd import Value
from nn.worked_example import worked_example
from viz import backprop_html

CHROMIUM = shutil.which("chromium") or (
    shutil.which("/usr/bin/chromium") if Path("/usr/bin/chromium").exists() else None
)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium (apt-get install chromium)")
HOSTILE = "</script><script>window.pwned=1</script>"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Page:
    """A page at 1400x1000 that records every request and every console error."""

    def __init__(self, browser, path):
        self.url = path.resolve().as_uri()
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.requests, self.errors = [], []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(self.url)

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
