"""Gradients agree with PyTorch (float64) on the same expressions, first and second order.
Runs when the `torch` extra is installed (the README's test command installs it)."""

import math

import pytest

from autograd import Value, grad

torch = pytest.importorskip("torch")


def expression(x, y, z, lib):
    if lib == "torch":
        tanh, sig, exp, log, relu = torch.tanh, torch.sigmoid, torch.exp, torch.log, torch.relu
    else:
        tanh, sig, exp, log, relu = (
            (lambda v: v.tanh()),
            (lambda v: v.sigmoid()),
            (lambda v: v.exp()),
            (lambda v: v.log()),
            (lambda v: v.relu()),
        )
    a = tanh(x * y) + sig(z) * x**3
    b = log(y * y + 1) / (exp(z) + 2) - relu(x - z) + 2**y
    return (a * b + abs(a - b)) ** 2


@pytest.mark.parametrize("point", [(0.3, -1.2, 0.8), (1.5, 0.4, -2.0), (-0.7, 2.2, 0.1)])
def test_first_and_second_derivatives_agree_with_torch(point):
    xs = [Value(p) for p in point]
    out = expression(*xs, "chainrule")
    first = grad(out, xs, create_graph=True)
    hessian = [[h.data for h in grad(g, xs)] for g in first]

    ts = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in point]
    tout = expression(*ts, "torch")
    tfirst = torch.autograd.grad(tout, ts, create_graph=True)
    thessian = [[h.item() for h in torch.autograd.grad(g, ts, retain_graph=True)] for g in tfirst]

    assert out.data == pytest.approx(tout.item(), rel=1e-14)
    assert [g.data for g in first] == pytest.approx([g.item() for g in tfirst], rel=1e-12)
    for row, trow in zip(hessian, thessian):
        assert row == pytest.approx(trow, rel=1e-10, abs=1e-12)
    assert all(math.isfinite(h) for row in hessian for h in row)
