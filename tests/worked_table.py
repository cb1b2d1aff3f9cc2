"""The 2-2-2 worked example's table as the tutorial prints it (8 decimals): what the tests expect.
The example's inputs live in nn/worked_example.py; its expected numbers live here, once."""

FORWARD = {
    "z1": 0.08,
    "z2": 0.11,
    "h1": 0.51998934,
    "h2": 0.52747230,
    "o1": 0.60944600,
    "o2": 0.66384491,
    "E1": 0.02193381,
    "E2": 0.00203809,
    "E_total": 0.02397190,
}
WEIGHT_GRADS = {
    "w2[0][0]": 0.02592286,
    "w2[0][1]": 0.02629590,
    "w2[1][0]": 0.00740844,
    "w2[1][1]": 0.00751506,
    "w1[0][0]": 0.00080888,
    "w1[0][1]": 0.00161775,
    "w1[1][0]": 0.00071009,
    "w1[1][1]": 0.00142017,
}


def shown(value: float) -> str:
    """How a drawing with precision=8 prints a number of the table: 8 decimals, trailing zeros dropped."""
    return f"{value:.8f}".rstrip("0").rstrip(".")


TABLE_AS_SHOWN = [shown(v) for v in [*FORWARD.values(), *WEIGHT_GRADS.values()]]
