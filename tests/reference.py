"""Independent exact reference of the spec, written with ``fractions.Fraction``.

Deliberately not a copy of the implementation: it walks the bits of each code one by one as
the spec's steps say, and quantizes by comparing exact distances to every neighbour.
"""

import bisect
import functools
import math
from fractions import Fraction


def tfx_value(code, n, IS, SC):
    """Exact value of a TFX code (None for NaR)."""
    if code == 0:
        return Fraction(0)
    if code == 1 << (n - 1):
        return None
    negative = bool(code >> (n - 1) & 1)
    word = (-code) % (1 << n) if negative else code
    body = [(word >> i) & 1 for i in range(n - 2, -1, -1)]  # bit n-2 first
    first = body[0]
    m = 0
    while m < IS and m < len(body) and body[m] == first:
        m += 1
    regime_length = m + 1 if m < IS else m
    k = m - 1 if first == 1 else -m
    fraction_bits = body[regime_length:]
    f = 0
    for bit in fraction_bits:
        f = 2 * f + bit
    value = Fraction(2) ** (k + SC) * (1 + Fraction(f, 2 ** len(fraction_bits)))
    return -value if negative else value


def fxp_value(code, n, F, signed=True):
    q = code - (1 << n) if signed and code >= 1 << (n - 1) else code
    return Fraction(q) * Fraction(2) ** (-F)


@functools.lru_cache(maxsize=None)
def value_table(kind, n, a, b=0, signed=True):
    """Sorted list of (value, code) of every real code."""
    entries = []
    for code in range(1 << n):
        value = tfx_value(code, n, a, b) if kind == "tfx" else fxp_value(code, n, a, signed)
        if value is not None:
            entries.append((value, code))
    entries.sort()
    return tuple(entries)


def nearest_code(x, table):
    """Nearest value of ``table`` to ``x`` (Fraction, or ±inf float); ties to the even code."""
    if isinstance(x, float) and math.isinf(x):
        return table[-1][1] if x > 0 else table[0][1]
    values = [v for v, _ in table]
    i = bisect.bisect_left(values, x)
    if i == 0:
        return table[0][1]
    if i == len(values):
        return table[-1][1]
    (lo, lo_code), (hi, hi_code) = table[i - 1], table[i]
    if x - lo < hi - x:
        return lo_code
    if hi - x < x - lo:
        return hi_code
    return lo_code if lo_code % 2 == 0 else hi_code


def scale_reference(acc, exponent, M, shift, relu, table):
    """The scaling stage: Q_out(relu?(acc * M * 2**(exponent - shift))) with one rounding."""
    value = Fraction(acc * M) * Fraction(2) ** (exponent - shift)
    if relu and value < 0:
        value = Fraction(0)
    return nearest_code(value, table)
