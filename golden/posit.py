"""Posit(n, es, SC): the posit standard's decoding, rounded to the nearest value, scaled by 2**SC.

As defined in ``docs/formats/posit.md``: the regime run may take the whole body, ``es``
exponent bits follow (bits cut off by the word's end count as 0), the rest is the fraction.
Quantization follows the project's rule (nearest value, ties to the even code, saturation,
flush to zero up to minpos/2), not the standard's bit-string rounding.
"""

import functools

from ._checks import check_int
from .format import NumberFormat, operand_table

__all__ = ["Posit", "MIN_N", "MAX_N", "MAX_ES", "MIN_SC", "MAX_SC", "decode_fields"]

MIN_N, MAX_N = 3, 16
MAX_ES = 3
MIN_SC, MAX_SC = -32, 32


def decode_fields(code, n, es):
    """Split one code into its fields, following the standard's steps.

    Returns
    -------
    dict
        ``sign``, ``regime`` (bit string, terminator included), ``k``, ``exponent`` (``e``,
        cut-off bits as 0), ``fraction`` (bit string), and ``significand``/``power`` with
        ``|value| = significand * 2**(power + SC)``; or ``{"zero": True}``/``{"nar": True}``.
    """
    if code == 0:
        return {"zero": True}
    if code == 1 << (n - 1):
        return {"nar": True}
    sign = code >> (n - 1)
    word = ((1 << n) - code) % (1 << n) if sign else code
    bits = format(word, f"0{n}b")[1:]
    first = bits[0]
    run = len(bits) - len(bits.lstrip(first))
    regime_length = min(run + 1, n - 1)
    k = run - 1 if first == "1" else -run
    rest = bits[regime_length:]
    exponent_bits = rest[:es]
    e = int(exponent_bits, 2) << (es - len(exponent_bits)) if exponent_bits else 0
    fraction = rest[es:]
    f = int(fraction, 2) if fraction else 0
    return {"sign": sign, "regime": bits[:regime_length], "k": k, "exponent": e,
            "fraction": fraction, "significand": (1 << len(fraction)) + f,
            "power": k * (1 << es) + e - len(fraction)}


@functools.lru_cache(maxsize=None)
def _tables(n, es):
    """``X`` per code (NaR 0) and the exponent of X's unit (SC excluded)."""
    fields = [decode_fields(code, n, es) for code in range(1 << n)]
    unit = min(f["power"] for f in fields if "power" in f)
    ints = [0 if "power" not in f else
            (-1 if f["sign"] else 1) * (f["significand"] << (f["power"] - unit)) for f in fields]
    return operand_table(ints), unit


class Posit(NumberFormat):
    """The posit ``Posit(n, es, SC)``: value ``(-1)**s * 2**(k * 2**es + e + SC) * (1 + f/2**nf)``.

    Parameters
    ----------
    n : int
        Word width, 3 to 16 bits.
    es : int
        Exponent field width, 0 to 3.
    SC : int
        Scale exponent, -32 to 32: every value is multiplied by ``2**SC``.

    Notes
    -----
    ``2**(n-1)`` is NaR. ``to_int`` gives ``X = value * 2**-int_exponent``, the value in units
    of minpos (``int_exponent = SC - (n - 2) * 2**es``), an integer of :attr:`operand_width`
    bits; posits with a wide dynamic range (``Posit(16, 2)`` and up) give Python integers.
    ``Posit(n, 0, SC)`` has the values and codes of ``TFX(n, n - 1, SC)``.
    """

    def __init__(self, n, es=0, SC=0):
        self._n = check_int("n", n, MIN_N, MAX_N)
        self._es = check_int("es", es, 0, MAX_ES)
        self._SC = check_int("SC", SC, MIN_SC, MAX_SC)

    n = property(lambda self: self._n)
    es = property(lambda self: self._es)
    SC = property(lambda self: self._SC)

    @property
    def int_exponent(self):
        return self._SC + _tables(self._n, self._es)[1]

    @property
    def nar_code(self):
        return 1 << (self._n - 1)

    @property
    def spec(self):
        return f"posit:{self._n},{self._es},{self._SC}"

    def _key(self):
        return (self._n, self._es, self._SC)

    def __repr__(self):
        return f"Posit(n={self._n}, es={self._es}, SC={self._SC})"

    def _int_table(self):
        return _tables(self._n, self._es)[0]

    def fields(self, code):
        """The fields of one code (see :func:`decode_fields`)."""
        return decode_fields(int(self.check_codes(code)), self._n, self._es)

    field_names = ("s", "regime", "k", "e", "fraction")

    def field_columns(self, code):
        fields = self.fields(code)
        if "nar" in fields or "zero" in fields:
            return "NaR" if "nar" in fields else "zero"
        return (str(fields["sign"]), fields["regime"], str(fields["k"]), str(fields["exponent"]),
                fields["fraction"] or "-")

    def with_scale(self, SC):
        """The same n and es with another scale."""
        return Posit(self._n, self._es, SC)
