"""The number-format abstraction shared by the golden model, the hardware and the reports.

A format maps n-bit codes (unsigned integers ``0 <= code < 2**n``) to real values. Every value
is an exact integer ``X`` times a power of two, ``value = X * 2**int_exponent``; ``X`` is the
operand the hardware multiplies. Everything else (decode, exact quantization, value tables)
follows from the table of ``X`` per code, so it is written once here for TFX and FXP alike.
"""

import abc
import functools

import numpy as np

from ._checks import check_choice

__all__ = ["NumberFormat", "twos_complement"]

# Integers up to this magnitude are handled as int64 in the exact quantizer; every midpoint
# of every legal format is far below it (|X| < 2**31, so midpoints < 2**33 in half units).
_SATURATION_CAP = 1 << 40


class NumberFormat(abc.ABC):
    """An n-bit number format whose values are integers scaled by a power of two.

    Subclasses define :meth:`_int_table` (``X`` per code, NaR as 0), :attr:`int_exponent`,
    :attr:`nar_code` and :meth:`_key`. Everything else is shared.
    """

    @property
    @abc.abstractmethod
    def n(self):
        """Word width in bits."""

    @property
    @abc.abstractmethod
    def int_exponent(self):
        """``value == to_int(code) * 2**int_exponent`` for every real code."""

    @property
    @abc.abstractmethod
    def nar_code(self):
        """The NaR code, or ``None`` for formats without one."""

    @property
    @abc.abstractmethod
    def operand_width(self):
        """Bits of the signed integer operand ``X`` (two's complement); the bound is tight."""

    @property
    @abc.abstractmethod
    def spec(self):
        """A short string that :func:`golden.parse_format` turns back into this format."""

    @abc.abstractmethod
    def _key(self):
        """A tuple that identifies the format (for equality and hashing)."""

    @abc.abstractmethod
    def _int_table(self):
        """int64 array of ``X`` for every code (NaR's entry is 0)."""

    # -- identity ---------------------------------------------------------------------------

    def __eq__(self, other):
        return type(other) is type(self) and other._key() == self._key()

    def __hash__(self):
        return hash((type(self).__name__, self._key()))

    @property
    def label(self):
        """Human-readable name for tables and plots, e.g. ``TFX(8,3,0)``."""
        return f"{type(self).__name__}({','.join(str(v) for v in self._key())})"

    # -- codes ------------------------------------------------------------------------------

    @property
    def code_count(self):
        return 1 << self.n

    def codes(self):
        """Every code, ``0 .. 2**n - 1``, as an int64 array."""
        return np.arange(self.code_count, dtype=np.int64)

    def check_codes(self, codes):
        """Return ``codes`` as an int64 array, or raise if any is not an n-bit code."""
        array = np.asarray(codes)
        if array.dtype == object:
            array = array.astype(np.int64)
        if array.dtype.kind not in "iu":
            raise TypeError(f"Codes of {self.label} must be integers, not {array.dtype}")
        array = array.astype(np.int64, copy=False)
        if array.size and (array.min() < 0 or array.max() >= self.code_count):
            bad = array[(array < 0) | (array >= self.code_count)].flat[0]
            raise ValueError(
                f"Codes of {self.label} must be integers from 0 to {self.code_count - 1}, "
                f"not {int(bad)}")
        return array

    def is_nar(self, codes):
        """Boolean mask of the NaR codes (all False for formats without NaR)."""
        codes = self.check_codes(codes)
        if self.nar_code is None:
            return np.zeros(codes.shape, dtype=bool)
        return codes == self.nar_code

    def to_int(self, codes, *, nar="raise"):
        """The exact integer operand ``X`` of each code, as int64.

        Parameters
        ----------
        nar : {"raise", "zero"}
            ``"raise"`` (default): a NaR code is a ``ValueError``. ``"zero"``: NaR becomes 0, as in
            the hardware; use :meth:`is_nar` to report where.
        """
        check_choice("nar", nar, ("raise", "zero"))
        codes = self.check_codes(codes)
        if nar == "raise" and self.nar_code is not None and np.any(codes == self.nar_code):
            raise ValueError(f"NaR code {self.nar_code} of {self.label} has no integer value; "
                             f"pass nar='zero' to treat it as zero like the hardware")
        return self._int_table()[codes]

    def decode(self, codes):
        """The real value of each code as float64 (exact); NaR decodes to NaN."""
        codes = self.check_codes(codes)
        values = self._int_table()[codes] * (2.0 ** self.int_exponent)
        if self.nar_code is not None:
            values = np.where(codes == self.nar_code, np.nan, values)
        return values

    # -- value set --------------------------------------------------------------------------

    @functools.cached_property
    def _sorted(self):
        """Real codes sorted by value, with their integers ``X``: (codes, X)."""
        codes = self.codes()
        if self.nar_code is not None:
            codes = codes[codes != self.nar_code]
        ints = self._int_table()[codes]
        order = np.argsort(ints, kind="stable")
        return codes[order], ints[order]

    def values(self):
        """Every representable real value, ascending (NaR excluded), as float64."""
        return self._sorted[1] * (2.0 ** self.int_exponent)

    @property
    def max_int(self):
        """Largest ``X`` of any code."""
        return int(self._sorted[1][-1])

    @property
    def min_int(self):
        """Smallest ``X`` of any code."""
        return int(self._sorted[1][0])

    @property
    def max_abs_int(self):
        """Largest ``|X|`` of any code."""
        return max(self.max_int, -self.min_int)

    @property
    def maxpos(self):
        """Largest representable value."""
        return float(self.max_int * 2.0 ** self.int_exponent)

    @property
    def minpos(self):
        """Smallest positive representable value."""
        ints = self._sorted[1]
        return float(ints[ints > 0][0] * 2.0 ** self.int_exponent)

    # -- exact quantization -----------------------------------------------------------------

    @functools.cached_property
    def _midpoints(self):
        """Sums of neighbouring ``X``: the midpoints between values, in units 2**(int_exponent-1)."""
        ints = self._sorted[1]
        return ints[:-1] + ints[1:]

    def quantize_exact(self, mantissa, exponent):
        """Quantize the exact values ``mantissa * 2**exponent`` to codes, with one rounding.

        The specification of rounding for every format: nearest representable value (zero
        included), ties to the even code, saturation to the extreme values. Exact for integer
        ``mantissa`` of any size (int64 or Python ``int`` in an object array) and integer
        ``exponent`` (scalar or broadcast array).

        Returns
        -------
        numpy.ndarray
            int64 codes, ``0 <= code < 2**n``.
        """
        mantissa = np.asarray(mantissa)
        if mantissa.dtype.kind not in "iuO":
            raise TypeError(f"Mantissas must be integers, not {mantissa.dtype}")
        # Express each value in units of 2**(int_exponent - 1), the grid of the midpoints:
        # floor(value / unit) and whether a remainder (sticky) is left.
        shift = np.asarray(exponent, dtype=np.int64) - (self.int_exponent - 1)
        if 0 < shift.size < mantissa.size and (shift == shift.flat[0]).all():
            shift = shift.flat[0]  # per-channel exponents that are all the same
        floor, sticky = _floor_and_sticky(mantissa, shift)
        mids = self._midpoints
        below = np.searchsorted(mids, floor, side="left")
        # The midpoints are strictly increasing: "right" differs from "left" only on a midpoint.
        on_mid = mids[np.minimum(below, len(mids) - 1)] == floor
        above = below + on_mid
        index = np.where(sticky, above, below)
        tie = ~sticky & on_mid
        codes, _ = self._sorted
        result = codes[index]
        if np.any(tie):
            upper = codes[np.minimum(index + 1, len(codes) - 1)]
            result = np.where(tie & (result % 2 == 1), upper, result)
        return result.astype(np.int64)

    def quantize(self, x, *, nan="raise"):
        """Quantize real numbers to codes: nearest, ties to even code, saturating.

        ``±inf`` saturate; ``-0.0`` gives code 0. Exact for every float64 input.

        Parameters
        ----------
        x : array_like of float
        nan : {"raise", "zero"}
            What NaN inputs do: a ``ValueError`` (default), or code 0.
        """
        x = self._check_real(x, nan)
        finite = np.nan_to_num(x, posinf=np.finfo(np.float64).max,
                               neginf=-np.finfo(np.float64).max)
        mantissa, exponent = np.frexp(finite)
        mantissa = np.ldexp(mantissa, 53).astype(np.int64)
        return self.quantize_exact(mantissa, exponent.astype(np.int64) - 53)

    def _check_real(self, x, nan):
        """``x`` as float64, NaN an error (``nan="raise"``) or replaced by 0 (``"zero"``)."""
        check_choice("nan", nan, ("raise", "zero"))
        x = np.asarray(x)
        if x.dtype.kind not in "fiu":
            raise TypeError(f"Values to quantize must be real numbers, not {x.dtype}")
        x = x.astype(np.float64, copy=False)
        nans = np.isnan(x)
        if nans.any():
            if nan == "raise":
                raise ValueError(f"Cannot quantize NaN to {self.label}; "
                                 f"pass nan='zero' to map it to 0")
            x = np.where(nans, 0.0, x)
        return x


