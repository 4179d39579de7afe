"""Independent exact reference of the spec, written with ``fractions.Fraction``.

Deliberately not a copy of the implementation: it walks the bits of each code one by one as
the spec's steps say, and quantizes by comparing exact distances to every neighbour.
"""

import bisect
import functools
import math
from fractions import Fraction


def _negated_body(code, n):
    """The sign of a two's-complement code and the bits of its (negated) body, bit n-2 first."""
    negative = bool(code >> (n - 1) & 1)
    word = (-code) % (1 << n) if negative else code
    return negative, [(word >> i) & 1 for i in range(n - 2, -1, -1)]


def _integer(bits):
    f = 0
    for bit in bits:
        f = 2 * f + bit
    return f


def tfx_value(code, n, IS, SC):
    """Exact value of a TFX code (None for NaR)."""
    if code == 0:
        return Fraction(0)
    if code == 1 << (n - 1):
        return None
    negative, body = _negated_body(code, n)
    first = body[0]
    m = 0
    while m < IS and m < len(body) and body[m] == first:
        m += 1
    regime_length = m + 1 if m < IS else m
    k = m - 1 if first == 1 else -m
    fraction_bits = body[regime_length:]
    f = _integer(fraction_bits)
    value = Fraction(2) ** (k + SC) * (1 + Fraction(f, 2 ** len(fraction_bits)))
    return -value if negative else value


def posit_value(code, n, es, SC):
    """Exact value of a posit code (None for NaR): the standard's decoding, bit by bit."""
    if code == 0:
        return Fraction(0)
    if code == 1 << (n - 1):
        return None
    negative, body = _negated_body(code, n)
    m = 1
    while m < len(body) and body[m] == body[0]:
        m += 1
    k = m - 1 if body[0] == 1 else -m
    rest = body[m + 1:]  # after the terminator, if there is room for one
    e = _integer((rest + [0] * es)[:es])  # bits past the word's end count as 0
    fraction_bits = rest[es:]
    f = _integer(fraction_bits)
    value = Fraction(2) ** (k * 2 ** es + e + SC) * (1 + Fraction(f, 2 ** len(fraction_bits)))
    return -value if negative else value


def fp_value(code, n, E, SC):
    """Exact value of a minifloat code; None for NaN and infinity codes (NaR)."""
    M = n - 1 - E
    sign = code >> (n - 1)
    e = (code >> M) % 2 ** E
    f = code % 2 ** M
    top = 2 ** E - 1
    if (n, E) == (8, 4) and e == top and f == 2 ** M - 1:
        return None  # OCP E4M3: S.1111.111 is NaN
    if (n, E) == (8, 5) and e == top:
        return None  # OCP E5M2: infinities and NaN
    bias = 2 ** (E - 1) - 1
    if e == 0:
        value = Fraction(f, 2 ** M) * Fraction(2) ** (1 - bias + SC)
    else:
        value = (1 + Fraction(f, 2 ** M)) * Fraction(2) ** (e - bias + SC)
    return -value if sign else value


def fxp_value(code, n, F, signed=True):
    q = code - (1 << n) if signed and code >= 1 << (n - 1) else code
    return Fraction(q) * Fraction(2) ** (-F)


@functools.lru_cache(maxsize=None)
def value_table(kind, n, a, b=0, signed=True):
    """Sorted list of (value, code) of every real code."""
    entries = []
    decode = {"tfx": lambda c: tfx_value(c, n, a, b), "posit": lambda c: posit_value(c, n, a, b),
              "fp": lambda c: fp_value(c, n, a, b),
              "fxp": lambda c: fxp_value(c, n, a, signed)}[kind]
    for code in range(1 << n):
        if kind == "fp" and code == 1 << (n - 1):
            continue  # -0: decodes to 0, never produced
        value = decode(code)
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
