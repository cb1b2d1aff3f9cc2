"""viz.dot: the graphviz drawing (DOT source; rendering is tested in test_render)."""

import re

import graphviz
import pytest
from worked_table import TABLE_AS_SHOWN

from autograd import Value
from autograd import sum as vsum
from nn.module import Scope
from nn.worked_example import T, X, worked_example, worked_example_mlp
from viz import draw, trace
from viz.dot import count_boxes, fmt


def test_fmt():
    assert fmt(0.000808876, 8) == "0.00080888"  # 8 decimals, as the worked example prints it
    assert fmt(0.5274723, 8) == "0.5274723"
    assert fmt(0.025922855, 4) == "0.02592"  # 4 significant digits
    assert fmt(0.6094460, 4) == "0.6094"
    assert fmt(1234.5678, 4) == "1235"
    assert fmt(-1.5e-9, 4) == "-1.5e-09"
    assert fmt(0.0, 4) == "0" and fmt(1.0, 8) == "1"


def test_worked_example_numbers_in_the_dot_source():
    ex = worked_example()
    d = draw(ex["E"], precision=8)
    assert isinstance(d, graphviz.Digraph)
    src = d.source
    for number in TABLE_AS_SHOWN:
        assert number in src, number
    for name in ("x1", "w1[0][0]", "z1", "h1", "o1", "E1", "E_total"):
        assert f"<B>{name}</B>" in src
    # every edge from a drawn box carries local and carried gradient; a constant's edge is plain
    graph = trace(ex["E"])
    from_boxes = [e for e in graph.edges if not graph.is_constant(e.parent)]
    assert len(from_boxes) == len(graph.edges) - 4  # the targets 0.4, 0.6 and the two factors 0.5
    assert src.count("label=<local ") == len(from_boxes)
    assert src.count("<BR/>carries ") == len(from_boxes)
    assert "|grad|" in src  # the legend


def test_edge_labels_show_local_and_carried_numbers():
    x = Value(3.0, label="x")
    y = (x * 2.0).tanh()
    y.backward()
    src = draw(y, precision=6).source
    mul_grad = 1 - y.data**2
    assert f"local {fmt(mul_grad, 6)}<BR/>carries {fmt(mul_grad, 6)}" in src  # tanh' times grad 1
    assert f"local 2<BR/>carries {fmt(2 * mul_grad, 6)}" in src


def test_before_backward_says_not_computed_instead_of_zeros():
    x = Value(2.0, label="x")
    y = x * x
    src = draw(y).source
    assert "gradients not computed yet" in src
    assert "grad 0" not in src and "carries" not in src and "|grad|" not in src
    y.backward()
    src = draw(y).source
    assert "not computed" not in src and "grad 4" in src and "carries" in src


def test_show_grad_false_hides_gradients():
    y = Value(2.0) * 3
    y.backward()
    src = draw(y, show_grad=False).source
    assert "grad " not in src.replace("|grad|", "") and "carries" not in src and "data 6" in src


def test_colour_by_gradient_decade():
    a, b = Value(1.0, label="a"), Value(1e-5, label="b")
    out = a * 2.0 + b * 1e-6
    out.backward()
    src = draw(out).source
    fill = {m.group(1): m.group(2) for m in re.finditer(r"<B>(\w+)</B>.*?fillcolor=\"(#\w+)\"", src)}
    assert fill["a"] == "#e34a33"  # |grad| 2 >= 1
    assert fill["b"] == "#fff7ec"  # |grad| 1e-6 < 1e-4
    assert 'fillcolor="#' in draw(out, color=False).source and "|grad|" not in draw(out, color=False).source


def test_a_value_used_twice_is_two_edges():
    a = Value(3.0, label="a")
    s = a + a
    s.backward()
    src = draw(s).source
    assert len(re.findall(r"\tv0 -> o1 ", src)) == 2


def test_dead_relu_is_marked():
    live, dead = Value(2.0).relu(), Value(-1.0).relu()
    out = live + dead
    out.backward()
    src = draw(out).source
    assert src.count("dead ReLU") == 1


def _scoped(value, scope, label):
    value.scope, value.label = scope, label
    return value


def place(*parts):
    """nn's scope record for a node made by hand: place(("layer", 0), ("neuron", 1))."""
    return Scope(".".join(f"{kind}s.{k}" for kind, k in parts), parts)


