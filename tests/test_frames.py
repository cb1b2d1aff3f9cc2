"""viz.frames: backprop step by step, as drawings, numbered images, a GIF and one HTML page."""

import re

import pytest

from autograd import Value
from nn.worked_example import worked_example
from viz import backprop_frames, backprop_html, save_frames, save_gif, trace
from viz.dot import fmt


def small():
    x, w = Value(0.5, label="x"), Value(-2.0, label="w")
    y = (x * w).tanh()
    y.label = "y"
    return x, w, y


def test_one_frame_per_node_in_backward_order():
    x, w, y = small()
    y.backward()
    graph = trace(y)
    frames = list(backprop_frames(y))
    assert len(frames) == len(graph.nodes) == 4
    unknown = [f.source.count("grad ?") for f in frames]
    assert unknown == [3, 2, 1, 0]  # one more gradient known at each step
    assert "backward step 1 of 4" in frames[0].source and "backward step 4 of 4" in frames[-1].source
    assert "<B>y</B><BR/>data -0.7616<BR/>grad 1>" in frames[0].source  # the root's gradient is known first


def test_each_frame_knows_a_node_only_after_all_its_consumers():
    ex = worked_example()
    graph = trace(ex["E"])
    uses = graph.uses()
    frames = list(backprop_frames(ex["E"]))
    known = set()
    for frame in frames:
        ids = {int(i) for i in re.findall(r"\tv(\d+) \[label=<(?:(?!grad \?).)*?grad [-\d]", frame.source)}
        new = ids - known
        assert len(new) == 1
        (node,) = new
        assert all(e.child in known for e in uses[node])
        known = ids
    assert len(known) == len(graph.nodes)


def test_frames_do_not_touch_grad_and_work_before_backward():
    x, w, y = small()
    frames = list(backprop_frames(y))
    assert x.grad == w.grad == y.grad == 0.0
    last = frames[-1].source
    assert "not computed" not in last
    assert f"<B>w</B><BR/>data -2<BR/>grad {fmt(0.5 * (1 - y.data**2))}>" in last  # dy/dw = x tanh'


def test_numbered_images_and_gif(tmp_path):
    pil = pytest.importorskip("PIL.Image")
    x, w, y = small()
    paths = save_frames(backprop_frames(y), tmp_path / "frames")
    assert [p.name for p in paths] == [f"frame_{i:03d}.png" for i in range(4)]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in paths)
    gif = save_gif(backprop_frames(y), tmp_path / "backprop.gif")
    with pil.open(gif) as im:
        assert im.format == "GIF" and im.n_frames == 4 and im.size[0] > 200


def test_html_page_is_self_contained(tmp_path):
    x, w, y = small()
    x.label = "</script><script>alert('x')</script>"
    path = backprop_html(y, tmp_path / "page.html", title="<b>steps</b>")
    page = path.read_text(encoding="utf-8")
    assert page.count("<svg") == 4 and page.count('class="frame"') == 4
    assert '<input id="slider" type="range" min="0" max="3"' in page
    for button in ('id="prev"', 'id="play"', 'id="next"'):
        assert button in page
    assert "<script>alert" not in page and "&lt;/script&gt;&lt;script&gt;alert" in page
    assert "<title>&lt;b&gt;steps&lt;/b&gt;</title>" in page
    assert page.count("<script") == 1  # ours, inline
    # no network: no external resource is referenced (xmlns / DOCTYPE URIs are identifiers, not loads)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page


def test_jupyter_slider(monkeypatch):
    """show_frames: an ipywidgets slider whose value picks the frame's SVG (a stand-in module here)."""
    import sys
    import types

    from viz import show_frames

    class Widget:
        def __init__(self, *children, **kw):
            self.children, self.__dict__["_observers"] = children, []
            self.__dict__.update(kw)

        def observe(self, fn, names):
            self._observers.append(fn)

        def __setattr__(self, name, value):
            self.__dict__[name] = value
            for fn in self.__dict__.get("_observers", []):
                fn({"new": value})

    fake = types.SimpleNamespace(HTML=Widget, IntSlider=Widget, VBox=lambda children: Widget(*children))
    monkeypatch.setitem(sys.modules, "ipywidgets", fake)
    x, w, y = small()
    box = show_frames(backprop_frames(y))
    slider, out = box.children
    assert slider.max == 3 and "<svg" in out.value and "step 1 of 4" in out.value
    slider.value = 3
    assert "step 4 of 4" in out.value
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    with pytest.raises(ImportError, match="pip install ipywidgets"):
        show_frames(backprop_frames(y))


def test_html_refuses_a_graph_too_big_for_one_frame_per_node(tmp_path):
    x, w, y = small()
    with pytest.raises(ValueError, match="4 nodes.*max_frames=3"):
        backprop_html(y, tmp_path / "page.html", max_frames=3)
    assert not (tmp_path / "page.html").exists()
