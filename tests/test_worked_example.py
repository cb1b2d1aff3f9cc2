"""The 2-2-2 worked example, written with plain Values: every number of its table to 8 decimals,
and one SGD step (lr 0.5), as the tutorial works them by hand."""

from autograd import Value, zero_grad


def build():
    x1, x2 = Value(0.1), Value(0.2)
    w1 = [[Value(0.3), Value(0.25)], [Value(0.4), Value(0.35)]]
    w2 = [[Value(0.45), Value(0.4)], [Value(0.7), Value(0.6)]]
    z = [w[0] * x1 + w[1] * x2 for w in w1]
    h = [zi.sigmoid() for zi in z]
    o = [(w[0] * h[0] + w[1] * h[1]).sigmoid() for w in w2]
    err = [0.5 * (t - oi) ** 2 for t, oi in zip((0.4, 0.6), o)]
    E = err[0] + err[1]
    return w1, w2, z, h, o, err, E


def close(values, expected):
    assert [round(v, 8) for v in values] == expected


def test_forward_numbers():
    w1, w2, z, h, o, err, E = build()
    close([v.data for v in z], [0.08, 0.11])
    close([v.data for v in h], [0.51998934, 0.52747230])
    close([v.data for v in o], [0.60944600, 0.66384491])
    close([v.data for v in err], [0.02193381, 0.00203809])
    close([E.data], [0.02397190])


def test_gradients_and_one_sgd_step():
    w1, w2, z, h, o, err, E = build()
    E.backward()
    close([w.grad for row in w2 for w in row], [0.02592286, 0.02629590, 0.00740844, 0.00751506])
    close([w.grad for row in w1 for w in row], [0.00080888, 0.00161775, 0.00071009, 0.00142017])
    params = [w for row in w1 + w2 for w in row]
    for w in params:
        w.data -= 0.5 * w.grad
    close([w.data for row in w2 for w in row], [0.43703857, 0.38685205, 0.69629578, 0.59624247])
    close([w.data for row in w1 for w in row], [0.29959556, 0.24919112, 0.39964496, 0.34928991])
    zero_grad(params)
    assert all(w.grad == 0.0 for w in params)


def test_the_demo_prints_the_same_numbers(capsys):
    from viz.cli import main

    assert main(["demo", "--no-pictures"]) == 0
    out = capsys.readouterr().out
    for number in [
        "0.60944600, 0.66384491",
        "0.02397190",
        "0.00080888, 0.00161775",
        "0.43703857, 0.38685205",
    ]:
        assert number in out