def neuron(layer, j):
    return place(("layer", layer), ("neuron", j))


def hand_made_neuron(n, xs, ws, bias=None, act=None):
    """One neuron's nodes, scope records and labels set by hand as nn sets them."""
    w = [_scoped(Value(v), n.with_role("weight", i), f"w{i}") for i, v in enumerate(ws)]
    terms = [_scoped(wi * xi, n.with_role("input", i), f"w{i}·x{i}") for i, (wi, xi) in enumerate(zip(w, xs))]
    b = [] if bias is None else [_scoped(Value(bias), n.with_role("bias"), "b")]
    s = _scoped(vsum(terms + b), n.with_role("sum"), "Σ")
    return s if act is None else _scoped(getattr(s, act)(), n.with_role("activation"), act)


def hand_made_neuron_net():
    """Two neurons of layer 0 and one of layer 1."""
    xs = [Value(0.5, label="x0"), Value(-1.0, label="x1")]
    outs = [
        hand_made_neuron(neuron(0, j), xs, ws, 0.1, "relu") for j, ws in enumerate(([0.3, -0.2], [0.8, 0.1]))
    ]
    out = hand_made_neuron(neuron(1, 0), outs, (1.0, -1.0))
    loss = (out - 1.0) ** 2
    loss.backward()
    return loss


def test_clusters_per_layer_and_neuron():
    src = draw(hand_made_neuron_net(), clusters=True).source
    assert src.count("subgraph cluster_") == 5  # 2 layers, 3 neurons
    for title in ("layer 0", "layer 1", "neuron 0", "neuron 1"):
        assert f"label=<{title}>" in src
    # neuron clusters are nested inside their layer's cluster
    layer0 = src.index("label=<layer 0>")
    assert layer0 < src.index("label=<neuron 1>") < src.index("label=<layer 1>")
    plain = draw(hand_made_neuron_net()).source  # the default: each box says where it is instead
    assert "subgraph cluster_" not in plain
    assert plain.count(">layer 0 › neuron 1</I></FONT>") == 7  # w0, w1, b, w0·x0, w1·x1, Σ, relu
    assert "<B>w1·x1</B>" in plain and "<B>layer 1 › neuron 0</B>" not in plain


def test_collapsed_draws_one_box_per_neuron():
    loss = hand_made_neuron_net()
    src = draw(loss, collapsed=True, clusters=True).source
    assert src.count("Σ w·x + b → relu") == 2 and src.count("Σ w·x → linear") == 1
    assert src.count("subgraph cluster_") == 2  # layers only: a collapsed neuron is one box
    plain = draw(loss, collapsed=True).source
    assert "<B>layer 0 › neuron 1</B>: Σ w·x + b → relu" in plain and "subgraph cluster_" not in plain
    assert "w0·x0" not in src


def test_collapsed_mlp_has_one_node_per_neuron():
    import nn

    model = nn.MLP(2, [16, 16, 1], seed=0)
    loss = (model([0.5, -0.3]) - 1.0) ** 2
    loss.backward()
    full = trace(loss)
    src = draw(loss, collapsed=True).source
    boxes = re.findall(r"\t(v\d+) \[label=<<B>layer \d › neuron \d+</B>", src)
    assert len(boxes) == 16 + 16 + 1
    nodes = re.findall(r"^\t\t*(\w+) \[label=", src, flags=re.M)
    assert len(nodes) < 45 < len(full.nodes) // 10  # 33 neurons, 2 inputs, the loss's few nodes, legend


def test_worked_example_as_an_mlp_draws_its_modules():

    model = worked_example_mlp()
    o = model(list(X))
    loss = sum(0.5 * (t - oi) ** 2 for t, oi in zip(T, o))
    loss.backward()
    src = draw(loss, precision=8, clusters=True).source
    for number in TABLE_AS_SHOWN[2:]:
        assert number in src, number
    assert src.count("subgraph cluster_") == 6
    collapsed = draw(loss, collapsed=True, precision=8).source
    assert collapsed.count("Σ w·x → sigmoid") == 4
    assert "out 0.609446, grad 0.209446" in collapsed  # o1 and dE/do1


HOSTILE = "a<b>&c \"q\" 's' {x} \\n </TD></TABLE>>] ]; digraph { evil -> x }"


