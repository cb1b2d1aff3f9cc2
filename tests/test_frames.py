"""viz.frames: backprop step by step, as drawings, numbered images, a GIF and one HTML page.

Every frame and the page share one layout: positions are read from the rendered SVG."""

import base64
import functools
import json
import math
import operator
import random
import re
import struct

import pytest
from required import required
from test_dot import WORKED_ORDER, mlp_loss, node_positions, top_to_bottom

from autograd import Value
from nn.worked_example import worked_example
from viz import DrawingTooBig, backprop_frames, backprop_html, save_frames, save_gif, trace
from viz.backend import pipe
from viz.dot import fmt
from viz.explain import explain_node
from viz.frames import backprop_steps
from viz.painter import neuron_groups

HOSTILE = "</script><script>window.pwned=1</script>"


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
    unknown = [f.source.count(">grad ?<") for f in frames]
    assert unknown == [3, 2, 1, 0]  # one more gradient known at each step
    assert "step 1 of 4: dy/dy = 1" in frames[0].source  # the first line states the value
    assert "y is the root" in frames[0].source
    assert f"step 4 of 4: dy/dw = {fmt(w.grad)}" in frames[-1].source  # x and w: in their product's order
    assert ">grad 1</TD>" in frames[0].source  # the root's gradient is known first


def known_ids(source: str) -> set[int]:
    """Ids of the boxes whose final gradient a frame shows (a number, not "?" nor a sum so far)."""
    return {int(i) for i in re.findall(r"\tv(\d+) \[label=<[^\n]*?>grad [-\d][^<]*</TD>", source)} - {
        int(i) for i in re.findall(r"\tv(\d+) \[label=<[^\n]*?>grad [^<]* so far, ", source)
    }


def test_each_frame_knows_a_node_only_after_all_its_consumers():
    ex = worked_example()
    graph = trace(ex["E"])
    uses = graph.uses()
    frames = list(backprop_frames(ex["E"]))
    constants = {n.id for n in graph.nodes if graph.is_constant(n.id)}
    assert len(frames) == len(graph.nodes) - len(constants) == 33  # a constant is no step
    known: set[int] = set()
    for frame in frames:
        ids = known_ids(frame.source)
        (node,) = ids - known  # exactly one more each step
        assert all(e.child in known for e in uses[node])
        known = ids
    assert known == set(range(len(graph.nodes))) - constants


def test_frames_do_not_touch_grad_and_work_before_backward():
    x, w, y = small()
    frames = list(backprop_frames(y))
    assert x.grad == w.grad == y.grad == 0.0
    last = frames[-1].source
    assert "not computed" not in last
    assert f">grad {fmt(0.5 * (1 - y.data**2))}</TD>" in last  # dy/dw = x tanh'


def test_captions_name_the_node_with_its_place_and_its_chain_rule_sum():
    loss = mlp_loss([4, 4, 1])
    steps = backprop_steps(loss)
    graph = steps.graph
    w0 = next(n.id for n in graph.nodes if n.scope == "layers.1.neurons.2" and n.label == "w0")
    caption = steps.captions[steps.order.index(w0)]
    value, head, *how = caption.split("\n")
    grad = fmt(graph.nodes[w0].grad)
    assert value == f"step {steps.order.index(w0) + 1} of 86: droot/d(layer 1 › neuron 2 › w0) = {grad}"
    assert head == "the gradient of layer 1 › neuron 2 › w0 is final: its use has passed it back"
    # the value, then the numbers, then the symbolic form; every factor names its node with its
    # place: every neuron has a w0 and a Σ
    pad = " " * len("droot/d(layer 1 › neuron 2 › w0)")
    assert how[0] == f"droot/d(layer 1 › neuron 2 › w0) = {grad}"
    (use,) = graph.uses()[w0]  # w0 -> its product w0·x0 -> Σ
    (sigma,) = graph.uses()[use.child]
    assert how[1] == f"{pad} = {fmt(graph.nodes[sigma.child].grad)} × 1 × {fmt(use.local)}"
    assert how[2] == (
        f"{pad} = droot/d(layer 1 › neuron 2 › Σ) · "
        "d(layer 1 › neuron 2 › Σ)/d(layer 1 › neuron 2 › w0·x0) · "
        "d(layer 1 › neuron 2 › w0·x0)/d(layer 1 › neuron 2 › w0)"
    )
    assert "gradients known" not in caption


