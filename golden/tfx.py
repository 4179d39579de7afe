"""TFX(n, IS, SC): tapered fixed point, as defined in ``docs/formats/tfx.md``.

A posit without exponent field whose regime run is capped at ``IS`` bits, scaled by ``2**SC``.
"""

import functools

import numpy as np

from ._checks import check_int
from .format import NumberFormat, twos_complement

__all__ = ["TFX", "MIN_N", "MAX_N", "MIN_SC", "MAX_SC", "decode_fields"]

MIN_N, MAX_N = 3, 16
MIN_SC, MAX_SC = -32, 32

_ABS_MASK = np.int64(0x7FFF_FFFF_FFFF_FFFF)
_MANTISSA_BITS = 52
_CHUNK = 1 << 15  # elements per block of the fast quantizer (keeps temporaries in cache)


def decode_fields(code, n, IS):
    """Split one code into its fields, following the spec step by step.

    Returns
    -------
    dict
        ``sign`` (0/1), ``regime`` (bit string, terminator included), ``k``, ``fraction``
        (bit string), ``integer`` (the exact operand ``X``), or ``{"nar": True}`` for NaR and
        ``{"zero": True}`` for zero.
    """
    if code == 0:
        return {"zero": True}
    if code == 1 << (n - 1):
        return {"nar": True}
    sign = code >> (n - 1)
    body = ((1 << n) - code) % (1 << n) if sign else code
    bits = format(body, f"0{n}b")[1:]
    first = bits[0]
    run = 0
    while run < IS and run < len(bits) and bits[run] == first:
        run += 1
    regime_length = run + 1 if run < IS else run
    k = run - 1 if first == "1" else -run
    fraction = bits[regime_length:]
    nf = len(fraction)
    f = int(fraction, 2) if fraction else 0
    # value * 2**(n-1-SC) = 2**(k + n-1 - nf) * (2**nf + f); the exponent k + regime_length >= 0.
    integer = ((1 << nf) + f) << (k + regime_length)
    return {"sign": sign, "regime": bits[:regime_length], "k": k, "fraction": fraction,
            "integer": -integer if sign else integer}


@functools.lru_cache(maxsize=None)
def _int_table(n, IS):
    table = np.zeros(1 << n, dtype=np.int64)
    for code in range(1, 1 << n):
        fields = decode_fields(code, n, IS)
        if "integer" in fields:
            table[code] = fields["integer"]
    table.setflags(write=False)
    return table


class TFX(NumberFormat):
    """Tapered fixed point ``TFX(n, IS, SC)``.

    Parameters
    ----------
    n : int
        Word width, 3 to 16 bits.
    IS : int
        Longest regime run, 1 to ``n - 1``; every value has magnitude below ``2**(IS + SC)``.
    SC : int
        Scale exponent, -32 to 32: every value is multiplied by ``2**SC``.

    Notes
    -----
    Codes are n-bit unsigned integers; ``2**(n-1)`` is NaR. ``to_int`` gives the exact operand
    ``X = value * 2**(n-1-SC)``, a signed integer of ``n + IS`` bits that does not depend on
    ``SC``. ``quantize`` rounds to nearest, ties to the even code, saturates at +-maxpos and
    flushes magnitudes up to minpos/2 to zero.
    """

    def __init__(self, n, IS, SC=0):
        self._n = check_int("n", n, MIN_N, MAX_N)
        self._IS = check_int("IS", IS, 1, self._n - 1)
        self._SC = check_int("SC", SC, MIN_SC, MAX_SC)

    @property
    def n(self):
        return self._n

    @property
    def IS(self):
        return self._IS

    @property
    def SC(self):
        return self._SC

    @property
    def int_exponent(self):
        return self._SC - (self._n - 1)

    @property
    def nar_code(self):
        return 1 << (self._n - 1)

    @property
    def operand_width(self):
        return self._n + self._IS

    @property
    def spec(self):
        return f"tfx:{self._n},{self._IS},{self._SC}"

    def _key(self):
        return (self._n, self._IS, self._SC)

    def __repr__(self):
        return f"TFX(n={self._n}, IS={self._IS}, SC={self._SC})"

    def _int_table(self):
        return _int_table(self._n, self._IS)

    def fields(self, code):
        """The fields of one code (see :func:`decode_fields`)."""
        code = int(self.check_codes(code))
        return decode_fields(code, self._n, self._IS)

    field_names = ("s", "regime", "k", "fraction")

    def field_columns(self, code):
        fields = self.fields(code)
        if "nar" in fields or "zero" in fields:
            return "NaR" if "nar" in fields else "zero"
        return (str(fields["sign"]), fields["regime"], str(fields["k"]), fields["fraction"] or "-")

    def with_scale(self, SC):
        """The same n and IS with another scale."""
        return TFX(self._n, self._IS, SC)

    # -- fast quantization ------------------------------------------------------------------
    #
    # Every midpoint between neighbouring values has at most n-1 significant fraction bits in
    # its own binade. So the float64 bit pattern of |x|, cut after n-1 mantissa bits, names a
    # cell in which every point rounds alike, except the cell's left edge, which may be a tie.
    # A table indexed by (cell, edge-or-interior) then gives the code. The table is built once
    # per (n, IS) with the exact quantizer and covers |x| from 2**(-IS-2) (flushes to zero) to
    # 2**(IS+1) (saturates); SC only offsets the exponent field.

    @functools.cached_property
    def _fast_table(self):
        return _fast_table(self._n, self._IS)

    def quantize(self, x, *, nan="raise"):
        x = self._check_real(x, nan)
        table, low_bits, cut = self._fast_table
        offset = np.int64(self._SC) << _MANTISSA_BITS
        low = low_bits + offset
        high = low + (np.int64(len(table) // 2 - 1) << cut)
        sticky_mask = np.int64((1 << cut) - 1)
        flat = np.ascontiguousarray(x).reshape(-1).view(np.int64)
        out = np.empty(flat.shape, dtype=np.int64)
        code_mask = np.int64((1 << self._n) - 1)
        for start in range(0, flat.size, _CHUNK):
            bits = flat[start:start + _CHUNK]
            code = out[start:start + _CHUNK]
            magnitude = bits & _ABS_MASK
            np.maximum(magnitude, low, out=magnitude)
            np.minimum(magnitude, high, out=magnitude)
            magnitude -= low
            # floor + ceil of the cell number = 2 * cell + (1 if any bit below the cut is set)
            index = magnitude >> cut
            magnitude += sticky_mask
            magnitude >>= cut
            index += magnitude
            np.take(table, index, out=code)
            np.negative(code, out=code, where=bits < 0)
            code &= code_mask
        return out.reshape(x.shape)


@functools.lru_cache(maxsize=None)
def _fast_table(n, IS):
    fmt = TFX(n, IS, 0)
    cut = _MANTISSA_BITS - (n - 1)
    low_bits = np.float64(2.0 ** (-IS - 2)).view(np.int64)
    high_bits = np.float64(2.0 ** (IS + 1)).view(np.int64)
    cells = np.arange(((high_bits - low_bits) >> cut) + 1, dtype=np.int64)
    edges = (low_bits + (cells << cut)).view(np.float64)
    interiors = (low_bits + (cells << cut) + (1 << (cut - 1))).view(np.float64)
    samples = np.stack([edges, interiors], axis=1).reshape(-1)
    codes = NumberFormat.quantize(fmt, samples)
    # Signed codes, so that negation is a plain integer negation before masking to n bits.
    table = twos_complement(codes, n)
    table.setflags(write=False)
    return table, low_bits, cut
