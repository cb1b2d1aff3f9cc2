"""Gradients agree with PyTorch (float64) on the same expressions, first and second order.
Runs when the `torch` extra is installed (the README's test command installs it)."""

import math

import pytest

import autograd
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


# --- random programs: value, first and second derivatives against PyTorch ------------------------------
# A program applies primitives to earlier results (so nodes are reused) over 1 to 3 inputs; each op is
# written twice, for chainrule and for torch, with the same arithmetic.

UNARY = [
    (lambda v: v.tanh(), torch.tanh),
    (lambda v: v.sigmoid(), torch.sigmoid),
    (lambda v: (v * 0.5).exp(), lambda t: (t * 0.5).exp()),
    (lambda v: (v * v + 1).log(), lambda t: (t * t + 1).log()),
    (lambda v: v.relu() + 0.1 * v, lambda t: t.relu() + 0.1 * t),
    (lambda v: -v, lambda t: -t),
    (lambda v: v**2, lambda t: t**2),
    (lambda v: v**3 * 0.1, lambda t: t**3 * 0.1),
    (lambda v: abs(v) + v, lambda t: t.abs() + t),
    (lambda v: 1 / (v * v + 1), lambda t: 1 / (t * t + 1)),
]
BINARY = [
    (lambda a, b: a + b, lambda a, b: a + b),
    (lambda a, b: a - b, lambda a, b: a - b),
    (lambda a, b: a * b, lambda a, b: a * b),
    (lambda a, b: a / (b * b + 1), lambda a, b: a / (b * b + 1)),
    (lambda a, b: (a * a + 0.5) ** b.tanh(), lambda a, b: (a * a + 0.5) ** b.tanh()),
    (lambda a, b: autograd.sum([a, b, a]), lambda a, b: a + b + a),
    (lambda a, b: autograd.max([a, b * 0.5, a * b]), lambda a, b: torch.stack([a, b * 0.5, a * b]).max()),
]
PROGRAMS = 3000


def random_program(rng):
    n_inputs = rng.randint(1, 3)
    steps = []
    for i in range(rng.randint(1, 8)):
        available = n_inputs + i
        if rng.random() < 0.5:
            steps.append((UNARY[rng.randrange(len(UNARY))], rng.randrange(available), None))
        else:
            steps.append(
                (BINARY[rng.randrange(len(BINARY))], rng.randrange(available), rng.randrange(available))
            )
    return steps, [rng.uniform(-2, 2) for _ in range(n_inputs)]


def run_program(steps, inputs, side):
    nodes = list(inputs)
    for fns, i, j in steps:
        f = fns[side]
        nodes.append(f(nodes[i]) if j is None else f(nodes[i], nodes[j]))
    total = nodes[len(inputs)]
    for v in nodes[len(inputs) + 1 :]:
        total = total + v
    return total.tanh()


def near_a_kink(out, margin=1e-3):
    for v in autograd.topological_order(out):
        if v.op in ("relu", "abs") and abs(v.parents[0].data) < margin:
            return True
        if v.op == "max" and sum(p.data > v.data - margin for p in v.parents) > 1:
            return True
    return False


def second_derivatives(g, ts):
    if not g.requires_grad:  # g does not depend on the inputs
        return [0.0] * len(ts)
    row = torch.autograd.grad(g, ts, retain_graph=True, allow_unused=True)
    return [0.0 if h is None else h.item() for h in row]


def test_random_programs_first_and_second_derivatives_agree_with_torch():
    import random

    rng = random.Random(0)
    compared = 0
    for _ in range(PROGRAMS):
        steps, point = random_program(rng)
        xs = [Value(p) for p in point]
        out = run_program(steps, xs, 0)
        if near_a_kink(out):  # one-sided derivatives by convention: compared in test_ops instead
            continue
        first = grad(out, xs, create_graph=True)
        hessian = [[h.data for h in grad(g, xs)] for g in first]

        ts = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in point]
        tout = run_program(steps, ts, 1)
        tfirst = torch.autograd.grad(tout, ts, create_graph=True, allow_unused=True)
        tfirst = [torch.zeros((), dtype=torch.float64) if g is None else g for g in tfirst]  # unused input
        thessian = [second_derivatives(g, ts) for g in tfirst]
        where = f"program {steps} at {point}"
        assert out.data == pytest.approx(tout.item(), rel=1e-12, abs=1e-14), where
        assert [g.data for g in first] == pytest.approx([g.item() for g in tfirst], rel=1e-9, abs=1e-12), (
            where
        )
        for row, trow in zip(hessian, thessian):
            assert row == pytest.approx(trow, rel=1e-7, abs=1e-10), where
        compared += 1
    assert compared >= 0.9 * PROGRAMS  # few programs land within 1e-3 of a kink
