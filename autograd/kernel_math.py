"""exp and log for the compiled kernel (``tape_kernel``), written so that a compiler can run them
on several numbers per instruction.

numba compiles ``math.exp`` and ``math.log`` to a call of the C library, one number at a time:
3 ns a number here, where NumPy's own loops take 0.6 ns, and West's graph is half exps and logs.
These are the C library's algorithms without branches (the reduction of fdlibm, by Sun
Microsystems, with a polynomial for the rest), so the compiler can vectorize the loops they are in.
Each is within 2 units in the last place of the true result (the tape's bound allows 8), is exact
at the points where the C library is (``exp(0)``, ``log(1)``), and keeps its special values: NaN
in, NaN out; ``exp`` of a big number is inf and of a very negative one 0 (subnormals rounded once);
``log`` of 0 is -inf, of a negative number NaN, of inf inf. ``tests/test_tape_kernel.py`` holds
both to the C library's on millions of numbers, subnormals and edges included.

They are plain Python on NumPy scalars, slow but exact to the same bits, until numba compiles them.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["exp", "log"]

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 = _LN2_HI + _LN2_LO, with n * _LN2_HI exact for |n| < 2**20
_LN2_LO = 1.90821492927058770002e-10
# 1/k! for k = 13..0: on |r| <= ln(2)/2 the Taylor polynomial of degree 13 is within 4e-18 of e^r
_EXP = tuple(1.0 / math.factorial(k) for k in range(13, -1, -1))
# fdlibm's e_log.c: log(1 + f) = f - f²/2 + s·(f²/2 + R(s²)), s = f / (2 + f)
_LG = (
    6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01,
    2.222219843214978396e-01, 1.818357216161805012e-01, 1.531383769920937332e-01,
    1.479819860511658591e-01,
)  # fmt: skip
_TWO54 = 18014398509481984.0
_TINY = 2.2250738585072014e-308  # the smallest normal float


def exp(x: float) -> float:
    """e ** x: x = n·ln 2 + r with |r| <= ln(2)/2, e ** r by its Taylor polynomial, times 2 ** n."""
    c = x if x > -746.0 else -746.0  # beyond these the result is 0 or inf anyway (NaN: see the end)
    c = c if c < 710.0 else 710.0
    n = np.rint(c * _LOG2E)
    r = (c - n * _LN2_HI) - n * _LN2_LO
    p = _EXP[0]
    for coefficient in _EXP[1:]:
        p = p * r + coefficient
    k = np.int64(n)
    half = k >> 1  # 2 ** k as two normal powers of two, made from their bits: one rounding, also
    first = np.int64((half + 1023) << 52).view(np.float64)  # for a subnormal result
    second = np.int64((k - half + 1023) << 52).view(np.float64)
    result = (p * first) * second
    return x if x != x else result


def log(x: float) -> float:
    """The natural log: x = 2 ** k · m with m in [sqrt(2)/2, sqrt(2)), log(m) as fdlibm computes it."""
    sub = x < _TINY
    y = x * _TWO54 if sub else x  # a subnormal scaled up to a normal number
    bits = np.float64(y).view(np.int64)
    high = bits >> 32
    k = (high >> 20) - 1023 - (54 if sub else 0)
    high &= 0x000FFFFF
    i = (high + 0x95F64) & 0x100000  # whether m is nearer 2 than 1: then halve it
    m = np.int64(((high | (i ^ 0x3FF00000)) << 32) | (bits & 0xFFFFFFFF)).view(np.float64)
    k += i >> 20
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG[1] + w * (_LG[3] + w * _LG[5]))
    t2 = z * (_LG[0] + w * (_LG[2] + w * (_LG[4] + w * _LG[6])))
    half_f2 = 0.5 * f * f
    kf = np.float64(k)
    result = kf * _LN2_HI - ((half_f2 - (s * (half_f2 + t2 + t1) + kf * _LN2_LO)) - f)
    if x > 0.0 and x < np.inf:
        return result
    return -np.inf if x == 0.0 else (x if x == np.inf else np.nan)
