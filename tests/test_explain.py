"""viz.explain: the chain-rule sum behind one gradient, with its numbers."""

import math
import re

import pytest

from autograd import Value
from nn.worked_example import worked_example
from viz import draw, explain, gradients, trace
from viz.explain import explain_node
from viz.frames import backprop_steps


def example():
    ex = worked_example()
    for o in ex["o"]:
        o.parents[0].label = f"net_{o.label}"  # the pre-activation, as the article names it
    return ex


def test_w5_is_the_teachers_three_factor_chain():
    ex = example()
    w5 = ex["w2"][0][0]
    e = explain(w5, precision=8)
    lines = str(e).split("\n")
    assert lines[0] == "dE_total/dw2[0][0] = dE_total/do1 · do1/dnet_o1 · dnet_o1/dw2[0][0]"
    o1, h1 = ex["o"][0], ex["h"][0]
    assert [f.value for f in e.terms[0].factors] == pytest.approx([o1.grad, o1.data * (1 - o1.data), h1.data])
    assert lines[1].split("= ")[1] == "0.20944600 × 0.23802157 × 0.51998934".replace("0.20944600", "0.209446")
    assert lines[-1].endswith("= 0.02592286")  # the worked example's dE/dw5
    assert e.total == pytest.approx(w5.grad, rel=1e-12)


def test_full_chain_up_to_the_root():
    ex = example()
    e = explain(ex["w2"][0][0], levels=None)
    assert str(e).split("\n")[0] == (
        "dE_total/dw2[0][0] = dE_total/dE1 · dE1/do1 · do1/dnet_o1 · dnet_o1/dw2[0][0]"
    )
    assert e.terms[0].factors[0].value == 1.0
    assert e.total == pytest.approx(ex["w2"][0][0].grad, rel=1e-12)


def test_a_node_used_by_two_children_gets_one_term_each_summed():
    ex = example()
    h1 = ex["h"][0]
    e = explain(h1, precision=8)
    assert len(e.terms) == 2
    text = str(e)
    assert text.split("\n")[0] == (
        "dE_total/dh1 = dE_total/do1 · do1/dnet_o1 · dnet_o1/dh1 + dE_total/do2 · do2/dnet_o2 · dnet_o2/dh1"
    )
    w5, w7 = ex["w2"][0][0], ex["w2"][1][0]
    assert [t.factors[-1].value for t in e.terms] == [w5.data, w7.data]  # dnet_o/dh1 is the weight
    assert e.total == pytest.approx(h1.grad, rel=1e-12)
    assert text.split("\n")[-1].endswith(f"= {h1.grad:.8f}".rstrip("0"))
    # the sum of the two products is printed before the total
    assert " + ".join(f"{t.product:.8f}".rstrip("0") for t in e.terms) in text


def test_same_value_used_twice_by_one_op():
    x = Value(3.0, label="x")
    y = x * x
    y.label = "y"
    y.backward()
    e = explain(x)
    assert str(e).split("\n")[0] == "dy/dx = dy/dx + dy/dx"
    assert [t.product for t in e.terms] == [3.0, 3.0] and e.total == x.grad == 6.0


def test_unlabelled_intermediates_are_named_by_their_expressions_rather_than_folded_away():
    a = Value(2.0, label="a")
    out = ((a * 3.0).exp() + 1.0).log()
    out.label = "L"
    out.backward()
    e = explain(a)  # folding every unlabelled node would say only dL/da = dL/da
    assert str(e).split("\n")[0] == "dL/da = dL/d(exp(a·3)) · d(exp(a·3))/d(a·3) · d(a·3)/da"
    src = draw(out).source  # the drawing shows the same names on those nodes
    assert ">exp(a·3)</I></FONT>" in src and ">a·3</I></FONT>" in src and ">exp(a·3) + 1</I></FONT>" in src
    assert [f.value for f in e.terms[0].factors] == pytest.approx([1 / (math.exp(6) + 1), math.exp(6), 3.0])
    assert e.total == pytest.approx(a.grad, rel=1e-12)


def test_root_finds_itself_and_explicit_root_agrees():
    ex = example()
    assert str(explain(ex["E"])) == "dE_total/dE_total = 1 (the root itself)"
    w = ex["w1"][1][0]
    assert str(explain(w)) == str(explain(w, root=ex["E"]))
    assert explain(w, root=ex["E"]).total == pytest.approx(0.00071009, abs=5e-9)


def test_the_default_root_is_the_last_backward_and_otherwise_it_asks():
    x = Value(2.0, label="x")
    a, b = x * 2, x * 3  # two live graphs, neither backpropagated
    with pytest.raises(ValueError, match="root="):
        explain(x)
    assert explain(x, root=b).total == 3.0
    b.backward()
    assert explain(x).total == 3.0  # the one backward() was called on
    assert a.data == 4.0


def test_value_outside_the_graph():
    with pytest.raises(ValueError, match="not part of the graph"):
        explain(Value(1.0), root=Value(2.0) * 2)


def test_latex():
    ex = example()
    tex = explain(ex["w2"][0][0])._repr_latex_()
    assert tex.startswith("$$") and tex.endswith("$$")
    assert r"\frac{\partial \mathrm{E\_total}}{\partial \mathrm{w2[0][0]}}" in tex
    assert r"\frac{\partial \mathrm{net\_o1}}{\partial \mathrm{w2[0][0]}}" in tex
    assert r"0.2094 \times 0.238 \times 0.52" in tex
    weird = Value(1.0, label="a{b}_c\\$")
    out = weird * 2
    out.backward()
    assert r"\mathrm{a\{b\}\_c\backslash{}\$}" in explain(weird)._repr_latex_()
    assert math.isclose(explain(weird).total, 2.0)
    assert explain(out).total == 1.0


