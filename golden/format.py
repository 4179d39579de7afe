"""The number-format abstraction shared by the golden model, the hardware and the reports.

A format maps n-bit codes (unsigned integers ``0 <= code < 2**n``) to real values. Every value
is an exact integer ``X`` times a power of two, ``value = X * 2**int_exponent``; ``X`` is the
operand the hardware multiplies. Everything else (decode, exact quantization, value tables)
follows from the table of ``X`` per code, so it is written once here for every format.

``X`` is an int64 where every operand of the format fits one with room for the quantizer's
midpoints (below 2**58); wider formats (posit with a large ``es``, minifloats with a wide
exponent field) keep it as a Python integer in an object array, and the same code runs on it.
"""

import abc
import functools
import math

import numpy as np

from ._checks import check_choice

__all__ = ["NumberFormat", "twos_complement", "operand_table"]

# The exact quantizer clamps values (in half units of X) to this magnitude or, for formats
# whose midpoints come near it, to four times their largest X: anything beyond saturates alike.
_SATURATION_CAP = 1 << 40
# Formats with an |X| from here up keep X as Python integers (object arrays).
_WIDE_X = 1 << 58


class NumberFormat(abc.ABC):
    """An n-bit number format whose values are integers scaled by a power of two.

    Subclasses define :meth:`_int_table` (``X`` per code, NaR as 0), :attr:`int_exponent`,
    :attr:`nar_code` and :meth:`_key`; formats with several NaR codes override
    :attr:`nar_codes`, and those with codes quantization never produces (a minifloat's -0)
    :meth:`_unproduced_codes`. Everything else is shared.
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
        """The NaR code (the one hardware and stimuli use), or ``None`` for formats without."""

    #: Whether the format has negative values (unsigned variants: ``False``).
    signed = True

    @property
    def nar_codes(self):
        """Every code that decodes to NaR (a minifloat's NaN and infinities), ascending."""
        return () if self.nar_code is None else (self.nar_code,)

    def _unproduced_codes(self):
        """Codes with a real value that quantization never produces (duplicates such as -0)."""
        return ()

    @property
    def operand_width(self):
        """Bits of the signed integer operand ``X`` (two's complement); the bound is tight.
        By default one more than the largest ``|X|`` needs; formats with a closed form
        (TFX, fixed point) override it."""
        return self.max_abs_int.bit_length() + 1

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

    # -- fields (for tables) ----------------------------------------------------------------

    #: Names of the fields :meth:`field_columns` gives, for a table's header.
    field_names = ()

    def field_columns(self, code):
        """The fields of one code as strings, one per :attr:`field_names`, or a one-word
        name (``"zero"``, ``"NaR"``, ``"NaN"``, ``"inf"``) for a code without fields."""
        return ()

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

    def ordinals(self, codes):
        """Codes as integers that compare like their values, zero's being 0 (int64): the
        code read as a two's-complement word, which a subclass with another order overrides
        (sign-magnitude minifloats, unsigned fixed point). NaR's is the most negative."""
        return twos_complement(self.check_codes(codes), self.n)

    def from_ordinals(self, ordinals):
        """The inverse of :meth:`ordinals`: n-bit codes (int64)."""
        return np.asarray(ordinals, dtype=np.int64) & (self.code_count - 1)

    def is_nar(self, codes):
        """Boolean mask of the NaR codes (all False for formats without NaR)."""
        return self._nar_mask[self.check_codes(codes)]

    @functools.cached_property
    def _nar_mask(self):
        """Whether each code is NaR, a bool per code."""
        return self._code_mask(self.nar_codes)

    def _code_mask(self, codes):
        mask = np.zeros(self.code_count, dtype=bool)
        mask[list(codes)] = True
        mask.setflags(write=False)
        return mask

    @property
    def wide(self):
        """Whether ``X`` exceeds int64's comfortable range (``to_int`` then gives Python ints)."""
        return self._int_table().dtype == object

    def to_int(self, codes, *, nar="raise"):
        """The exact integer operand ``X`` of each code: int64, or an object array of Python
        integers for :attr:`wide` formats.

        Parameters
        ----------
        nar : {"raise", "zero"}
            ``"raise"`` (default): a NaR code is a ``ValueError``. ``"zero"``: NaR becomes 0, as in
            the hardware; use :meth:`is_nar` to report where.
        """
        check_choice("nar", nar, ("raise", "zero"))
        codes = self.check_codes(codes)
        if nar == "raise" and np.any(self.is_nar(codes)):
            bad = int(codes[self.is_nar(codes)].flat[0])
            raise ValueError(f"NaR code {bad} of {self.label} has no integer value; "
                             f"pass nar='zero' to treat it as zero like the hardware")
        return self._int_table()[codes]

    def decode(self, codes):
        """The real value of each code as float64 (exact); NaR decodes to NaN."""
        codes = self.check_codes(codes)
        return self._value_table[codes]

    @functools.cached_property
    def _value_table(self):
        """float64 value of every code (NaN for NaR), exact; an error if float64 cannot hold
        every value exactly."""
        ints, exponent = self._int_table(), self.int_exponent
        if not self.wide and -1022 <= exponent and exponent + 58 <= 1023:
            # int64 X of a few significant bits, a normal power of two: the product is exact.
            table = ints.astype(np.float64) * 2.0 ** exponent
        else:
            table = np.array([_exact_float(int(x), exponent, self) for x in ints],
                             dtype=np.float64)
        table[list(self.nar_codes)] = np.nan
        table.setflags(write=False)
        return table

    # -- value set --------------------------------------------------------------------------

    @functools.cached_property
    def _sorted(self):
        """Real codes sorted by value, with their integers ``X``: (codes, X)."""
        codes = self.codes()[~self._code_mask((*self.nar_codes, *self._unproduced_codes()))]
        ints = self._int_table()[codes]
        order = np.argsort(ints, kind="stable")
        return codes[order], ints[order]

    def values(self):
        """Every representable real value, ascending (NaR excluded), as float64."""
        return self._value_table[self._sorted[0]]

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
        return float(self.values()[-1])

    @property
    def minpos(self):
        """Smallest positive representable value."""
        values = self.values()
        return float(values[values > 0][0])

    # -- exact quantization -----------------------------------------------------------------

    @functools.cached_property
    def saturation_cap(self):
        """A magnitude, in units of the rounding grid ``2**(int_exponent - 1)``, from which
        every value saturates alike: :meth:`quantize_exact` clamps there first."""
        return max(_SATURATION_CAP, 4 * self.max_abs_int)

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
        if self.wide:
            mantissa = mantissa.astype(object)
        floor, sticky = _floor_and_sticky(mantissa, shift, self.saturation_cap)
        mids = self._midpoints
        below = np.searchsorted(mids, floor, side="left")
        # The midpoints are strictly increasing: "right" differs from "left" only on a midpoint.
        on_mid = mids[np.minimum(below, len(mids) - 1)] == floor
        above = below + on_mid
        return self._nearest_codes(np.where(sticky, above, below), ~sticky & on_mid)

    def _nearest_codes(self, index, tie):
        """The codes of the values with ``index`` midpoints below them, ties (a value on a
        midpoint, ``tie``) to the even code of the two neighbours."""
        codes = self._sorted[0]
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
        if self._real_midpoints is not None:
            return self._quantize_by_midpoints(x)
        finite = np.nan_to_num(x, posinf=np.finfo(np.float64).max,
                               neginf=-np.finfo(np.float64).max)
        mantissa, exponent = np.frexp(finite)
        mantissa = np.ldexp(mantissa, 53).astype(np.int64)
        return self.quantize_exact(mantissa, exponent.astype(np.int64) - 53)

    @functools.cached_property
    def _real_midpoints(self):
        """The midpoints as float64 when every one is exact there (then :meth:`quantize`
        compares real inputs with them directly), else None."""
        if self.wide:
            return None
        unit = self.int_exponent - 1
        mids = self._midpoints
        if np.abs(mids).max(initial=0) >= 1 << 53 or not -1000 < unit < 1000 - 64:
            return None
        real = mids.astype(np.float64) * 2.0 ** unit
        real.setflags(write=False)
        return real

    @functools.cached_property
    def _midpoint_buckets(self):
        """The fast search's tables (:func:`_count_below`), or None when it does not pay (a
        zero midpoint, or more than :data:`_BUCKET_STEPS` midpoints in one bucket)."""
        mids = self._real_midpoints
        if mids is None or not mids.all():
            return None
        buckets = _bucket_of(mids)
        steps = int(np.bincount(buckets, minlength=1).max(initial=0))
        if steps > _BUCKET_STEPS:
            return None
        below = np.searchsorted(buckets, np.arange(1 << _BUCKET_BITS), side="left")
        return below.astype(np.int32), np.append(mids, np.nan), steps

    def _count_below(self, x):
        """How many midpoints lie below each of float64 ``x`` (no NaN): ``np.searchsorted(
        mids, x, side="left")``, through the bucket tables when there are any. Returns the
        counts and the midpoint at each count (NaN past the last one)."""
        tables = self._midpoint_buckets
        if tables is None:
            mids = self._real_midpoints
            index = np.searchsorted(mids, x, side="left")
            return index, np.append(mids, np.nan)[index]
        below, padded, steps = tables
        index = below[_bucket_of(x)].astype(np.intp)
        for _ in range(steps):  # the bucket's own midpoints below x, in order
            mid = padded[index]
            index += mid < x
        return index, padded[index]

    def _quantize_by_midpoints(self, x):
        """:meth:`quantize` of float64 ``x`` (NaN already replaced) by comparing it with the
        exact real midpoints: the rule of :meth:`quantize_exact`, without its integers."""
        index, mid = self._count_below(x)  # midpoints below x: the nearest value's index
        return self._nearest_codes(index, mid == x)

    def quantize_interval(self, low, high):
        """For float64 intervals ``[low, high]`` (``low <= high``): the code that every real
        number in the interval quantizes to, and a mask of the intervals whose numbers do not
        all quantize alike (a midpoint inside; their code is then undefined). Rounding is
        monotone, so an interval around an inexact result says whether it is the code."""
        if self._real_midpoints is None:
            codes = self.quantize(low)
            return codes, codes != self.quantize(high)
        index, mid = self._count_below(low)
        return self._sorted[0][index], high >= mid  # NaN past the last midpoint: False

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


# The fast midpoint search cuts the float64 line into 2**_BUCKET_BITS buckets by the top bits
# of an order-preserving key of the bit pattern (sign, exponent, 4 mantissa bits); a bucket
# holds at most _BUCKET_STEPS midpoints (an n <= 8 format holds 4 at most), so that a count
# below any x is the count below its bucket plus that many comparisons.
_BUCKET_BITS = 16
_BUCKET_STEPS = 8


def _bucket_of(x):
    """The bucket of each float64 of ``x``: the top :data:`_BUCKET_BITS` bits of its bit
    pattern read as an integer key that orders as the values do (negative patterns' low 63
    bits flipped), offset to start at 0."""
    bits = np.ascontiguousarray(x, dtype=np.float64).view(np.int64).reshape(np.shape(x))
    key = bits ^ ((bits >> 63) & np.int64(0x7FFF_FFFF_FFFF_FFFF))
    return (key >> (64 - _BUCKET_BITS)) + (1 << (_BUCKET_BITS - 1))


def operand_table(ints):
    """A read-only table of operands ``X`` per code: int64, or Python integers in an object
    array when some ``|X|`` reaches 2**58 (a wide format)."""
    wide = max(abs(x) for x in ints) >= _WIDE_X
    table = np.array(ints, dtype=object if wide else np.int64)
    table.setflags(write=False)
    return table


def twos_complement(words, n):
    """n-bit words read as two's-complement integers (int64)."""
    words = np.asarray(words, dtype=np.int64)
    return np.where(words >= 1 << (n - 1), words - (1 << n), words)


def _exact_float(x, exponent, fmt):
    """``x * 2**exponent`` as a float64, exactly (``x`` has few significant bits), or a
    ``ValueError`` naming ``fmt`` when float64 cannot hold it."""
    if x == 0:
        return 0.0
    zeros = (x & -x).bit_length() - 1
    odd, exponent = x >> zeros, exponent + zeros
    try:
        value = math.ldexp(float(odd), exponent)  # odd has far fewer than 53 bits
    except OverflowError:
        value = math.inf
    if math.isinf(value) or exponent < -1074:
        raise ValueError(f"{fmt.label} has values (2**{exponent + odd.bit_length() - 1}) "
                         f"beyond float64's exact range (2**-1074 to 2**1023): decoding and "
                         f"quantizing it need a narrower exponent range")
    return value


def _floor_and_sticky(mantissa, shift, cap=_SATURATION_CAP):
    """``floor(mantissa * 2**shift)`` clamped to +-``cap``, and whether it was inexact;
    ``shift`` a scalar or broadcastable to ``mantissa``. int64 unless ``mantissa`` is an
    object array (Python integers, for wide formats)."""
    if np.ndim(shift) == 0 and mantissa.dtype != object:
        return _floor_and_sticky_scalar_shift(mantissa, int(shift), cap)
    mantissa, shift = np.broadcast_arrays(mantissa, shift)
    if mantissa.dtype == object:
        pairs = [_floor_and_sticky_int(int(m), int(s), cap)
                 for m, s in zip(mantissa.flat, shift.flat)]
        dtype = np.int64 if cap < _WIDE_X else object
        floor = np.array([p[0] for p in pairs], dtype=dtype).reshape(mantissa.shape)
        sticky = np.array([p[1] for p in pairs], dtype=bool).reshape(mantissa.shape)
        return floor, sticky
    mantissa = mantissa.astype(np.int64)
    left = np.clip(shift, 0, 62)
    right = np.clip(-shift, 0, 63)
    # Left shifts: clamp first so that nothing overflows; any |value| >= cap saturates alike.
    limit = np.maximum(cap >> left, 1)
    clamped = np.clip(mantissa, -limit, limit) << left
    shifted = mantissa >> right
    sticky = (shift < 0) & ((mantissa & ((np.int64(1) << right) - 1)) != 0)
    floor = np.where(shift >= 0, clamped, shifted)
    return np.clip(floor, -cap, cap), sticky


def _floor_and_sticky_scalar_shift(mantissa, shift, cap):
    """One shift for every int64 mantissa (the common case): only the branch it needs."""
    mantissa = mantissa.astype(np.int64, copy=False)
    if shift >= 0:
        limit = max(cap >> min(shift, 62), 1)
        floor = np.clip(mantissa, -limit, limit) << min(shift, 62)
        return np.clip(floor, -cap, cap), np.zeros(mantissa.shape, bool)
    right = min(-shift, 63)
    sticky = (mantissa & ((np.int64(1) << right) - 1)) != 0 if right < 63 else mantissa != 0
    floor = mantissa >> right
    return np.clip(floor, -cap, cap), sticky


def _floor_and_sticky_int(mantissa, shift, cap):
    if shift >= 0:
        sticky = False
        if shift > cap.bit_length():  # any non-zero mantissa saturates
            return (cap if mantissa > 0 else -cap if mantissa < 0 else 0), sticky
        value = mantissa << shift
    else:
        value = mantissa >> -shift
        sticky = (mantissa - (value << -shift)) != 0
    return max(-cap, min(cap, value)), sticky
