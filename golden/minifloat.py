"""FP(n, E, SC): small sign-magnitude floats with subnormals (the OCP FP8/FP6/FP4 types).

As defined in ``docs/formats/minifloat.md``: bias ``2**(E-1) - 1``, subnormals at exponent field
0, ``-0`` decodes to 0 and is never produced; FP(8, 4) is OCP E4M3 (S.1111.111 is NaN, no
infinities), FP(8, 5) is OCP E5M2 (exponent field all ones: infinities and NaN), every other
(n, E) has only finite codes. NaN and infinity codes decode to NaR.
"""

import functools

import numpy as np

from ._checks import check_int
from .format import NumberFormat, operand_table

__all__ = ["FP", "MIN_N", "MAX_N", "MIN_SC", "MAX_SC", "OCP_TYPES", "decode_fields"]

MIN_N, MAX_N = 3, 16
MIN_SC, MAX_SC = -32, 32
#: The OCP types among the family: (n, E) -> name (as ml_dtypes calls them).
OCP_TYPES = {(8, 4): "float8_e4m3fn", (8, 5): "float8_e5m2", (6, 2): "float6_e2m3fn",
             (6, 3): "float6_e3m2fn", (4, 2): "float4_e2m1fn"}


def _special(n, E, e, f):
    """``"nan"``, ``"inf"`` or None for exponent field ``e`` and mantissa ``f``."""
    M = n - 1 - E
    if (n, E) == (8, 4) and e == (1 << E) - 1 and f == (1 << M) - 1:
        return "nan"
    if (n, E) == (8, 5) and e == (1 << E) - 1:
        return "inf" if f == 0 else "nan"
    return None


def decode_fields(code, n, E):
    """Split one code into ``sign``, ``exponent`` (the biased field), ``mantissa``, and either
    ``special`` ("nan", "inf") or ``significand``/``power`` with
    ``|value| = significand * 2**(power + SC)`` (subnormals: ``power = 1 - bias - M``)."""
    M = n - 1 - E
    sign, e, f = code >> (n - 1), (code >> M) & ((1 << E) - 1), code & ((1 << M) - 1)
    fields = {"sign": sign, "exponent": e, "mantissa": f}
    special = _special(n, E, e, f)
    if special:
        return {**fields, "special": special}
    bias = (1 << (E - 1)) - 1
    if e == 0:
        return {**fields, "significand": f, "power": 1 - bias - M}
    return {**fields, "significand": (1 << M) + f, "power": e - bias - M}


@functools.lru_cache(maxsize=None)
def _tables(n, E):
    """``X`` per code (NaR 0; X in units of the smallest subnormal) and the NaR codes."""
    M = n - 1 - E
    unit = 1 - ((1 << (E - 1)) - 1) - M
    ints, nar = [], []
    for code in range(1 << n):
        fields = decode_fields(code, n, E)
        if "special" in fields:
            nar.append(code)
            ints.append(0)
        else:
            x = fields["significand"] << (fields["power"] - unit)
            ints.append(-x if fields["sign"] else x)
    return operand_table(ints), unit, tuple(nar)


class FP(NumberFormat):
    """The minifloat ``FP(n, E, SC)``: sign, ``E`` exponent bits, ``n - 1 - E`` mantissa bits.

    Parameters
    ----------
    n : int
        Word width, 3 to 16 bits.
    E : int
        Exponent field width, 1 to ``n - 2`` (so at least one mantissa bit).
    SC : int
        Scale exponent, -32 to 32: every value is multiplied by ``2**SC``.

    Notes
    -----
    ``to_int`` gives ``X = value * 2**-int_exponent``, the value in units of the smallest
    subnormal (``int_exponent = SC + 2 - 2**(E-1) - M``); wide exponent fields give Python
    integers, and formats whose values leave float64's range (E >= 11) can be built and
    inspected (:meth:`fields`) but not decoded. :attr:`nar_code` is the canonical NaN (the
    all-ones positive code), :attr:`nar_codes` every NaN and infinity. ``quantize`` saturates at the
    largest finite value (OCP's saturating conversion).
    """

    def __init__(self, n, E, SC=0):
        self._n = check_int("n", n, MIN_N, MAX_N)
        self._E = check_int("E", E, 1, self._n - 2)
        self._SC = check_int("SC", SC, MIN_SC, MAX_SC)

    n = property(lambda self: self._n)
    E = property(lambda self: self._E)
    SC = property(lambda self: self._SC)

    @property
    def M(self):
        """Mantissa bits, ``n - 1 - E``."""
        return self._n - 1 - self._E

    @property
    def bias(self):
        return (1 << (self._E - 1)) - 1

    @property
    def ocp_name(self):
        """The OCP type's name in ml_dtypes (``"float8_e4m3fn"``, ...), or None."""
        return OCP_TYPES.get((self._n, self._E))

    @property
    def int_exponent(self):
        return self._SC + _tables(self._n, self._E)[1]

    @property
    def nar_codes(self):
        return _tables(self._n, self._E)[2]

    @property
    def nar_code(self):
        # 0.1...1 is a NaN in both OCP 8-bit types, the only ones with NaR codes.
        return (1 << (self._n - 1)) - 1 if self.nar_codes else None

    def ordinals(self, codes):
        """Sign and magnitude: ``±(code without its sign)`` (-0 gives 0)."""
        codes = self.check_codes(codes)
        magnitude = codes & ((1 << (self._n - 1)) - 1)
        return np.where(codes >> (self._n - 1) == 1, -magnitude, magnitude)

    def from_ordinals(self, ordinals):
        ordinals = np.asarray(ordinals, dtype=np.int64)
        return np.where(ordinals < 0, (1 << (self._n - 1)) - ordinals, ordinals)

    def _unproduced_codes(self):
        return (1 << (self._n - 1),)  # -0

    @property
    def spec(self):
        return f"fp:{self._n},{self._E},{self._SC}"

    def _key(self):
        return (self._n, self._E, self._SC)

    def __repr__(self):
        return f"FP(n={self._n}, E={self._E}, SC={self._SC})"

    def _int_table(self):
        return _tables(self._n, self._E)[0]

    def fields(self, code):
        """The fields of one code (see :func:`decode_fields`)."""
        return decode_fields(int(self.check_codes(code)), self._n, self._E)

    field_names = ("s", "e", "mantissa")

    def field_columns(self, code):
        fields = self.fields(code)
        if "special" in fields:
            return {"nan": "NaN", "inf": "inf"}[fields["special"]]
        return (str(fields["sign"]), str(fields["exponent"]),
                format(fields["mantissa"], f"0{self.M}b"))

    def with_scale(self, SC):
        """The same n and E with another scale."""
        return FP(self._n, self._E, SC)
