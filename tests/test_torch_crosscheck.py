"""Gradients agree with PyTorch (float64) on the same expressions, first and second order.
Needs the `torch` extra (the README's test command installs it): without it these tests fail."""

import math

import numpy as np
import pytest
from programs import EXACT, Lib, Program, near_a_kink, random_steps
from required import required

from autograd import Value, grad

torch = required("torch", "torch")


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
# tests/programs.py writes each op once, for Values and tensors alike, layers of neurons among them (nn's
# modules on chainrule's side, their arithmetic written out on torch's); over 1 to 3 inputs. cancel is
# left out (fsum makes it exact eagerly, torch adds in order), and so is mlp, to keep the run time:
# the second derivatives of a chain of layers cost torch much more; a layer reading another's outputs
# still makes one, and test_tape_fuzz.py runs them all.
OPS = [name for name in EXACT if name != "mlp"]


def _tensor(x):
    return x if isinstance(x, torch.Tensor) else torch.tensor(x, dtype=torch.float64)


TORCH = Lib(
    sum=lambda xs: torch.stack([_tensor(x) for x in xs]).sum(),
    max=lambda xs: torch.stack([_tensor(x) for x in xs]).max(),
)
PROGRAMS = 3000


def random_program(rng: np.random.Generator):
    n_inputs = int(rng.integers(1, 4))
    steps = random_steps(rng, int(rng.integers(1, 9)), OPS)
    return steps, rng.uniform(-2, 2, size=n_inputs).tolist()


def run_program(program, inputs):
    nodes = program(inputs)
    total = nodes[len(inputs)]
    for v in nodes[len(inputs) + 1 :]:
        total = total + v
    return total.tanh()


def second_derivatives(g, ts):
    if not g.requires_grad:  # g does not depend on the inputs
        return [0.0] * len(ts)
    row = torch.autograd.grad(g, ts, retain_graph=True, allow_unused=True)
    return [0.0 if h is None else h.item() for h in row]


def test_random_programs_first_and_second_derivatives_agree_with_torch():
    rng = np.random.default_rng(0)
    compared = 0
    for _ in range(PROGRAMS):
        steps, point = random_program(rng)
        xs = [Value(p) for p in point]
        out = run_program(Program(steps), xs)
        if near_a_kink(out, margin=1e-3):  # one-sided derivatives by convention: compared in test_ops instead
            continue
        first = grad(out, xs, create_graph=True)
        hessian = [[h.data for h in grad(g, xs)] for g in first]

        ts = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in point]
        tout = run_program(Program(steps, TORCH), ts)
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
