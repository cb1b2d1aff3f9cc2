"""viz.dot: the graphviz drawing (DOT source; rendering is tested in test_render)."""

import re

import graphviz
import pytest

from autograd import Value
from nn.worked_example import worked_example
from viz import draw, trace
from viz.dot import fmt

SEED_NUMBERS = [  # forward values and weight gradients of the seed table, 8 decimals
    "0.08",
    "0.11",
    "0.51998934",
    "0.52747230",
    "0.60944600",
    "0.66384491",
    "0.02193381",
    "0.00203809",
    "0.02397190",
    "0.02592286",
    "0.02629590",
    "0.00740844",
    "0.00751506",
    "0.00080888",
    "0.00161775",
    "0.00071009",
    "0.00142017",
]


def shown(number: str) -> str:
    """How a drawing prints a seed number: its 8 decimals, trailing zeros dropped."""
    return number.rstrip("0").rstrip(".")


def test_fmt():
    assert fmt(0.000808876, 8) == "0.00080888"  # 8 decimals, as the seed prints it
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
    for number in SEED_NUMBERS:
        assert shown(number) in src, number
    for name in ("x1", "w1[0][0]", "z1", "h1", "o1", "E1", "E_total"):
        assert f"<B>{name}</B>" in src
    # every edge label carries local and carried gradient
    assert src.count("label=<local ") == len(trace(ex["E"]).edges)
    assert src.count("<BR/>carries ") == len(trace(ex["E"]).edges)
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


def hand_made_neuron_net():
    """Two neurons of layer 0 and one of layer 1, scopes set by hand as nn does."""
    xs = [Value(0.5, label="x0"), Value(-1.0, label="x1")]
    outs = []
    for j, ws in enumerate(([0.3, -0.2], [0.8, 0.1])):
        scope = f"layers.0.neurons.{j}"
        w = [_scoped(Value(v), scope, f"w{i}") for i, v in enumerate(ws)]
        b = _scoped(Value(0.1), scope, "b")
        s = Value(0.0)
        from autograd import sum as vsum

        s = _scoped(vsum([_scoped(wi * xi, scope, "x·w") for wi, xi in zip(w, xs)] + [b]), scope, "Σ")
        outs.append(_scoped(s.relu(), scope, "relu"))
    scope = "layers.1.neurons.0"
    w = [_scoped(Value(v), scope, f"w{i}") for i, v in enumerate((1.0, -1.0))]
    from autograd import sum as vsum

    out = _scoped(vsum([_scoped(wi * h, scope, "x·w") for wi, h in zip(w, outs)]), scope, "Σ")
    loss = (out - 1.0) ** 2
    loss.backward()
    return loss


def test_clusters_per_layer_and_neuron():
    src = draw(hand_made_neuron_net()).source
    assert src.count("subgraph cluster_") == 5  # 2 layers, 3 neurons
    for title in ("layer 0", "layer 1", "neuron 0", "neuron 1"):
        assert f"label=<{title}>" in src
    # neuron clusters are nested inside their layer's cluster
    layer0 = src.index("label=<layer 0>")
    assert layer0 < src.index("label=<neuron 1>") < src.index("label=<layer 1>")
    assert "subgraph cluster_" not in draw(hand_made_neuron_net(), clusters=False).source


def test_collapsed_draws_one_box_per_neuron():
    loss = hand_made_neuron_net()
    src = draw(loss, collapsed=True).source
    assert src.count("Σ w·x + b → relu") == 2 and src.count("Σ w·x → linear") == 1
    assert src.count("subgraph cluster_") == 2  # layers only: a collapsed neuron is one box
    assert "x·w" not in src


def test_collapsed_mlp_has_one_node_per_neuron():
    pytest.importorskip("nn.train")  # nn.layers and nn.train: built alongside viz
    import nn

    model = nn.MLP(2, [16, 16, 1], seed=0)
    loss = (model([0.5, -0.3]) - 1.0) ** 2
    loss.backward()
    full = trace(loss)
    src = draw(loss, collapsed=True).source
    boxes = re.findall(r"\t(v\d+) \[label=<<B>neuron \d+</B>", src)
    assert len(boxes) == 16 + 16 + 1
    nodes = re.findall(r"^\t\t*(\w+) \[label=", src, flags=re.M)
    assert len(nodes) < 45 < len(full.nodes) // 10  # 33 neurons, 2 inputs, the loss's few nodes, legend


def test_worked_example_as_an_mlp_draws_its_modules():
    pytest.importorskip("nn.train")  # nn.layers and nn.train: built alongside viz
    import nn

    model = nn.MLP(
        2,
        [2, 2],
        activation="sigmoid",
        output_activation="sigmoid",
        bias=False,
        weights=[[[0.3, 0.25], [0.4, 0.35]], [[0.45, 0.4], [0.7, 0.6]]],
    )
    o = model([0.1, 0.2])
    loss = sum(0.5 * (t - oi) ** 2 for t, oi in zip((0.4, 0.6), o))
    loss.backward()
    src = draw(loss, precision=8).source
    for number in SEED_NUMBERS[2:]:
        assert shown(number) in src, number
    assert src.count("subgraph cluster_") == 6
    collapsed = draw(loss, collapsed=True, precision=8).source
    assert collapsed.count("Σ w·x → sigmoid") == 4
    assert "out 0.609446 · grad 0.209446" in collapsed  # o1 and dE/do1


HOSTILE = "a<b>&c \"q\" 's' {x} \\n </TD></TABLE>>] ]; digraph { evil -> x }"


def test_hostile_labels_are_escaped_in_dot():
    x = Value(1.0, label=HOSTILE)
    x.scope = HOSTILE
    y = x * 2
    y.label = "line one\nline <two>"
    y.backward()
    src = draw(y).source
    assert HOSTILE not in src and "evil ->" not in src.replace("evil -&gt;", "")
    assert "a&lt;b&gt;&amp;c &quot;q&quot; &#x27;s&#x27; {x} \\n &lt;/TD&gt;&lt;/TABLE&gt;&gt;]" in src
    assert 'line one<BR ALIGN="CENTER"/>line &lt;two&gt;' in src


def big_graph(n_neurons: int = 1786):
    """28 nodes per neuron: 50,019 nodes in all, with scopes (for the collapsed view)."""
    from autograd import sum as vsum

    xs = [Value(0.01 * i, label=f"x{i}") for i in range(12)]
    outs = []
    for j in range(n_neurons):
        scope = f"layers.{j // 100}.neurons.{j % 100}"
        ws = [_scoped(Value(0.001 * (i + j)), scope, f"w{i}") for i in range(12)]
        terms = [_scoped(w * x, scope, "x·w") for w, x in zip(ws, xs)]
        s = _scoped(vsum(terms + [_scoped(Value(0.0), scope, "b")]), scope, "Σ")
        outs.append(_scoped(s.tanh(), scope, "tanh"))
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
    """Only scopes ending in neurons.<j> collapse; a softmax layer's own nodes are drawn as they are."""
    h = _scoped(Value(0.5), "layers.0.neurons.0", "relu")
    z = [_scoped(h * w, "layers.1.neurons.0", "x·w") for w in (1.0, 2.0)]
    e = [_scoped(zi.exp(), "layers.1", "exp") for zi in z]
    out = e[0] + e[1]
    out.backward()
    src = draw(out, collapsed=True).source
    assert src.count("<B>exp</B>") == 2 and src.count("<B>neuron 0</B>") == 2