def test_an_unlabelled_graph_is_explained_through_its_ops():
    # with no labels in between, folding would leave "droot/da = droot/da"; name the nodes instead
    a = Value(2.0, label="a")
    y = a * a + a.tanh()
    y.backward()
    e = explain(a)
    first = str(e).split("\n")[0]
    assert first == (
        "droot/da = droot/d(a·a) · d(a·a)/da + droot/d(a·a) · d(a·a)/da + droot/d(tanh(a)) · d(tanh(a))/da"
    )
    assert e.total == pytest.approx(a.grad, rel=1e-15) == pytest.approx(4 + (1 - math.tanh(2) ** 2))


def test_an_mlp_parameter_is_explained_with_the_places_of_its_nodes():
    import nn

    X, y = nn.datasets.moons(n=100, noise=0.1, seed=0)
    model = nn.MLP(2, [4, 4, 1], seed=0)
    loss = nn.hinge(model(X[0]), [2 * y[0] - 1])
    loss.backward()
    w0 = model.parameters()[0]
    e = explain(w0)
    assert str(e).split("\n")[0] == (
        "dhinge/d(layer 0 › neuron 0 › w0) = dhinge/d(layer 0 › neuron 0 › Σ) · "
        "d(layer 0 › neuron 0 › Σ)/d(layer 0 › neuron 0 › w0·x0) · "
        "d(layer 0 › neuron 0 › w0·x0)/d(layer 0 › neuron 0 › w0)"
    )
    assert e.terms[0].factors[-1].value == X[0][0]  # d(w0·x0)/dw0 is the input
    assert e.total == pytest.approx(w0.grad, rel=1e-12)


def test_a_direct_input_of_the_root_is_not_written_as_itself():
    ex = example()
    text = str(explain(ex["E"].parents[1]))
    assert text.split("\n") == [
        "dE_total/dE2 = dE_total/dE_total · dE_total/dE2",
        "             = 1 × 1",
        "             = 1",
    ]


def test_accumulated_gradients_are_said_not_hidden(tmp_path):
    x, w = Value(0.5, label="x"), Value(0.3, label="w")
    y = (w * x).tanh()
    y.backward()
    once = w.grad
    assert "note" not in str(explain(w)) and "accumulated" not in draw(y).source
    y.backward()  # no zero_grad: the leaves now hold two backward passes
    assert w.grad == 2 * once
    e = explain(w)
    assert e.total == pytest.approx(once, rel=1e-12)  # explain shows one backward's gradient
    assert (
        str(e).split("\n")[-1].startswith("note: the leaves' .grad hold more than one backward's gradients")
    )
    assert "call zero_grad() before backward()" in str(e)
    source = draw(y).source
    assert "more than one backward" in source and "zero_grad" in source  # the drawing says so too
    from viz import backprop_html

    assert "more than one backward" in backprop_html(y, tmp_path / "p.html").read_text(encoding="utf-8")
    w.grad = x.grad = 0.0  # zero_grad after backward: the edges still carry that backward's gradients
    assert "reset (zero_grad)" in str(explain(w)) and "reset (zero_grad)" in draw(y).source
    y.backward()
    assert "note" not in str(explain(w)) and "zero_grad" not in draw(y).source


def test_value_first_gives_the_value_then_the_numbers_then_the_names():
    ex = example()
    h1 = ex["h"][0]
    e = explain(h1, precision=8)
    o1, o2 = ex["o"]
    w5, w7 = ex["w2"][0][0], ex["w2"][1][0]
    products = [o1.grad * o1.data * (1 - o1.data) * w5.data, o2.grad * o2.data * (1 - o2.data) * w7.data]
    lines = e.value_first()
    n = lambda x: f"{x:.8f}".rstrip("0")  # noqa: E731
    pad = " " * len("dE_total/dh1")
    assert lines[0] == f"dE_total/dh1 = {n(h1.grad)}"  # the value first
    assert lines[1] == f"{pad} = {n(products[0])} + {n(products[1])}"  # the sum with its numbers
    assert math.isclose(sum(products), h1.grad, rel_tol=1e-12)
    assert lines[2].startswith(f"{pad} = {n(o1.grad)} × {n(o1.data * (1 - o1.data))} × 0.45 + ")
    assert lines[3] == (  # then the symbolic form
        f"{pad} = dE_total/do1 · do1/dnet_o1 · dnet_o1/dh1 + dE_total/do2 · do2/dnet_o2 · dnet_o2/dh1"
    )
    assert len(lines) == 4 and {ln.index("=") for ln in lines} == {len(pad) + 1}  # aligned


def test_the_worked_example_is_explained_with_no_numbered_names():
    ex = example()
    graph = trace(ex["E"], gradients(ex["E"]))
    texts = [str(explain_node(graph, i, levels=None)) for i in range(len(graph.nodes))]
    assert not [t for t in texts if re.search(r"(mul|sub|pow)\d", t)]
    assert texts[5].split("\n")[0] == "dE_total/d(w1[0][0]·x1) = dE_total/dh1 · dh1/dz1 · dz1/d(w1[0][0]·x1)"
    assert texts[23].split("\n")[0] == "dE_total/d((0.4 - o1)²) = dE_total/dE1 · dE1/d((0.4 - o1)²)"
    steps = backprop_steps(ex["E"])
    assert not [c for c in steps.captions if re.search(r"(mul|sub|pow)\d", c)]
    assert "the gradient of (0.4 - o1)² is final: its use has passed it back" in "\n".join(steps.captions)
