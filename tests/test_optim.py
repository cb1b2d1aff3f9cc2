"""SGD (momentum, weight decay) and Adam: step for step the published update rules, by hand-computed
numbers, by a textbook re-implementation, and against torch.optim when torch is installed."""

import math

import numpy as np
import pytest

from autograd import Value
from nn import MLP, SGD, Adam, cross_entropy


def run(opt_factory, steps, p0=1.0):
    """Minimise f(p) = p^2 (gradient 2p) and record p after each step."""
    p = Value(p0)
    opt = opt_factory([p])
    trail = []
    for _ in range(steps):
        opt.zero_grad()
        (p * p).backward()
        opt.step()
        trail.append(p.data)
    return trail


def test_plain_sgd_by_hand():
    # p <- p - 0.1 * 2p = 0.8 p
    assert run(lambda ps: SGD(ps, lr=0.1), 3) == pytest.approx([0.8, 0.64, 0.512], abs=1e-15)


def test_sgd_momentum_by_hand():
    # v1 = 2, p = 0.8; v2 = 0.9*2 + 1.6 = 3.4, p = 0.46; v3 = 0.9*3.4 + 0.92 = 3.98, p = 0.062
    assert run(lambda ps: SGD(ps, lr=0.1, momentum=0.9), 3) == pytest.approx([0.8, 0.46, 0.062], abs=1e-15)


def test_sgd_weight_decay_by_hand():
    # g = 2p + 0.1p: v1 = 2.1, p = 0.79; v2 = 0.9*2.1 + 2.1*0.79 = 3.549, p = 0.79 - 0.3549 = 0.4351
    trail = run(lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1), 2)
    assert trail == pytest.approx([0.79, 0.4351], abs=1e-15)


def test_adam_by_hand():
    # step 1: m = 0.2, v = 0.004; m_hat = 2, v_hat = 4; p = 1 - 0.1 * 2 / (2 + 1e-8)
    (p1,) = run(lambda ps: Adam(ps, lr=0.1), 1)
    assert p1 == pytest.approx(1 - 0.1 * 2 / (2 + 1e-8), abs=1e-16)
    assert p1 == pytest.approx(0.9000000005, abs=1e-12)


def textbook_adam(p, grads_of, lr, b1, b2, eps, steps):
    """Kingma & Ba (2015), Algorithm 1, written independently of nn.optim."""
    m = v = 0.0
    trail = []
    for t in range(1, steps + 1):
        g = grads_of(p)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        p = p - lr * m_hat / (math.sqrt(v_hat) + eps)
        trail.append(p)
    return trail


def test_adam_matches_the_textbook_for_many_steps():
    ours = run(lambda ps: Adam(ps, lr=0.05, betas=(0.8, 0.99), eps=1e-6), 20, p0=3.0)
    theirs = textbook_adam(3.0, lambda p: 2 * p, 0.05, 0.8, 0.99, 1e-6, 20)
    assert ours == pytest.approx(theirs, rel=1e-13, abs=1e-15)


def test_lr_schedule_is_a_callable_of_the_step_number():
    seen = []

    def schedule(t):
        seen.append(t)
        return 0.1 / (t + 1)

    trail = run(lambda ps: SGD(ps, lr=schedule), 3)
    assert seen == [0, 1, 2]
    assert trail == pytest.approx([0.8, 0.8 * 0.9, 0.8 * 0.9 * (1 - 0.2 / 3)], abs=1e-15)


def test_zero_grad_and_bad_arguments():
    p = Value(1.0)
    p.grad = 3.0
    SGD([p], lr=0.1).zero_grad()
    assert p.grad == 0.0
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match=r"params\[0\] is a float, not a Value"):
        Adam([1.0])
    with pytest.raises(ValueError, match="learning rate must be a finite number >= 0"):
        SGD([p], lr=-1)
    with pytest.raises(ValueError, match="momentum must be in"):
        SGD([p], lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="betas must be in"):
        Adam([p], betas=(0.9, 1.0))
    opt = SGD([p], lr=lambda t: math.nan)
    with pytest.raises(ValueError, match="learning rate must be a finite number"):
        opt.step()


@pytest.mark.parametrize("name", ["sgd", "sgd_momentum_wd", "adam", "adam_wd"])
def test_same_steps_as_torch_optim(name):
    torch = pytest.importorskip("torch")
    model = MLP(3, [4, 3], activation="tanh", seed=0)
    params = model.parameters()
    theirs = [torch.tensor(p.data, dtype=torch.float64, requires_grad=True) for p in params]
    make = {
        "sgd": (lambda ps: SGD(ps, lr=0.1), lambda ts: torch.optim.SGD(ts, lr=0.1)),
        "sgd_momentum_wd": (
            lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
            lambda ts: torch.optim.SGD(ts, lr=0.1, momentum=0.9, weight_decay=0.01),
        ),
        "adam": (lambda ps: Adam(ps, lr=0.01), lambda ts: torch.optim.Adam(ts, lr=0.01)),
        "adam_wd": (
            lambda ps: Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
            lambda ts: torch.optim.Adam(ts, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
        ),
    }[name]
    ours, torchs = make[0](params), make[1](theirs)
    data = [([0.5, -1.0, 2.0], 0), ([1.5, 0.2, -0.3], 2), ([-0.7, 0.9, 0.1], 1)]
    for step in range(6):
        x, label = data[step % 3]
        ours.zero_grad()
        cross_entropy(model(x), [float(k == label) for k in range(3)]).backward()
        for p, t in zip(params, theirs):
            t.grad = torch.tensor(p.grad, dtype=torch.float64)
        ours.step()
        torchs.step()
        for p, t in zip(params, theirs):
            assert p.data == pytest.approx(t.item(), rel=1e-12, abs=1e-14), (name, step)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: SGD(p, lr=math.nan), "learning rate must be a finite number"),
        (lambda p: SGD(p, lr=np.float32(math.inf)), "learning rate must be a finite number"),
        (lambda p: SGD(p, lr=0.1, weight_decay=math.nan), "weight_decay must be a finite number"),
        (lambda p: SGD(p, lr=0.1, momentum=math.nan), r"momentum must be in \[0, 1\)"),
        (lambda p: Adam(p, eps=math.nan), "eps must be a finite number"),
        (lambda p: Adam(p, weight_decay=math.inf), "weight_decay must be a finite number"),
        (lambda p: Adam(p, betas=(math.nan, 0.999)), r"betas must be in \[0, 1\)"),
        (lambda p: Adam(p, betas=(0.9,)), r"betas must be a pair \(beta1, beta2\)"),
        (lambda p: Adam(p, betas=0.9), r"betas must be a pair"),
    ],
)
def test_nan_and_infinite_hyperparameters_are_refused_by_name(make, message):
    """A NaN hyperparameter would turn every weight into NaN (and relu(NaN) = 0 would hide it)."""
    with pytest.raises(ValueError, match=message):
        make([Value(1.0)])


def test_numpy_scalar_hyperparameters_are_accepted():
    p = Value(1.0)
    p.grad = 2.0
    opt = SGD([p], lr=np.float32(0.5), momentum=np.float64(0.0), weight_decay=np.int64(0))
    opt.step()
    assert p.data == 0.0 and isinstance(opt.weight_decay, float)
    assert Adam([p], betas=np.array([0.8, 0.9]), eps=np.float64(1e-6)).betas == (0.8, 0.9)
