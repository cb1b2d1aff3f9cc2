"""viz.render: SVG, PNG, PDF and DOT files, with the system dot and without it."""

import base64
import os
import re
import shutil
import struct
import sys
import textwrap
import xml.etree.ElementTree as ET

import pytest
from required import required
from worked_table import TABLE_AS_SHOWN

import autograd
from autograd import Value
from nn.worked_example import worked_example
from viz import draw, render
from viz.render import PDF_HELP, RenderError, find_renderer, graphviz_pure_path

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def no_dot(monkeypatch, tmp_path):
    """PATH without any `dot` (nor the venv's bin: graphviz-pure must be found beside Python)."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("CHAINRULE_RENDERER", raising=False)
    assert shutil.which("dot") is None


@pytest.fixture
def fake_dot(monkeypatch, tmp_path):
    """A `dot` shim on PATH that logs its calls and forwards to graphviz-pure; for -Tpdf it converts
    graphviz-pure's PNG with Pillow (graphviz-pure has no PDF). Returns the log file."""
    pure = graphviz_pure_path()
    bindir, log = tmp_path / "bin", tmp_path / "dot-calls.log"
    bindir.mkdir()
    shim = bindir / "dot"
    shim.write_text(
        textwrap.dedent(f"""\
        #!{sys.executable}
        import io, subprocess, sys
        open({str(log)!r}, "a").write(" ".join(sys.argv[1:]) + "\\n")
        src = sys.stdin.buffer.read()
        if "-Tpdf" in sys.argv:
            from PIL import Image
            png = subprocess.run([{pure!r}, "-Tpng"], input=src, capture_output=True, check=True).stdout
            out = io.BytesIO()
            Image.open(io.BytesIO(png)).convert("RGB").save(out, "PDF")
            sys.stdout.buffer.write(out.getvalue())
        else:
            sys.exit(subprocess.run([{pure!r}, *sys.argv[1:]], input=src).returncode)
        """)
    )
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CHAINRULE_RENDERER", raising=False)
    return log


def svg_text(path) -> str:
    root = ET.parse(path).getroot()  # raises if the SVG is not well-formed XML
    assert root.tag == f"{SVG}svg"
    return "\n".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def check_all_formats(tmp_path, root):
    svg = render(root, tmp_path / "g.svg", precision=8)
    text = svg_text(svg)
    for number in TABLE_AS_SHOWN:
        assert number in text, number
    width, height = png_size(render(root, tmp_path / "g.png").read_bytes())
    assert 600 < width < 10_000 and 200 < height < 5_000


def test_without_dot_svg_and_png_come_from_graphviz_pure(no_dot, tmp_path):
    assert find_renderer("svg") == ("graphviz-pure", graphviz_pure_path())
    check_all_formats(tmp_path, worked_example()["E"])


