"""The committed notebooks as a learner opens them: a real JupyterLab (no network, a free port, a
known token) in Debian's chromium, driven by Playwright (never downloading a browser). Opened fresh,
a notebook is untrusted: JupyterLab then shows no SVG and no iframe, only the PNG beside each
drawing's SVG; trusted (``jupyter trust``), it shows the SVG. Skipped when chromium, playwright or
jupyterlab is missing, except under CHAINRULE_REQUIRE_BROWSER=1 (CI), where that fails instead."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browser import launched, missing

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "01_chain_rule_on_the_graph.ipynb"
TOKEN = "chainrule-test-token"
REPR = "<viz.dot.Drawing at 0x"
SETTINGS = {  # every cell rendered (not only those in view), and no question about fetching news
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false"},
}


def _skip_or_fail() -> None:
    why = missing("jupyterlab")
    if why and os.environ.get("CHAINRULE_REQUIRE_BROWSER", "") not in ("", "0"):
        pytest.fail(f"{why}, but CHAINRULE_REQUIRE_BROWSER=1 requires the JupyterLab test to run")
    if why:
        pytest.skip(why)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(home: Path) -> dict[str, str]:
    """Jupyter's config, data (the trust database), runtime and lab settings kept in ``home``."""
    env = dict(os.environ, HOME=str(home), JUPYTER_PLATFORM_DIRS="1")
    for var in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):
        env[var] = str(home / var.lower())
    env["JUPYTERLAB_SETTINGS_DIR"] = str(home / "lab-settings")
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(home / "lab-workspaces")
    for plugin, setting in SETTINGS.items():
        path = home / "lab-settings" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(setting), encoding="utf-8")
    return env


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(base URL, folder served, environment): a JupyterLab server, stopped on teardown."""
    _skip_or_fail()
    home = tmp_path_factory.mktemp("jupyter-home")
    root = tmp_path_factory.mktemp("served")
    env, port = _env(home), _free_port()
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
        f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={TOKEN}",
        "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly", "--ServerApp.terminals_enabled=False",
        "--ServerApp.port_retries=0", "--allow-root",
    ]  # fmt: skip
    log = (home / "server.log").open("wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # a generous start-up wait on a loaded machine, not a timing check
        while time.monotonic() < deadline:
            if server.poll() is not None:
                pytest.fail(f"jupyter lab exited: {(home / 'server.log').read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail(f"jupyter lab did not start: {(home / 'server.log').read_text()[-2000:]}")
        yield url, root, env
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def browser(lab):
    yield from launched()


def open_notebook(browser, lab, name: str, shot: str | None = None, images: int | None = None):
    """The notebook ``name`` (a copy of NOTEBOOK in the served folder) opened at 1200x900; returns the
    page once its ``images`` pictures (NOTEBOOK's drawings by default) are shown. Requests off this
    machine are refused and recorded."""
    url, root, _ = lab
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    outside: list[str] = []

    def route(r):
        if r.request.url.startswith(url):
            return r.continue_()
        outside.append(r.request.url)
        return r.abort()

    page.route("**/*", route)
    page.goto(f"{url}/lab/workspaces/{Path(name).stem}/tree/{name}?token={TOKEN}&reset")  # only this one open
    page.wait_for_selector(".jp-OutputArea-output", timeout=30_000)
    page.wait_for_function(
        """n => { const imgs = [...document.querySelectorAll('.jp-OutputArea-output img')];
                  return imgs.length >= n && imgs.every(i => i.complete); }""",
        arg=len(saved_drawings()) if images is None else images,
        timeout=30_000,
    )
    page.outside = outside
    if shot:  # what the learner sees at the first picture (or the top), for a person to look at
        first = page.query_selector(".jp-OutputArea-output img")
        if first:
            first.scroll_into_view_if_needed()
        os.makedirs("/tmp/shots", exist_ok=True)
        page.screenshot(path=f"/tmp/shots/{shot}")
    return page


def saved_drawings() -> list[dict]:
    """The drawings NOTEBOOK holds: outputs whose text names a chainrule drawing."""
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    found = [o["data"] for c in cells for o in c.get("outputs", []) if "data" in o]
    return [d for d in found if "chainrule drawing" in "".join(d.get("text/plain", ""))]


def test_the_notebook_holds_a_png_beside_each_svg():
    """What the browser tests below open: every drawing saved with both pictures."""
    assert len(saved_drawings()) >= 5
    assert all({"image/png", "image/svg+xml"} <= set(d) for d in saved_drawings())


@pytest.mark.parametrize("path", sorted(NOTEBOOK.parent.glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_saved_svg_has_a_png_beside_it(path):
    """An untrusted notebook (every one freshly cloned) shows no SVG: each saved one needs its PNG."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    found = [o["data"] for c in cells for o in c.get("outputs", []) if "data" in o]
    assert all("image/png" in d for d in found if "image/svg+xml" in d), path.name


def outputs(page) -> list[dict]:
    """Each output: its text, and for its <img> the source's start, natural and shown widths, and
    the output area's width and scrolling width."""
    return page.eval_on_selector_all(
        ".jp-OutputArea-output",
        """els => els.map(e => {
            const img = e.querySelector('img');
            return {text: e.innerText, src: img ? img.src.slice(0, 30) : null,
                    width: img ? img.naturalWidth : 0, height: img ? img.naturalHeight : 0,
                    shown: img ? img.clientWidth : 0, area: e.clientWidth, scroll: e.scrollWidth};
        })""",
    )


def drawings(page) -> list[dict]:
    return [o for o in outputs(page) if o["src"] or "chainrule drawing" in o["text"] or REPR in o["text"]]


def legible(o: dict) -> bool:
    """Shown at natural size (its 9-pt text 12 px high), not shrunk; a wider one scrolls."""
    return o["shown"] == o["width"] and (o["width"] <= o["area"] or o["scroll"] >= o["width"])


def test_an_untrusted_notebook_shows_each_drawing_as_its_png(lab, browser):
    shutil.copy(NOTEBOOK, lab[1] / "untrusted.ipynb")
    page = open_notebook(browser, lab, "untrusted.ipynb", "jupyterlab_untrusted.png")
    shown = drawings(page)
    assert len(shown) == len(saved_drawings()), shown
    assert any(o["width"] > o["area"] for o in shown), shown  # a wide one: it scrolls
    for o in shown:
        assert REPR not in o["text"] and o["text"].strip() == "", o  # a picture, not the repr
        assert o["src"].startswith("data:image/png;base64,"), o
        assert o["width"] > 0 and o["height"] > 0 and legible(o), o
    assert not any(REPR in o["text"] for o in outputs(page))
    assert not page.outside, page.outside
    page.close()


def test_a_trusted_notebook_shows_each_drawing_as_its_svg(lab, browser):
    url, root, env = lab
    shutil.copy(NOTEBOOK, root / "trusted.ipynb")
    subprocess.run(
        [sys.executable, "-m", "jupyter", "trust", str(root / "trusted.ipynb")],
        env=env,
        check=True,
        capture_output=True,
    )
    page = open_notebook(browser, lab, "trusted.ipynb", "jupyterlab_trusted.png")
    shown = drawings(page)
    assert len(shown) == len(saved_drawings()), shown
    for o in shown:
        assert REPR not in o["text"], o
        assert o["src"].startswith("data:image/svg+xml"), o
        assert o["width"] > 0 and o["height"] > 0 and legible(o), o
    assert not page.outside, page.outside
    page.close()


def pages_notebook(path: Path) -> None:
    """A notebook whose saved outputs are show_backprop's page and show_frames' slider (written
    from their displays, as a kernel would save them)."""
    import nbformat

    from autograd import Value
    from viz import show_backprop, show_frames

    x = Value(0.5, label="x")
    y = (x * 2.0).tanh()
    y.label = "y"
    nb = nbformat.v4.new_notebook()
    for code, shown in (
        ("show_backprop(y)", show_backprop(y, height=400)),
        ("show_frames(y)", show_frames(y)),
    ):
        data, metadata = shown._repr_mimebundle_(), {}
        if isinstance(data, tuple):
            data, metadata = data
        data.pop("application/vnd.jupyter.widget-view+json", None)  # its state is not saved here
        cell = nbformat.v4.new_code_cell(code, execution_count=1)
        output = nbformat.v4.new_output("execute_result", data=data, metadata=metadata, execution_count=1)
        cell.outputs = [output]
        nb.cells.append(cell)
    nbformat.write(nb, path)


def test_an_untrusted_notebook_says_why_the_page_is_missing(lab, browser):
    """JupyterLab strips an untrusted notebook's iframe: the paragraph beside it says what to do;
    the slider's saved output is step 1 as a picture with a line saying the slider needs a kernel."""
    pages_notebook(lab[1] / "pages.ipynb")
    page = open_notebook(browser, lab, "pages.ipynb", "jupyterlab_untrusted_pages.png", images=1)
    shown = outputs(page)
    assert len(shown) == 2, shown
    assert "this notebook is not trusted" in shown[0]["text"] and "Trust Notebook" in shown[0]["text"]
    assert page.query_selector(".jp-OutputArea-output iframe") is None  # stripped, as the learner sees it
    assert shown[1]["src"].startswith("data:image/png;base64,") and shown[1]["width"] > 0, shown[1]
    page.close()


def test_a_trusted_notebook_shows_the_page_and_hides_the_advice(lab, browser):
    url, root, env = lab
    pages_notebook(root / "pages-trusted.ipynb")
    subprocess.run(
        [sys.executable, "-m", "jupyter", "trust", str(root / "pages-trusted.ipynb")],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    page = open_notebook(browser, lab, "pages-trusted.ipynb", "jupyterlab_trusted_pages.png", images=0)
    frame = page.wait_for_selector(".jp-OutputArea-output iframe", timeout=15_000)
    page.wait_for_function("() => !document.querySelector('.chainrule-untrusted')", timeout=15_000)
    assert frame.content_frame().wait_for_selector("svg", timeout=15_000)  # the page itself, drawn
    assert not page.outside, page.outside
    page.close()