def frame_positions(frames):
    return [node_positions(pipe(f.source, "svg").decode("utf-8")) for f in frames]


def test_every_frame_and_the_page_put_every_node_in_the_same_place(tmp_path):
    ex = worked_example()
    frames = frame_positions(backprop_frames(ex["E"]))
    page = node_positions(backprop_html(ex["E"], tmp_path / "p.html").read_text(encoding="utf-8"))
    assert len(frames[0]) == len(trace(ex["E"]).nodes) == len(page)
    for positions in frames[1:] + [page]:
        assert positions == frames[0]
    ids = {n.label: n.id for n in trace(ex["E"]).nodes if n.label}
    for column in WORKED_ORDER:  # the reading order of the drawing holds in the frames too
        assert top_to_bottom(frames[0], [ids[name] for name in column]), column


@pytest.mark.parametrize("collapsed", [False, True])
def test_an_mlp_keeps_one_layout_through_backward(tmp_path, collapsed):
    loss = mlp_loss([4, 4, 1])
    frames = list(backprop_frames(loss, collapsed=collapsed))
    sample = frame_positions(frames[:: max(1, len(frames) // 6)] + [frames[-1]])
    page = node_positions(backprop_html(loss, tmp_path / "p.html", collapsed=collapsed).read_text("utf-8"))
    for positions in sample[1:] + [page]:
        assert positions == sample[0]
    if collapsed:
        assert len(frames) == 4 + 4 + 1 + 2 + 2  # neurons, x0 and x1, the loss's - and **2 (its root)
    inputs = [n.id for n in trace(loss).nodes if n.label in ("x0", "x1")]
    assert sample[0][inputs[0]][1] < sample[0][inputs[1]][1]  # reading order holds in every frame


def test_numbered_images_and_gif(tmp_path):
    pil = required("PIL.Image", "dev")
    x, w, y = small()
    paths = save_frames(backprop_frames(y), tmp_path / "frames")
    assert [p.name for p in paths] == [f"frame_{i:03d}.png" for i in range(4)]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in paths)
    sizes = {pil.open(p).size for p in paths}
    assert len(sizes) == 1  # one layout: every frame has the same size
    gif = save_gif(backprop_frames(y), tmp_path / "backprop.gif")
    with pil.open(gif) as im:
        assert im.format == "GIF" and im.n_frames == 4 and im.size == sizes.pop()


HOSTILE = "</script><script>window.pwned=1</script>"


def page_state(page: str) -> dict:
    """The page's state, its captions and sums so far written out (``templates``, ``partial_templates``:
    as stored, text and slots) from the numbers it carries, as its script writes them."""
    state = json.loads(re.search(r'<script type="application/json" id="state">(.*?)</script>', page, re.S)[1])
    state["templates"], state["partial_templates"] = state["captions"], state["partial"]
    state["captions"] = [page_text(state, t) for t in state["captions"]]
    state["partial"] = {i: [[s, page_text(state, t)] for s, t in ps] for i, ps in state["partial"].items()}
    return state


def page_text(state: dict, template: list) -> str:
    """A template written with the page's own numbers (independently of viz.live's code)."""
    m = state["model"]
    child = [i for i, ps in enumerate(m["parents"]) for _ in ps] if m else []

    def value(e):
        if isinstance(e, str) and e[0] in "glc":
            k = int(e[1:])
            grad, local = (float(m["grad"][child[k]]), float(m["local"][k])) if e[0] != "g" else (0, 0)
            return float(m["grad"][k]) if e[0] == "g" else local if e[0] == "l" else grad * local
        if not isinstance(e, list):
            return float(e)
        if e[0] == "*":
            return functools.reduce(operator.mul, map(value, e[1:]))
        return math.fsum(value(a) for a in e[1:])

    precision = m["precision"] if m else 4
    return "".join(p if isinstance(p, str) else fmt(value(state["exprs"][p]), precision) for p in template)


def test_html_page_is_one_drawing_plus_the_state_of_each_step(tmp_path):
    x, w, y = small()
    x.label = HOSTILE
    path = backprop_html(y, tmp_path / "page.html", title="<b>steps</b>")
    page = path.read_text(encoding="utf-8")
    assert page.count("<svg") == 1 and page.count('<g id="v') == 4
    assert '<input id="slider" type="range" min="0" max="3"' in page
    for button in (
        'id="prev"',
        'id="play"',
        'id="next"',
        'id="first"',
        'id="last"',
        'id="fit"',
        'id="zoomin"',
    ):
        assert button in page
    state = page_state(page)
    # x and w are one layer (two edges from the root): in their product's order, x first
    assert state["order"] == [3, 2, 0, 1] and len(state["captions"]) == 4
    assert state["step"] == [2, 3, 1, 0]  # node id -> the step from which its gradient is known
    assert state["partial"] == {}  # no node has two uses
    assert "the gradient of w is final" in state["captions"][3]
    assert HOSTILE in state["captions"][2]  # shown as text by the page (textContent)
    assert "<script>window" not in page and "&lt;/script&gt;&lt;script&gt;window" in page
    assert "<title>&lt;b&gt;steps&lt;/b&gt;</title>" in page
    assert page.count("<script") == 2  # the state (JSON, not run) and ours, inline
    # no network: no external resource is referenced (xmlns / DOCTYPE URIs are identifiers, not loads)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page


def test_page_size_grows_with_nodes_plus_steps(tmp_path):
    loss = mlp_loss([4, 4, 1])
    size = backprop_html(loss, tmp_path / "mlp.html").stat().st_size
    n = len(backprop_steps(loss).order)
    svg = len(pipe(next(iter(backprop_frames(loss))).source, "svg"))
    assert size < 1_000_000 and size < 2 * svg  # one drawing, not one per step (n = 86 steps)
    assert n == 86


@pytest.mark.parametrize("given", ["root", "frames"])
def test_jupyter_slider_takes_a_root_or_frames_and_counts_from_1(monkeypatch, given):
    """show_frames: an ipywidgets slider (the real one) whose value, counted from 1 like the
    captions, picks the frame's SVG; it takes the root, as draw and show_backprop do, or frames."""
    import sys

    from viz import show_frames

    x, w, y = small()
    box = show_frames(y if given == "root" else backprop_frames(y))
    slider, out = box.children
    assert (slider.min, slider.max, slider.value) == (1, 4, 1)
    assert (out.layout.overflow, out.layout.max_width) == ("auto", "100%")  # a wide frame scrolls in its box
    assert "<svg" in out.value and "step 1 of 4: dy/dy = 1" in out.value
    first = node_positions(out.value)
    slider.value = 4
    dw = fmt(0.5 * (1 - y.data**2))  # dy/dw = x tanh'
    assert f"step 4 of 4: dy/dw = {dw}" in out.value and node_positions(out.value) == first
    slider.value = 2
    assert "step 2 of 4" in out.value
    bundle, metadata = box._repr_mimebundle_()  # saved in a notebook: step 1's picture where no widget runs
    assert "application/vnd.jupyter.widget-view+json" in bundle
    wide = struct.unpack(">I", base64.b64decode(bundle["image/png"])[16:20])[0] > 900
    assert metadata == ({"image/png": {"unconfined": True}} if wide else {})  # wide: natural size, scrolling
    assert base64.b64decode(bundle["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert bundle["text/plain"].startswith("show_frames: a slider over 4 steps, step 1 shown as a picture")
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    with pytest.raises(ImportError, match="pip install ipywidgets"):
        show_frames(y)


def test_jupyter_slider_passes_draw_options_for_a_root_only():
    from viz import show_frames

    x, w, y = small()
    slider, out = show_frames(y, precision=8).children
    slider.value = 4
    dw = 0.5 * (1 - y.data**2)
    assert f"dy/dw = {fmt(dw, 8)}" in out.value and fmt(dw, 8) != fmt(dw)
    with pytest.raises(TypeError, match="draw options are for a root"):
        show_frames(backprop_frames(y), precision=8)


def test_html_refuses_a_graph_too_big_at_once(tmp_path):
    x, w, y = small()
    with pytest.raises(DrawingTooBig, match="4 steps .*max_nodes=3: .*Pass a larger max_nodes") as e:
        backprop_html(y, tmp_path / "page.html", max_nodes=3)
    assert "collapsed" not in str(e.value)  # no neuron: collapsing would not shrink it
    assert not (tmp_path / "page.html").exists()
    loss = mlp_loss([4, 4, 1])
    with pytest.raises(DrawingTooBig, match=r"86 steps .*collapsed=True \(one box per neuron: 13 nodes\)"):
        backprop_html(loss, tmp_path / "page.html", max_nodes=50)
    with pytest.raises(DrawingTooBig, match="13 steps") as e:
        backprop_html(loss, tmp_path / "page.html", max_nodes=5, collapsed=True)
    assert "collapsed=True" not in str(e.value)
    v = Value(1.0, label="x")
    for _ in range(50_000):
        v = v * 1.0
    with pytest.raises(DrawingTooBig, match="50001 steps .*max_nodes=1000"):  # the 1.0s are no steps
        backprop_html(v, tmp_path / "page.html")


def test_frames_check_their_options():
    x, w, y = small()
    with pytest.raises(ValueError, match="precision"):
        next(backprop_frames(y, precision=-1))
    with pytest.raises(ValueError, match="precision"):
        backprop_html(y, "unused.html", precision=float("nan"))


def hinge_loss(sizes):
    import nn

    X, y = nn.datasets.moons(n=100, noise=0.1, seed=0)
    model = nn.MLP(2, sizes, seed=0)
    loss = nn.hinge(model(X[0]), [2 * y[0] - 1])
    loss.backward()
    return model, X[0], loss


def test_captions_tell_apart_the_uses_of_an_input_by_neuron():
    model, x, loss = hinge_loss([4, 4, 1])
    steps = backprop_steps(loss)
    x0 = next(n for n in steps.graph.nodes if n.label == "x0")
    s = steps.order.index(x0.id)
    assert s == len(steps.order) - 2  # the inputs come last, x0 before x1
    last = steps.captions[s]
    value, head, *how = last.split("\n")
    assert value == f"step {s + 1} of {len(steps.order)}: dhinge/dx0 = {fmt(x0.grad)}"
    assert head == "the gradient of x0 is final: its 4 uses have passed theirs back"
    assert how[0] == f"dhinge/dx0 = {fmt(x0.grad)}"  # the value, then its sum: products, factors, names
    symbolic = [ln for ln in how if "d(" in ln]
    assert len(symbolic) == 4 and len(set(symbolic)) == 4  # one term per neuron of layer 0, each named
    for j, line in enumerate(symbolic):
        assert (
            f"d(layer 0 › neuron {j} › Σ)/d(layer 0 › neuron {j} › w0·x0) · "
            f"d(layer 0 › neuron {j} › w0·x0)/dx0" in line
        )
    products = [fmt(t.product) for t in explain_node(steps.graph, x0.id).terms]
    assert how[1] == f"{' ' * len('dhinge/dx0')} = {' + '.join(products)}"  # one per neuron of layer 0
    # d hinge / d x0 = sum over neurons j of d hinge/d Σ_j * w_j0 (torch-free closed form)
    first = model.layers[0].neurons
    sigma = [
        next(n.id for n in steps.graph.nodes if n.scope == f"layers.0.neurons.{j}" and n.label == "Σ")
        for j in range(4)
    ]
    closed = sum(steps.graph.nodes[s].grad * first[j].w[0].data for j, s in enumerate(sigma))
    assert x0.grad == pytest.approx(closed, rel=1e-12)


def test_collapsed_captions_speak_only_of_what_the_collapsed_drawing_shows():
    model, x, loss = hinge_loss([4, 4, 1])
    steps = backprop_steps(loss, collapsed=True)
    for caption in steps.captions:
        assert "Σ)" not in caption and "w0·x0" not in caption and "relu" not in caption, caption
    x0 = next(n for n in steps.graph.nodes if n.label == "x0")
    x1 = next(n for n in steps.graph.nodes if n.label == "x1")
    assert steps.order[-2:] == [x0.id, x1.id]  # the inputs last: x0, x1
    last = steps.captions[-2]
    for j in range(4):
        assert f"dhinge/d(layer 0 › neuron {j}) · d(layer 0 › neuron {j})/dx0" in last
    assert last.startswith(
        f"step {len(steps.order) - 1} of {len(steps.order)}: dhinge/dx0 = {fmt(x0.grad)}\n"
    )
    # each term's second factor is d out_j / d x0 = relu'(Σ_j) * w_j0
    terms = [t for ln in last.split("\n") if " × " in ln for t in ln.strip().lstrip("=+ ").split(" + ")]
    numbers = [t.split(" × ") for t in terms]
    assert len(numbers) == 4
    for j, (grad_out, local) in enumerate(numbers):
        neuron = model.layers[0].neurons[j]
        out = next(n for n in steps.graph.nodes if n.scope == f"layers.0.neurons.{j}" and n.label == "relu")
        assert float(grad_out) == pytest.approx(out.grad, rel=1e-3)
        assert float(local) == pytest.approx((out.data > 0) * neuron.w[0].data, rel=1e-3)
    heads = [c.split("\n")[1] for c in steps.captions]
    assert "the gradient of layer 1 › neuron 2 is final: its use has passed it back" in heads
    assert "the gradient of layer 0 › neuron 2 is final: its 4 uses have passed theirs back" in heads


def test_a_direct_input_of_the_root_says_what_its_use_carried_back():
    steps = backprop_steps(worked_example()["E"])
    assert steps.captions[1].split("\n") == [
        "step 2 of 33: dE_total/dE1 = 1",
        "the gradient of E1 is final: its use has passed it back",
        "dE_total/dE1 = 1",
        "             = 1 × 1",
        "             = dE_total/dE_total · dE_total/dE1",
    ]


def test_show_backprop_shows_the_page_inline(tmp_path):
    from html import unescape

    from viz import show_backprop

    x = Value(0.5, label=HOSTILE)
    y = (x * 2.0).tanh()
    y.label = "y"
    inline = show_backprop(y, height=480)
    shown = inline._repr_html_()
    advice, frame = shown.split("</p>", 1)
    assert frame.startswith('<iframe srcdoc="') and "height: 480px" in frame
    assert HOSTILE not in shown and "<script>" not in shown  # the page is escaped inside the attribute
    srcdoc = frame[len('<iframe srcdoc="') : frame.index('" title=')]
    assert (
        unescape(srcdoc) == inline.html == backprop_html(y, tmp_path / "p.html").read_text(encoding="utf-8")
    )
    with pytest.raises(ValueError, match="height"):
        show_backprop(y, height=0)
    # an untrusted notebook strips the frame (and its onload): the paragraph before it says what to do
    assert advice.startswith('<p class="chainrule-untrusted">If no step-by-step page shows here')
    assert 'onload="this.previousElementSibling.remove()"' in frame  # gone once the frame has loaded
    bundle = inline._repr_mimebundle_()
    assert bundle["text/html"] == shown and "not trusted" in bundle["text/plain"]
    for what in ("Trust Notebook", "jupyter trust", "backprop_html(root"):
        assert what in bundle["text/plain"] and what in unescape(advice)


def layer_of(node) -> int | None:
    """The MLP layer a node belongs to (its scope's index), None for the inputs and the loss."""
    return int(node.scope.split(".")[1]) if node.scope else None


@pytest.mark.parametrize("which", ["worked", "mlp", "mlp collapsed"])
def test_steps_go_layer_by_layer_from_the_root_each_after_all_its_uses(which):
    root = worked_example()["E"] if which == "worked" else mlp_loss([4, 4, 1])
    steps = backprop_steps(root, collapsed=which == "mlp collapsed")
    graph, step = steps.graph, {i: s for s, i in enumerate(steps.order)}
    group = neuron_groups(graph) if which == "mlp collapsed" else {}
    assert steps.order[0] == graph.root
    for e in graph.edges:  # every node's step comes after its consumers' (a reverse topological order)
        p, c = group.get(e.parent, e.parent), group.get(e.child, e.child)
        if p in step and p != c:
            assert step[p] > step[c], (graph.place(p), graph.place(c))
    if which == "worked":
        names = [graph.name(i) for i in steps.order]
        assert names[:3] == ["E_total", "E1", "E2"]  # E's children first, ...
        assert names[15:21] == ["w2[0][0]", "h1", "w2[0][1]", "h2", "w2[1][0]", "w2[1][1]"]
        assert names[-6:] == ["w1[0][0]", "x1", "w1[0][1]", "x2", "w1[1][0]", "w1[1][1]"]
        assert names.index("w2[0][0]") + 10 < min(
            names.index(f"w1[{i}][{j}]") for i in (0, 1) for j in (0, 1)
        )
        return
    layers = [layer_of(graph.nodes[i]) for i in steps.order]
    loss = [s for s, k in enumerate(layers) if k is None and graph.nodes[steps.order[s]].label is None]
    inputs = [s for s, i in enumerate(steps.order) if graph.nodes[i].label in ("x0", "x1")]
    assert inputs == [len(layers) - 2, len(layers) - 1]  # the inputs last, x0 before x1
    assert loss == list(range(len(loss)))  # the loss's own nodes first: (out - 1) ** 2
    scoped = [k for k in layers if k is not None]
    assert scoped == sorted(scoped, reverse=True)  # then layer 2, then every node of layer 1, then 0
    assert set(scoped) == {0, 1, 2}
    if which == "mlp":  # within a layer, reading order: neuron 0's weights before neuron 1's
        weights = [graph.place(i) for i in steps.order if graph.nodes[i].scope == "layers.1.neurons.0"]
        assert weights[-4:] == [f"layer 1 › neuron 0 › w{k}" for k in range(4)]
        firsts = [
            steps.order.index(
                next(n.id for n in graph.nodes if n.scope == f"layers.1.neurons.{j}" and n.label == "w0")
            )
            for j in range(4)
        ]
        assert firsts == sorted(firsts)


def test_a_node_with_two_uses_shows_its_sum_as_each_use_passes_back(tmp_path):
    ex = worked_example()
    h1 = ex["h"][0]
    frames = list(backprop_frames(ex["E"], precision=10))
    steps = backprop_steps(ex["E"], precision=10)
    graph = steps.graph
    i = graph.values.index(h1)
    (first, second) = sorted(graph.uses()[i], key=lambda e: steps.order.index(e.child))
    # computed independently of the frames: the consumer's gradient (from backward) x d consumer / d h1
    mul_a, mul_b = graph.values[first.child], graph.values[second.child]
    contribution = mul_a.grad * mul_a.local_grads[mul_a.parents.index(h1)]
    assert mul_a.local_grads[mul_a.parents.index(h1)] == ex["w2"][0][0].data  # d (w5 · h1) / d h1 = w5
    a, b, own = steps.order.index(first.child), steps.order.index(second.child), steps.order.index(i)

    def shown(s: int) -> str:
        row = re.search(rf"\tv{i} \[label=<[^\n]*?>(grad [^<]*)</TD>", frames[s].source)
        return row[1]

    assert shown(a - 1) == "grad ?"  # no use has passed back yet
    text = shown(a)
    assert text.endswith(" so far, 1 of 2 uses")
    assert float(text.split()[1]) == pytest.approx(contribution, abs=1e-8)
    assert f"back to h1, whose sum is now {fmt(contribution, 10)} (1 of 2 uses)" in steps.captions[a]
    text = shown(b)
    assert text.endswith(" so far, 2 of 2 uses")
    assert float(text.split()[1]) == pytest.approx(h1.grad, abs=1e-8)
    assert float(text.split()[1]) == pytest.approx(contribution + mul_b.grad * ex["w2"][1][0].data, abs=1e-8)
    assert shown(own) == f"grad {fmt(h1.grad, 10)}"  # its own step: final
    assert not any(re.search(r"carries [^<]* so far", f.source) for f in frames)  # only boxes sum
    assert steps.captions[own].startswith(f"step {own + 1} of 33: dE_total/dh1 = {fmt(h1.grad, 10)}\n")
    # the page gives the same texts, for its script to show at those steps
    state = page_state(backprop_html(ex["E"], tmp_path / "p.html", precision=10).read_text("utf-8"))
    assert state["partial"][str(i)] == [[a, shown(a)[5:]], [b, shown(b)[5:]]]
    assert state["step"][i] == own and own > b > a


def test_a_lone_surrogate_in_a_label_or_title_is_written_as_its_escape(tmp_path):
    x = Value(0.5, label="x\ud800")
    y = (x * 2.0).tanh()
    y.label = "y"
    page = backprop_html(y, tmp_path / "p.html", title="steps \udc80").read_text(encoding="utf-8")
    assert "<title>steps \\udc80</title>" in page
    assert "x\\ud800</text>" in page  # in the drawing
    assert any("dy/dx\\ud800 = " in c for c in page_state(page)["captions"])
    frames = list(backprop_frames(y))
    assert all("x&#92;&#92;ud800" in f.source for f in frames)  # DOT: one backslash, shown
    assert "x\\ud800</text>" in pipe(frames[-1].source, "svg").decode("utf-8")


PLACEHOLDERS = "{title}{height}{counter}{last}{count}{state}{script}{svg}"


def test_the_page_is_filled_in_one_pass_so_user_text_is_never_a_placeholder(tmp_path):
    x = Value(0.5, label=PLACEHOLDERS + HOSTILE)
    y = (x * 2.0).tanh()
    y.label = PLACEHOLDERS
    page = backprop_html(y, tmp_path / "p.html", title=PLACEHOLDERS + HOSTILE).read_text("utf-8")
    assert page.count("<svg") == 1 and page.count("<script") == 2 and page.count('"use strict"') == 1
    assert f"<title>{PLACEHOLDERS}&lt;/script&gt;" in page and f"<h1>{PLACEHOLDERS}&lt;/script&gt;" in page
    state = page_state(page)  # still parses: no placeholder in the captions was filled
    assert sum(PLACEHOLDERS + HOSTILE in c for c in state["captions"]) == 1
    assert state["order"] == [3, 2, 0]  # y, its product, x (the factor 2.0 is a constant: no step)


def test_a_node_used_twice_by_one_op_adds_both_uses_at_once():
    x = Value(3.0, label="x")
    y = x * x + x
    y.label = "y"
    steps = backprop_steps(y)
    assert [steps.graph.name(i) for i in steps.order] == ["y", "x·x", "x"]
    assert steps.partials == {0: [(0, 1.0, 1), (1, 7.0, 3)]}  # y passes 1 back, then x * x: 3 + 3
    assert steps.captions[0].endswith("\npasses 1 back to x, whose sum is now 1 (1 of 3 uses)")
    assert steps.captions[1].endswith("\npasses 3 + 3 back to x, whose sum is now 7 (3 of 3 uses)")
    assert steps.partial(0) == {0: "1 so far, 1 of 3 uses"} and steps.partial(2) == {}
    assert steps.captions[2].startswith("step 3 of 3: dy/dx = 7\n")


# --- change a value and watch: what the page needs to recompute every number (viz.live) -----------

UNARY = ["neg", "exp", "log", "tanh", "sigmoid", "relu", "abs", "**k"]


def random_graph(seed: int, leaves: list[float] | None = None) -> tuple[Value, list[float], set[str]]:
    """A random graph using every primitive of OPS (and ``x ** n``), defined for any leaf values:
    its shape depends on ``seed`` alone, so the same seed with other ``leaves`` is the same graph
    with other numbers. Returns (root, the leaf values, the ops used)."""
    from autograd import OPS
    from autograd import max as vmax
    from autograd import sum as vsum

    rng = random.Random(seed)
    values = [round(rng.uniform(-2, 2), 3) for _ in range(4)]  # drawn always: the same shape
    values = leaves if leaves is not None else values
    pool = [Value(v, label=f"x{i}") for i, v in enumerate(values)]
    names = [*OPS, "**k"] + rng.choices([*OPS, "**k"], k=8)
    rng.shuffle(names)

    def pick() -> Value:
        return rng.choice(pool[-5:] if rng.random() < 0.7 else pool)

    def positive(a: Value) -> Value:  # in [0.5, 1.5]: a base, a divisor, a log's argument
        t = a.tanh()
        return t * t + 0.5

    def made(name: str, a: Value, b: Value) -> Value:
        half = rng.random() < 0.5
        if name in ("tanh", "sigmoid", "relu", "abs"):
            return getattr(a, name)()
        if name == "exp":
            return a.tanh().exp()
        if name == "log":
            return positive(a).log()
        if name == "neg":
            return -a
        if name == "sum":
            return vsum([a, b, pick(), 1.5])
        if name == "max":
            return vmax([a, b, pick()])
        if name == "**k":
            return a ** rng.choice([2, 3]) if half else positive(a) ** rng.choice([0.5, -1, -1.5])
        if name == "**":
            return positive(a) ** b.tanh() if half else 2.0 ** a.tanh()
        if name == "/":
            return a / positive(b) if half else 3.0 / positive(a)
        if name == "-":
            return a - b if half else 2.0 - a
        return a + b if name == "+" else (a * b if half else a * a)

    for name in names:
        pool.append(made(name, pick(), pick()))
    root = vsum(pool[4:])
    root.label = "out"
    used = {v.op if not v.op.startswith("**") or len(v.parents) == 2 else "**k" for v in forward(root)}
    return root, values, used


def forward(root: Value) -> list[Value]:
    from viz.graph import forward_order

    return forward_order(root)


def test_every_primitive_has_a_rule_in_the_page_script():
    from autograd import OPS
    from viz.live import rules

    assert set(rules()) == set(OPS) | {"**k"}  # a new primitive needs its JavaScript rule too
    for seed in range(3):
        assert random_graph(seed)[2] >= set(OPS) | {"**k", ""}  # the random graphs use every one


@pytest.mark.parametrize("seed", range(6))
def test_caption_templates_written_with_other_numbers_are_that_graphs_captions(seed):
    """Every number of a caption is a slot: the templates of one graph, filled with the numbers of
    the same graph built from other leaves, are what Python writes for that graph."""
    from viz.frames import caption_templates

    root, leaves, _ = random_graph(seed)
    other, _, _ = random_graph(seed, [x + 0.37 * (k + 1) for k, x in enumerate(leaves)])
    steps, again = backprop_steps(root), backprop_steps(other)
    table, captions, partials, fixed = caption_templates(steps)
    assert fixed == [] and len(captions) == len(again.captions) and table.exprs
    for s, template in enumerate(captions):
        assert any(isinstance(p, int) for p in template)
        assert table.render(template, again.graph, 4) == again.captions[s], s
        assert table.render(template, steps.graph, 4) == steps.captions[s], s
    for i, parts in partials.items():
        assert [table.render(t, again.graph, 4) for _, t in parts] == [
            again.partial_text(i, p) for p in again.partials[i]
        ]


def test_the_page_carries_the_graph_for_its_script(tmp_path):
    ex = worked_example()
    ex["x"][0].label = HOSTILE
    page = backprop_html(ex["E"], tmp_path / "p.html").read_text("utf-8")
    assert page.count("</script>") == 2 and "<script>window" not in page  # the label is escaped
    state = page_state(page)
    m, graph = state["model"], backprop_steps(ex["E"]).graph
    assert m["op"] == [n.op if n.op != "**2" else "**k" for n in graph.nodes]  # 0.5 * (t - o) ** 2
    assert m["arg"] == {str(i): 2.0 for i, n in enumerate(graph.nodes) if n.op == "**2"}
    assert m["name"][graph.values.index(ex["x"][0])] == HOSTILE
    assert m["parents"] == [[e.parent for e in graph.edges_into(i)] for i in range(len(graph.nodes))]
    assert m["data"] == [n.data for n in graph.nodes] and m["grad"] == [n.grad for n in graph.nodes]
    assert m["local"] == [e.local for e in graph.edges]
    assert state["captions"] == backprop_steps(ex["E"]).captions  # written from the slots, exactly
    assert state["fixed"] == [] and state["why"] == ""


def test_the_page_carries_exponents_and_numbers_json_lacks(tmp_path):
    x = Value(float("inf"), label="x")
    y = Value(2.0, label="w") ** 3 + Value(0.5, label="v") ** -1.5 + x.relu()
    state = page_state(backprop_html(y, tmp_path / "p.html").read_text("utf-8"))
    ops = state["model"]["op"]
    assert sorted(ops[int(i)] for i in state["model"]["arg"]) == ["**k", "**k"]
    assert sorted(state["model"]["arg"].values()) == [-1.5, 3.0]
    assert "inf" in state["model"]["data"]  # JSON has no Infinity: the page reads "inf"


def test_a_collapsed_page_or_a_custom_op_says_why_values_cannot_change(tmp_path):
    state = page_state(
        backprop_html(mlp_loss([2, 1]), tmp_path / "c.html", collapsed=True).read_text("utf-8")
    )
    assert state["model"] is None and "collapsed=False" in state["why"]
    assert state["captions"] == backprop_steps(mlp_loss([2, 1]), collapsed=True).captions
    x = Value(0.5, label="x")
    out = Value(x.data * 2, (x,), "double")
    out._backward = lambda: None
    state = page_state(backprop_html(out, tmp_path / "d.html").read_text("utf-8"))
    assert state["model"] is None and "'double'" in state["why"]


def test_a_sum_written_one_term_per_line_keeps_its_layout_in_the_templates():
    """A slot is as long as its number: a sum too long for one line is laid out as Python lays it out."""
    from viz.frames import caption_templates

    steps = backprop_steps(mlp_loss([4, 4, 1]))
    table, captions, _, fixed = caption_templates(steps)
    assert fixed == []
    wrapped = [c for c in steps.captions if "\n" + " " * 20 in c and " + " in c.split("\n")[-1][:60]]
    assert wrapped and [table.render(t, steps.graph, 4) for t in captions] == steps.captions