def test_with_dot_on_path_the_system_dot_is_used(fake_dot, tmp_path):
    assert find_renderer("png")[0] == "dot"
    check_all_formats(tmp_path, worked_example()["E"])
    pdf = render(worked_example()["E"], tmp_path / "g.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert fake_dot.read_text().split("\n")[:3] == ["-Tsvg", "-Tpng", "-Tpdf"]


def test_without_dot_pdf_uses_the_extra_or_says_how_to_get_it(no_dot, tmp_path):
    root = worked_example()["E"]
    try:
        import pygraphviz  # noqa: F401
    except ImportError:
        with pytest.raises(RenderError) as err:
            render(root, tmp_path / "g.pdf")
        assert "chainrule[pdf]" in str(err.value) and "`dot`" in str(err.value)
    else:
        assert render(root, tmp_path / "g.pdf").read_bytes().startswith(b"%PDF-")


def test_without_dot_or_extra_pdf_raises_the_clear_error(no_dot, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pygraphviz", None)  # as if the pdf extra were not installed
    with pytest.raises(RenderError, match=r"pip install 'chainrule\[pdf\]'") as err:
        render(worked_example()["E"], tmp_path / "g.pdf")
    assert str(err.value) == PDF_HELP
    assert not (tmp_path / "g.pdf").exists()


def test_pdf_through_pygraphviz(no_dot, tmp_path):
    required("pygraphviz", "pdf")
    pdf = render(worked_example()["E"], tmp_path / "g.pdf", renderer="pygraphviz").read_bytes()
    assert pdf.startswith(b"%PDF-")


def test_renderer_is_chosen_by_argument_or_environment(fake_dot, monkeypatch, tmp_path):
    root = Value(2.0, label="x") * 3
    render(root, tmp_path / "a.svg", renderer="graphviz-pure")
    monkeypatch.setenv("CHAINRULE_RENDERER", "graphviz-pure")
    render(root, tmp_path / "b.svg")
    assert not fake_dot.exists()  # the shim was never called
    monkeypatch.setenv("CHAINRULE_RENDERER", "auto")
    render(root, tmp_path / "c.svg")
    assert fake_dot.read_text() == "-Tsvg\n"
    monkeypatch.setenv("CHAINRULE_RENDERER", "cairo")
    with pytest.raises(ValueError, match="CHAINRULE_RENDERER"):
        render(root, tmp_path / "d.svg")


def test_asking_for_dot_without_dot_is_an_error(no_dot, tmp_path):
    with pytest.raises(RenderError, match="no `dot` program is on PATH"):
        render(Value(1.0), tmp_path / "g.svg", renderer="dot")


def test_dot_file_and_bad_suffix(tmp_path):
    root = worked_example()["E"]
    path = render(draw(root), tmp_path / "sub" / "g.dot")
    assert path.read_text(encoding="utf-8") == draw(root).source
    with pytest.raises(ValueError, match="cannot tell the format"):
        render(root, tmp_path / "g.jpeg")
    with pytest.raises(TypeError, match="need a Value"):
        render(draw(root), tmp_path / "g.svg", precision=8)
    with pytest.raises(TypeError, match="expected a Value or a drawing"):
        render("x", tmp_path / "g.svg")


HOSTILE = 'it\'s a<b>&c "q" {x} \\ ]; digraph { evil } </text></svg> é 日本'


def test_hostile_labels_render_as_text(no_dot, tmp_path):
    x = Value(1.0, label=HOSTILE)
    x.scope = "layers.0.neurons.<0>&"
    y = x * 2
    y.label = "first line\nsecond <line>"
    y.backward()
    text = svg_text(render(y, tmp_path / "g.svg")).split("\n")
    assert HOSTILE in text
    assert "first line" in text and "second <line>" in text
    assert "layers.0.neurons.<0>&" in text  # a scope set by hand is shown as written (never parsed)


def test_jupyter_display_is_svg_and_png_of_one_layout(no_dot, monkeypatch):
    """Untrusted JupyterLab and notebook viewers show the PNG, a trusted notebook the SVG: both are
    sent, from one run of the renderer, kept until the drawing changes; the text names the drawing."""
    import viz.dot

    calls = []
    real = viz.dot.pipe_many
    monkeypatch.setattr(viz.dot, "pipe_many", lambda *a: calls.append(a[1]) or real(*a))
    drawing = draw(Value(2.0, label="x") * 3)
    data, metadata = drawing._repr_mimebundle_()
    assert ET.fromstring(data["image/svg+xml"].encode("utf-8")).tag == f"{SVG}svg"
    width, height = png_size(base64.b64decode(data["image/png"]))
    assert data["text/plain"] == f"chainrule drawing: 3 nodes, {width}x{height} px"
    assert metadata == {} and width <= 900  # small: shown as it is, fitting the output area
    svg_width = float(re.search(r'<svg width="([0-9.]+)pt"', data["image/svg+xml"])[1])
    assert abs(svg_width * 96 / 72 - width) <= 2  # the same layout, at 96 dpi
    assert drawing._repr_mimebundle_()[0] == data and calls == [("svg", "png")]  # laid out once
    drawing.attr(label="changed")
    drawing._repr_mimebundle_()
    assert len(calls) == 2


def test_a_wide_drawing_is_shown_at_natural_size_scrolling(no_dot):
    """Wider than a 900-px output area: not shrunk (its text would be ~3 px), shown unconfined."""
    wide = autograd.sum(Value(float(i), label=f"x{i}") for i in range(12))
    wide.backward()
    data, metadata = draw(wide, rankdir="TB")._repr_mimebundle_()
    assert png_size(base64.b64decode(data["image/png"]))[0] > 900
    assert metadata == {"image/png": {"unconfined": True}, "image/svg+xml": {"unconfined": True}}


def test_the_displayed_png_is_the_renderers_in_256_colours_with_pillow(no_dot, monkeypatch):
    """With Pillow (the plots, notebooks and dev extras) the PNG a notebook saves is a palette PNG of
    the same size, fewer bytes; without it, the renderer's own PNG."""
    from viz.backend import pipe

    drawing = draw(Value(2.0, label="x") * 3)
    rendered = pipe(drawing.source, "png")
    shown = base64.b64decode(drawing._repr_mimebundle_()[0]["image/png"])
    assert (
        png_size(shown) == png_size(rendered) and shown[25] == 3 and len(shown) < len(rendered)
    )  # 3: palette
    monkeypatch.setitem(sys.modules, "PIL", None)
    assert base64.b64decode(draw(Value(2.0, label="x") * 3)._repr_mimebundle_()[0]["image/png"]) == rendered


def test_a_display_without_png_says_why(no_dot, monkeypatch):
    import viz.dot

    def fails(*_):
        raise RenderError("graphviz-pure failed to write png: no PNG here")

    monkeypatch.setattr(viz.dot, "pipe_many", fails)
    data, _ = draw(Value(2.0, label="x") * 3)._repr_mimebundle_()
    assert "image/png" not in data and data["image/svg+xml"].lstrip().startswith("<?xml")
    assert "no PNG beside the SVG, so an untrusted notebook shows no picture" in data["text/plain"]
    assert "no PNG here" in data["text/plain"]


def test_draw_lays_a_deep_graph_out_top_to_bottom():
    from viz.dot import choose_rankdir

    chain = Value(1.0, label="x")
    for _ in range(6):
        chain = chain.tanh()
    wide = autograd.sum(Value(float(i), label=f"x{i}") for i in range(12))
    assert choose_rankdir(chain) == "TB" and "rankdir=TB" in draw(chain).source
    assert choose_rankdir(wide) == "LR" and "rankdir=LR" in draw(wide).source
    assert "rankdir=LR" in draw(chain, rankdir="LR").source and choose_rankdir(chain, collapsed=True) == "LR"


def test_drawing_pipe_uses_chainrules_renderer(no_dot):
    d = draw(Value(2.0, label="x") * 3)
    assert d.pipe("png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert d.pipe("svg", encoding="utf-8").lstrip().startswith("<?xml")