def twos_complement(words, n):
    """n-bit words read as two's-complement integers (int64)."""
    words = np.asarray(words, dtype=np.int64)
    return np.where(words >= 1 << (n - 1), words - (1 << n), words)


def _floor_and_sticky(mantissa, shift):
    """``floor(mantissa * 2**shift)`` clamped to +-2**40 (int64), and whether it was inexact;
    ``shift`` a scalar or broadcastable to ``mantissa``."""
    if np.ndim(shift) == 0 and mantissa.dtype != object:
        return _floor_and_sticky_scalar_shift(mantissa, int(shift))
    mantissa, shift = np.broadcast_arrays(mantissa, shift)
    if mantissa.dtype == object:
        pairs = [_floor_and_sticky_int(int(m), int(s)) for m, s in zip(mantissa.flat, shift.flat)]
        floor = np.array([p[0] for p in pairs], dtype=np.int64).reshape(mantissa.shape)
        sticky = np.array([p[1] for p in pairs], dtype=bool).reshape(mantissa.shape)
        return floor, sticky
    mantissa = mantissa.astype(np.int64)
    left = np.clip(shift, 0, 62)
    right = np.clip(-shift, 0, 63)
    # Left shifts: clamp first so that nothing overflows; any |value| >= 2**40 saturates alike.
    limit = np.maximum(_SATURATION_CAP >> left, 1)
    clamped = np.clip(mantissa, -limit, limit) << left
    shifted = mantissa >> right
    sticky = (shift < 0) & ((mantissa & ((np.int64(1) << right) - 1)) != 0)
    floor = np.where(shift >= 0, clamped, shifted)
    return np.clip(floor, -_SATURATION_CAP, _SATURATION_CAP), sticky


def _floor_and_sticky_scalar_shift(mantissa, shift):
    """One shift for every int64 mantissa (the common case): only the branch it needs."""
    mantissa = mantissa.astype(np.int64, copy=False)
    if shift >= 0:
        limit = max(_SATURATION_CAP >> min(shift, 62), 1)
        floor = np.clip(mantissa, -limit, limit) << min(shift, 62)
        return np.clip(floor, -_SATURATION_CAP, _SATURATION_CAP), np.zeros(mantissa.shape, bool)
    right = min(-shift, 63)
    sticky = (mantissa & ((np.int64(1) << right) - 1)) != 0 if right < 63 else mantissa != 0
    floor = mantissa >> right
    return np.clip(floor, -_SATURATION_CAP, _SATURATION_CAP), sticky


def _floor_and_sticky_int(mantissa, shift):
    if shift >= 0:
        value = mantissa << min(shift, 64)
        sticky = False
    else:
        value = mantissa >> -shift
        sticky = (mantissa - (value << -shift)) != 0
    return max(-_SATURATION_CAP, min(_SATURATION_CAP, value)), sticky
