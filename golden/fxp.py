"""FXP(n, F): the fixed-point baseline, ``q * 2**-F`` with q an n-bit integer.

As defined in ``docs/formats/fixed-point.md``; ``signed=False`` is the unsigned variant.
"""

import functools

import numpy as np

from ._checks import check_int
from .format import NumberFormat, twos_complement

__all__ = ["FXP", "MIN_N", "MAX_N", "MIN_F", "MAX_F"]

MIN_N, MAX_N = 2, 16
MIN_F, MAX_F = -32, 32


class FXP(NumberFormat):
    """Fixed point ``FXP(n, F)``: value ``q * 2**-F``.

    Parameters
    ----------
    n : int
        Word width, 2 to 16 bits.
    F : int
        Fraction bits, -32 to 32.
    signed : bool
        ``True`` (default): two's complement, ``-2**(n-1) <= q < 2**(n-1)``, the code is ``q``
        modulo ``2**n``. ``False``: unsigned, ``0 <= q < 2**n``, the code is ``q`` (the stronger
        baseline for activations after a ReLU).

    Notes
    -----
    ``to_int`` gives ``q``; the operand is ``n`` bits wide (``n + 1`` when unsigned, as a signed
    integer). ``quantize`` rounds ``x * 2**F`` half to even and saturates. There is no NaR.
    """

    def __init__(self, n, F=0, *, signed=True):
        self._n = check_int("n", n, MIN_N, MAX_N)
        self._F = check_int("F", F, MIN_F, MAX_F)
        if not isinstance(signed, bool):
            raise TypeError(f"signed must be a bool, not {signed!r}")
        self._signed = signed

    @property
    def n(self):
        return self._n

    @property
    def F(self):
        return self._F

    @property
    def signed(self):
        return self._signed

    @property
    def int_exponent(self):
        return -self._F

    def ordinals(self, codes):
        codes = self.check_codes(codes)
        return codes if not self._signed else super().ordinals(codes)

    def from_ordinals(self, ordinals):
        if self._signed:
            return super().from_ordinals(ordinals)
        return np.asarray(ordinals, dtype=np.int64)

    @property
    def nar_code(self):
        return None

    @property
    def operand_width(self):
        return self._n if self._signed else self._n + 1

    @property
    def spec(self):
        return f"{'fxp' if self._signed else 'ufxp'}:{self._n},{self._F}"

    @property
    def label(self):
        return f"{'FXP' if self._signed else 'UFXP'}({self._n},{self._F})"

    def _key(self):
        return (self._n, self._F, self._signed)

    def __repr__(self):
        extra = "" if self._signed else ", signed=False"
        return f"FXP(n={self._n}, F={self._F}{extra})"

    @property
    def q_min(self):
        return -(1 << (self._n - 1)) if self._signed else 0

    @property
    def q_max(self):
        return (1 << (self._n - 1)) - 1 if self._signed else (1 << self._n) - 1

    def _int_table(self):
        return _int_table(self._n, self._signed)

    def with_scale(self, F):
        """The same width and signedness with other fraction bits."""
        return FXP(self._n, F, signed=self._signed)

    def quantize(self, x, *, nan="raise"):
        x = self._check_real(x, nan)
        with np.errstate(over="ignore"):  # overflow to inf saturates like any large value
            scaled = x.reshape(-1) * (2.0 ** self._F)  # exact: a power of two
        np.rint(scaled, out=scaled)
        np.clip(scaled, self.q_min, self.q_max, out=scaled)
        codes = scaled.astype(np.int64)
        codes &= (1 << self._n) - 1
        return codes.reshape(x.shape)


@functools.lru_cache(maxsize=None)
def _int_table(n, signed):
    codes = np.arange(1 << n, dtype=np.int64)
    if signed:
        codes = twos_complement(codes, n)
    codes.setflags(write=False)
    return codes