def test_hostile_labels_are_escaped_in_dot():
    x = Value(1.0, label=HOSTILE)
    x.scope = HOSTILE
    y = x * 2
    y.label = "line one\nline <two>"
    y.backward()
    src = draw(y).source
    assert HOSTILE not in src and "evil ->" not in src.replace("evil -&gt;", "")
    assert (
        "a&lt;b&gt;&amp;c &quot;q&quot; &#x27;s&#x27; {x} &#92;&#92;n &lt;/TD&gt;&lt;/TABLE&gt;&gt;]" in src
    )
    assert 'line one<BR ALIGN="CENTER"/>line &lt;two&gt;' in src


def big_graph(n_neurons: int = 1786):
    """28 nodes per neuron: 50,019 nodes in all, with scope records (for the collapsed view)."""
    xs = [Value(0.01 * i, label=f"x{i}") for i in range(12)]
    ws = [[0.001 * (i + j) for i in range(12)] for j in range(n_neurons)]
    outs = [hand_made_neuron(neuron(j // 100, j % 100), xs, ws[j], 0.0, "tanh") for j in range(n_neurons)]
    acc = outs[0]
    for o in outs[1:]:
        acc = acc + o  # a long chain: deep enough to break a recursive walk
    acc.backward()
    return acc


def test_50000_node_graph_draws_without_recursion():
    root = big_graph()
    n = len(trace(root).nodes)
    assert n >= 50_000
    src = draw(root).source  # its time is printed by tests/benchmarks/bench_draw.py, not asserted
    assert src.count(" -> ") >= n
    collapsed = draw(root, collapsed=True).source
    assert collapsed.count("Σ w·x + b → tanh") == 1786


def test_bad_rankdir():
    with pytest.raises(ValueError, match="rankdir"):
        draw(Value(1.0), rankdir="sideways")


def test_collapsed_keeps_layer_level_nodes_in_full():
    """Only a neuron's nodes collapse; a softmax layer's own nodes are drawn as they are."""
    h = _scoped(Value(0.5), neuron(0, 0).with_role("activation"), "relu")
    z = [_scoped(h * w, neuron(1, 0).with_role("input", 0), "w0·x0") for w in (1.0, 2.0)]
    e = [_scoped(zi.exp(), place(("layer", 1), ("output", k)), "exp") for k, zi in enumerate(z)]
    out = e[0] + e[1]
    out.backward()
    src = draw(out, collapsed=True).source
    assert src.count("<B>exp</B>") == 2
    assert src.count("<B>layer 0 › neuron 0</B>") == 1 and src.count("<B>layer 1 › neuron 0</B>") == 1
    assert (
        src.count(">layer 1 › output 0</I></FONT>") == 1 and src.count(">layer 1 › output 1</I></FONT>") == 1
    )


# --- shown literally, checked options, micrograd's draw_dot ---------------------------------------

SVG_NS = "{http://www.w3.org/2000/svg}"


def svg_texts(svg: str) -> list[str]:
    import xml.etree.ElementTree as ET

    return ["".join(t.itertext()) for t in ET.fromstring(svg).iter(f"{SVG_NS}text")]


@pytest.mark.parametrize(
    "label, shown_as",
    [
        ("C:\\path\\N", "C:\\path\\N"),  # \N would be the node's name, \G the graph's, \l a line end
        ("\\G and \\l and \\\\", "\\G and \\l and \\\\"),
        ('say "hi" & <b>', 'say "hi" & <b>'),
        ("nul\x00bell\x07tab\tesc\x1bdel\x7f", "nul␀bell␇tab␉esc␛del␡"),  # visible, not fatal
    ],
)
def test_labels_are_shown_literally_never_interpreted(label, shown_as):
    x = Value(2.0, label=label)
    y = x * 3.0
    y.backward()
    texts = svg_texts(draw(y).pipe("svg").decode("utf-8"))
    assert shown_as in texts
    assert "chainrule" not in " ".join(texts)  # \G was not replaced by the graph's name


BAD_PRECISIONS = [(-1, ValueError), (0, ValueError), (18, ValueError), (float("nan"), ValueError)]


@pytest.mark.parametrize("bad, error", [*BAD_PRECISIONS, (2.5, TypeError), (True, TypeError)])
def test_precision_must_be_a_number_of_digits(bad, error):
    y = Value(2.0) * 3
    with pytest.raises(error, match="precision"):
        draw(y, precision=bad)


def test_precision_accepts_numpy_integers():
    import numpy as np

    y = Value(2.0, label="y") * 3
    y.backward()
    assert "data 6" in draw(y, precision=np.int64(3)).source


def test_draw_dot_has_micrographs_signature_and_renders_without_system_dot(tmp_path, monkeypatch):
    from viz import draw_dot

    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot`; graphviz-pure is found beside Python
    x = Value(2.0, label="x")
    y = (x * x).tanh()
    y.backward()
    dot = draw_dot(y, format="svg", rankdir="LR")
    assert dot.format == "svg" and draw(y).format == "svg"
    out = dot.render(str(tmp_path / "gout"))  # micrograd's notebooks call dot.render('gout')
    assert out == str(tmp_path / "gout.svg")
    assert (tmp_path / "gout").read_text() == dot.source
    assert "data 4" in " ".join(svg_texts((tmp_path / "gout.svg").read_text()))
    assert dot.pipe()[:5] in (b"<?xml", b"<svg ")
    assert dot.pipe("png").startswith(b"\x89PNG")
    png = draw_dot(y, format="png").render(str(tmp_path / "g2"), cleanup=True)
    assert png.endswith("g2.png") and not (tmp_path / "g2").exists()
    assert "rankdir=TB" in draw_dot(y, rankdir="TB").source


def test_draw_takes_the_format_its_render_and_pipe_write(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no system dot
    y = (Value(2.0, label="x") * 3).tanh()
    y.backward()
    drawing = draw(y, format="png")
    assert drawing.format == "png" and drawing.pipe().startswith(b"\x89PNG")
    assert drawing.render(str(tmp_path / "g"), cleanup=True).endswith("g.png")
    with pytest.raises(ValueError, match="format must be one of svg, png, pdf, dot; got 'jpg'"):
        draw(y, format="jpg")


# --- constants, dead units, collapsed weights, shared names ---------------------------------------


def test_constants_are_small_plain_numbers_unless_asked():
    ex = worked_example()
    src = draw(ex["E"]).source
    graph = trace(ex["E"])
    consts = [n for n in graph.nodes if graph.is_constant(n.id)]
    assert sorted(n.data for n in consts) == [0.4, 0.5, 0.5, 0.6]  # the targets and the factors 0.5
    for n in consts:
        line = re.search(rf"\tv{n.id} \[label=<([^>]*)> ([^\n]*)", src)
        assert line.group(1) == fmt(n.data) and 'shape="plaintext"' in line.group(2)
    full = draw(ex["E"], constants=True).source
    for n in consts:
        assert re.search(rf"\tv{n.id} \[label=<[^\n]*data {fmt(n.data)}<BR/>grad ", full)


def test_a_dead_unit_is_grey_and_marked_in_full_and_collapsed_views():
    from viz.style import BINS, ZERO_FILL

    hot = [fill for _, fill, _, _ in BINS]
    x = Value(1.0, label="x")
    x.scope = None
    w = _scoped(Value(-3.0), neuron(0, 0).with_role("weight", 0), "w0")
    s = _scoped(w * x, neuron(0, 0).with_role("input", 0), "w0·x0")
    out = _scoped(s.relu(), neuron(0, 0).with_role("activation"), "relu")
    loss = (out - 5.0) ** 2  # d loss / d out = -10: the output's gradient is large, but none passes back
    loss.backward()
    assert out.grad == -10.0 and w.grad == 0.0
    for collapsed in (False, True):
        src = draw(loss, collapsed=collapsed).source
        box = re.search(r"\tv(\d+) \[label=<[^\n]*dead ReLU[^\n]*", src).group(0)
        assert f'fillcolor="{ZERO_FILL}"' in box and not any(f'fillcolor="{h}"' in box for h in hot)
        assert "<B>dead ReLU</B>" in box and "dashed" in box
        assert src.count("dead ReLU") == 1


def test_collapsed_edges_are_weights_width_by_size_colour_by_gradient():
    import nn

    model = nn.MLP(2, [3, 1], seed=0)
    loss = (model([0.5, -1.0]) - 1.0) ** 2
    loss.backward()
    src = draw(loss, collapsed=True, precision=6).source
    assert "each edge into a neuron is a weight w: width |w|, colour |d root / dw|" in src
    weights = [p for p in model.parameters() if p.scope.role[0] == "weight"]
    top = max(abs(w.data) for w in weights)
    for w in weights:  # 9 weights: few enough to label each
        line = next(
            ln for ln in src.split("\n") if f"{w.label} {fmt(w.data, 6)}<BR/>dL/dw {fmt(w.grad, 6)}" in ln
        )
        width = float(re.search(r'penwidth="([\d.]+)"', line).group(1))
        assert width == pytest.approx(0.5 + 3.5 * abs(w.data) / top, abs=0.006)
        from viz.style import grad_colors

        assert f'color="{grad_colors(w.grad)[0]}"' in line


def test_unlabelled_nodes_carry_the_names_explain_uses():
    from viz import explain

    a = Value(2.0, label="a")
    out = ((a * 3.0).exp() + 1.0).log()
    out.label = "L"
    out.backward()
    first = str(explain(a)).split("\n")[0]
    names = re.findall(r"d(\w+)/d", first)
    src = draw(out).source
    for name in set(names) - {"L"}:
        assert f">{name}</I></FONT>" in src, name


# --- big graphs fail fast -------------------------------------------------------------------------


def test_a_graph_too_big_to_lay_out_is_refused_at_once(tmp_path):
    from viz import render
    from viz.dot import DrawingTooBig

    v = Value(1.0, label="x")
    for _ in range(50_000):
        v = v * 1.0
    v.backward()
    drawing = draw(v)
    for attempt in (lambda: render(v, tmp_path / "big.svg"), drawing._repr_mimebundle_, drawing.pipe):
        with pytest.raises(DrawingTooBig, match=r"100001 nodes, over max_nodes=3000.*larger max_nodes") as e:
            attempt()
        assert "collapsed" not in str(e.value)  # no neuron here: collapsing would not shrink it
        assert (e.value.nodes, e.value.limit, e.value.collapsed_nodes) == (100001, 3000, None)
    assert not (tmp_path / "big.svg").exists()
    small = Value(1.0) * 2
    small.backward()
    with pytest.raises(DrawingTooBig, match="over max_nodes=2"):
        render(small, tmp_path / "s.svg", max_nodes=2)
    assert render(small, tmp_path / "s.svg", max_nodes=None).exists()


# --- reading order, read from the rendered SVG ----------------------------------------------------


def node_positions(svg: str) -> dict[int, tuple[float, float]]:
    """Node id -> centre (x, y) of its box (or of its text, for a plain number) in the SVG."""
    out = {}
    for m in re.finditer(r'<g id="v(\d+)" class="node">(.*?)</g>', svg, re.S):
        body = m.group(2)
        points = re.search(r'<polygon[^>]*points="([^"]*)"', body)
        if points:
            xy = [tuple(map(float, p.split(","))) for p in points.group(1).split()]
            xs, ys = [p[0] for p in xy], [p[1] for p in xy]
            out[int(m.group(1))] = ((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2)
        else:
            t = re.search(r'<text[^>]*x="([^"]*)" y="([^"]*)"', body)
            out[int(m.group(1))] = (float(t.group(1)), float(t.group(2)))
    return out


def top_to_bottom(pos, ids) -> bool:
    ys = [pos[i][1] for i in ids]
    return all(a < b for a, b in zip(ys, ys[1:]))  # SVG y grows downwards


WORKED_ORDER = [
    ["x1", "x2", "w1[0][0]", "w1[0][1]", "w1[1][0]", "w1[1][1]"],
    ["z1", "z2"],
    ["h1", "h2", "w2[0][0]", "w2[0][1]", "w2[1][0]", "w2[1][1]"],
    ["net_o1", "net_o2"],
    ["o1", "o2"],
    ["E1", "E2"],
]


@pytest.mark.parametrize("rankdir", ["LR", "TB"])
def test_the_worked_example_reads_in_order(rankdir):
    """Left to right: each rank a column read top to bottom; top to bottom: a row read left to right."""
    ex = worked_example()
    graph = trace(ex["E"])
    ids = {n.label: n.id for n in graph.nodes if n.label}
    svg = draw(ex["E"], rankdir=rankdir).pipe("svg").decode("utf-8")
    across, along = (0, 1) if rankdir == "LR" else (1, 0)
    pos = {i: (p[across], p[along]) for i, p in node_positions(svg).items()}
    for column in WORKED_ORDER:
        assert len({round(pos[ids[name]][0]) for name in column}) == 1, column  # one column (or row)
        assert top_to_bottom(pos, [ids[name] for name in column]), column


def mlp_loss(sizes, seed=0):
    import nn

    model = nn.MLP(2, sizes, seed=seed)
    loss = (model([0.5, -0.3]) - 1.0) ** 2
    loss.backward()
    return loss


def neuron_outputs(graph, layer, count):
    last = {n.scope: n.id for n in graph.nodes if n.scope}
    return [last[f"layers.{layer}.neurons.{j}"] for j in range(count)]


@pytest.mark.parametrize("sizes, collapsed", [([4, 4, 1], False), ([16, 16, 1], True), ([4, 4, 1], True)])
def test_mlp_inputs_and_neurons_read_in_order(sizes, collapsed):
    loss = mlp_loss(sizes)
    graph = trace(loss)
    pos = node_positions(draw(loss, collapsed=collapsed).pipe("svg").decode("utf-8"))
    inputs = [n.id for n in graph.nodes if n.label in ("x0", "x1")]
    assert [graph.nodes[i].label for i in inputs] == ["x0", "x1"] and top_to_bottom(pos, inputs)
    for layer, count in enumerate(sizes):
        assert top_to_bottom(pos, neuron_outputs(graph, layer, count)), f"layer {layer}"
    if not collapsed:  # each neuron's weights in input order (the bias joins later, at its sum)
        for j in range(sizes[0]):
            weights = [
                n.id for n in graph.nodes if n.scope == f"layers.0.neurons.{j}" and n.label in ("w0", "w1")
            ]
            assert [graph.nodes[i].label for i in weights] == ["w0", "w1"]
            assert top_to_bottom(pos, weights)


def test_a_collapsed_neuron_is_filled_by_the_gradient_it_passes_back():
    from viz.style import grad_colors

    loss = mlp_loss([4, 4, 1], seed=3)
    graph = trace(loss)
    src = draw(loss, collapsed=True).source
    for layer, count in enumerate([4, 4, 1]):
        for out in neuron_outputs(graph, layer, count):
            node = graph.nodes[out]
            before = graph.edges_into(out)[0].parent if node.op == "relu" else out  # its weighted sum
            box = re.search(rf"\tv{out} \[label=<[^\n]*", src).group(0)
            assert f'fillcolor="{grad_colors(graph.nodes[before].grad)[0]}"' in box
            assert f"grad {fmt(node.grad)}" in box  # the output's own gradient is still written


def test_too_big_suggests_collapsing_only_when_it_shrinks_the_drawing(tmp_path, monkeypatch):
    import sys

    import nn
    from viz import DrawingTooBig, render

    model = nn.MLP(64, [32, 10], seed=0)
    out = model([0.5] * 64)
    root = out[0]
    for o in out[1:]:
        root = root + o
    root.backward()
    small = draw(root, collapsed=True).node_count
    with pytest.raises(
        DrawingTooBig, match=rf"over max_nodes=3000.*collapsed=True \(one box per neuron: {small} nodes\)"
    ) as big:
        render(root, tmp_path / "m.svg")
    assert (big.value.limit, big.value.collapsed_nodes) == (3000, small) and big.value.nodes > 3000
    with pytest.raises(DrawingTooBig, match="over max_nodes=50.*larger max_nodes") as e:
        render(root, tmp_path / "m.svg", collapsed=True, max_nodes=50)  # collapsed already
    assert "collapsed=True" not in str(e.value) and small > 50

    # counted on the Values before anything is traced or drawn: refused at once, whatever the size
    def no_trace(*args, **kwargs):
        raise AssertionError("traced a graph that was too big to draw")

    monkeypatch.setattr(sys.modules["viz.dot"], "trace", no_trace)
    with pytest.raises(DrawingTooBig, match="4925 nodes"):
        render(root, tmp_path / "m.svg")
    drawing = draw(root)  # a notebook's display of it: refused before any DOT text is built
    with pytest.raises(DrawingTooBig, match="4925 nodes"):
        drawing._repr_mimebundle_()
    assert drawing.node_count == 4925 and not (tmp_path / "m.svg").exists()
    monkeypatch.undo()
    assert "->" in drawing.source  # read on purpose: built then


def test_a_leaf_labelled_b_is_not_taken_for_a_bias():
    n = neuron(0, 0)
    x = Value(0.5, label="x0")
    w = _scoped(Value(2.0), n.with_role("weight", 0), "w0")
    b_named = _scoped(Value(0.1), n.with_role("weight", 1), "b")  # a weight its user called b
    s = _scoped(vsum([w * x, b_named * x]), n.with_role("sum"), "Σ")
    out = _scoped(s.relu(), n.with_role("activation"), "relu")
    out.backward()
    src = draw(out, collapsed=True).source
    assert "<B>layer 0 › neuron 0</B>: Σ w·x → relu" in src and "+ b" not in src
    plain = Value(0.1, label="b") * Value(3.0, label="x")  # no record at all: just a node called b
    plain.backward()
    for collapsed in (False, True):
        src = draw(plain, collapsed=collapsed).source
        assert "<B>b</B>" in src and "Σ w·x" not in src and "›" not in src


def test_plain_values_draw_the_same_collapsed_or_not():
    ex = worked_example()
    assert count_boxes(ex["E"], collapsed=True) == count_boxes(ex["E"], collapsed=False) == 37
    full, collapsed = draw(ex["E"]).source, draw(ex["E"], collapsed=True).source
    names = re.findall(r"<I>([^<]*)</I>", full)
    assert "w1[0][0]·x1" in names and "(0.4 - o1)²" in names and "0.6 - o2" in names
    assert not [n for n in names if re.fullmatch(r"(mul|sub|pow)\d+", n)]
    assert "›" not in full + collapsed and "Σ w·x" not in collapsed  # no place, no neuron box


def test_every_box_of_an_mlp_says_a_name_of_its_own_and_where_it_is():
    import nn

    model = nn.MLP(2, [4, 4, 1], seed=0)
    out = model([0.5, -1.0])
    out.backward()
    graph = trace(out)
    src = draw(out).source
    boxes = dict(re.findall(r"\tv(\d+) \[label=<(.*?)<BR/>data ", src))
    assert len(boxes) == len(graph.nodes) == 84 and len(set(boxes.values())) == 84
    for i, text in boxes.items():
        node = graph.nodes[int(i)]
        if node.scope:
            (layer, k), (_, j) = node.scope.parts
            place = f'<FONT POINT-SIZE="9"><I>layer {k} › neuron {j}</I></FONT>'
            assert text == f"{place}<BR/><B>{graph.name(int(i))}</B>", text
    assert boxes["2"].endswith("<B>w0·x0</B>") and boxes["5"].endswith("<B>w1·x1</B>")
    collapsed = re.findall(r"\tv\d+ \[label=<<B>([^<]*)</B>: ", draw(out, collapsed=True).source)
    assert collapsed == [f"layer {k} › neuron {j}" for k, n in ((0, 4), (1, 4), (2, 1)) for j in range(n)]


def test_an_expression_name_made_of_hostile_labels_is_escaped():
    x = Value(1.0, label="<b>&")
    y = (x * 2.0).exp() * 1.0
    y.backward()
    graph = trace(y)
    assert [graph.name(i) for i in range(len(graph.nodes))] == [
        "<b>&",
        "const1",
        "<b>&·2",
        "exp(<b>&·2)",
        "const4",
        "root",
    ]
    src = draw(y).source
    assert "<I>&lt;b&gt;&amp;·2</I>" in src and "<I>exp(&lt;b&gt;&amp;·2)</I>" in src and "<b>&" not in src


def test_a_small_drawing_has_a_legend_of_the_fills_it_uses():
    """x·3 then tanh: its boxes' gradients are 0.5421, 0.1807 and 1, two fills; its legend lists those
    two (and not the seven of every bin), while the step-by-step frames, whose numbers change, keep
    every row."""
    from viz import backprop_frames

    x = Value(0.5, label="x")
    u = x * 3
    u.label = "u"
    y = u.tanh()
    y.label = "y"
    y.backward()
    legend = re.search(r"legend \[label=<(.*?</TABLE>)>", draw(y).source, re.S).group(1)
    assert "≥ 1" in legend and "0.1 – 1" in legend
    assert "0.01 – 0.1" not in legend and "below 0.0001" not in legend and "dead unit" not in legend
    frame = next(iter(backprop_frames(y)))
    full = re.search(r"legend \[label=<(.*?</TABLE>)>", frame.source, re.S).group(1)
    assert "0.01 – 0.1" in full and "below 0.0001" in full and "not known yet" in full
