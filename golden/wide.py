"""Exact integers wider than 64 bits, held as arrays of int64 digits, for the fast engine.

The fast engine (:mod:`golden.engine`) computes with float64 values, which are exact only while
every sum stays below 2**53 units. Wide formats (posit and minifloats at n >= 7, FP8 E5M2
above all) pass that bound: their unit is tiny and their largest values are large. Rather than
fall back to Python integers, the engine then

- splits each operand's integer ``X`` into digits (:func:`split_digits`) small enough that
  every digit product, summed over K in float64 BLAS, stays below 2**53: each partial matrix
  product is an exact integer;
- adds those products, shifted to their digit positions, into a :class:`WideInt`: integers
  ``sum_p digits[p] * 2**(p * DIGIT_BITS)`` with int64 digits, elementwise over an array;
- multiplies by the per-channel ``M`` and takes ``floor`` and the sticky bit below the output
  format's rounding grid (:meth:`WideInt.floor_and_sticky`), which is everything the format's
  exact quantizer needs to round once, as the scaling stage does.

Every step is exact integer arithmetic; nothing depends on summation order.
"""

import numpy as np

__all__ = ["DIGIT_BITS", "WideInt", "split_digits", "digit_bounds"]

#: Bits per digit of a :class:`WideInt`: a digit times a multiplier below 2**32 fits an int64.
DIGIT_BITS = 30
_BASE = 1 << DIGIT_BITS
_MASK = _BASE - 1
# Horner steps in float64 stop growing here: anything this large saturates every format.
_FLOAT_CLAMP = 2.0 ** 52


def split_digits(x, bits, count):
    """Exact integers ``x`` (float64 or int64) as ``count`` digits of ``bits`` bits, low first:
    ``x == sum(d[i] * 2**(i * bits))``, every digit but the last in ``[0, 2**bits)``, the last
    signed. Float in, float out (each digit an exact float64 integer)."""
    digits = []
    rest = x
    for _ in range(count - 1):
        if np.issubdtype(np.asarray(rest).dtype, np.floating):
            high = np.floor(rest * 2.0 ** -bits)
            digits.append(rest - high * 2.0 ** bits)
        else:
            high = rest >> bits
            digits.append(rest & ((1 << bits) - 1))
        rest = high
    digits.append(rest)
    return digits


def digit_bounds(max_abs, bits, count):
    """The largest magnitude each digit of :func:`split_digits` can have for ``|x| <= max_abs``."""
    low = [(1 << bits) - 1] * (count - 1)
    return [*low, -((-max_abs) >> (bits * (count - 1)))]


class WideInt:
    """Exact integers ``sum_p digits[p] * 2**(p * DIGIT_BITS)``, one per element of ``shape``.

    Build one with :meth:`add` (any int64 values at any bit offset), then :meth:`normalize`:
    every digit but the top one in ``[0, 2**DIGIT_BITS)``, the top one signed, so that the sign
    of the number is the sign of its top digit.

    Parameters
    ----------
    shape : tuple
        The shape of the array of numbers.
    bits : int
        A bound on the magnitude of every number this will hold, ``|value| < 2**bits``
        (products by :meth:`multiply` add their own room).
    """

    def __init__(self, shape, bits):
        self.digits = [np.zeros(shape, dtype=np.int64)
                       for _ in range(bits // DIGIT_BITS + 2)]

    @classmethod
    def from_digits(cls, digits):
        """The number ``sum_p digits[p] * 2**(p * DIGIT_BITS)`` of int64 arrays ``digits``."""
        number = cls.__new__(cls)
        number.digits = [np.array(digit, dtype=np.int64) for digit in digits]
        return number

    @property
    def shape(self):
        return self.digits[0].shape

    def add(self, values, offset=0):
        """Add int64 ``values`` (``|values| < 2**62``, broadcast to the shape) times
        ``2**offset`` (``offset >= 0``)."""
        values = np.asarray(values, dtype=np.int64)
        position, bit = divmod(int(offset), DIGIT_BITS)
        room = DIGIT_BITS - bit
        self._digit(position)[...] += (values & ((1 << room) - 1)) << bit
        self._digit(position + 1)[...] += values >> room

    def add_integers(self, values, offset=0):
        """Add Python integers of any size (an object array or a sequence broadcast to the
        shape, such as a bias per output channel) times ``2**offset``."""
        values = np.asarray(values, dtype=object)
        position = 0
        while True:
            low = np.vectorize(lambda v: v & _MASK, otypes=[np.int64])(values)
            self.add(low, offset + position)
            values = np.vectorize(lambda v: v >> DIGIT_BITS, otypes=[object])(values)
            position += DIGIT_BITS
            if all(v in (0, -1) for v in values.flat):
                self.add(values.astype(np.int64), offset + position)
                return

    def _digit(self, position):
        while position >= len(self.digits):
            self.digits.append(np.zeros(self.shape, dtype=np.int64))
        return self.digits[position]

    def normalize(self):
        """Carry so that every digit but the top one lies in ``[0, 2**DIGIT_BITS)``, then drop
        top digits that only repeat the sign."""
        self._digit(len(self.digits))  # a top digit of room for the sign
        for low, high in zip(self.digits, self.digits[1:]):
            high += low >> DIGIT_BITS
            low &= _MASK
        while len(self.digits) > 1:
            top, below = self.digits[-1], self.digits[-2]
            merged = (top << DIGIT_BITS) + below
            half = 1 << (DIGIT_BITS - 1)
            if not ((top >= -1) & (top <= 0)).all() or not (
                    (merged >= -half) & (merged < half)).all():
                break
            self.digits[-2] = merged
            self.digits.pop()
        return self

    def negative(self):
        """Where the number is below zero (after :meth:`normalize`)."""
        return self.digits[-1] < 0

    def zero_where(self, mask):
        """Set the numbers where ``mask`` holds to zero."""
        for digit in self.digits:
            np.copyto(digit, 0, where=mask)
        return self

    def multiply(self, factor):
        """Multiply by nonnegative integers below 2**32 (a scalar, or one per element of the
        last axis), then normalize. Needs a normalized number."""
        factor = np.asarray(factor, dtype=np.int64)
        self._digit(len(self.digits) + 1)  # room for the product's 32 more bits
        for digit in self.digits:
            digit *= factor
        return self.normalize()

    def floor_and_sticky(self, right, cap):
        """``floor(value / 2**right)`` clamped to ``±cap`` and whether the division left a
        remainder (the sticky bit), as int64 and bool arrays. ``right`` is an integer, or one
        per element of the last axis; a negative ``right`` shifts left. Needs a normalized
        number; ``cap`` at most 2**50."""
        if cap > 2 ** 50:
            raise ValueError(f"cap must be at most 2**50, not {cap}")
        right = np.asarray(right, dtype=np.int64)
        digits = list(self.digits)
        lowest = int(right.min())
        if lowest < 0:  # a left shift: zero digits below, then a right shift
            extra = -(lowest // DIGIT_BITS)
            digits = [np.zeros(self.shape, dtype=np.int64)] * extra + digits
            right = right + extra * DIGIT_BITS
        position, bit = np.divmod(right, DIGIT_BITS)
        if int(position.max()) >= len(digits):  # the cut above every digit: sign digits
            sign = digits[-1] >> DIGIT_BITS
            digits[-1] = digits[-1] & _MASK
            extension = int(position.max()) - len(digits) + 2
            digits += [sign & _MASK] * (extension - 1) + [sign]
        # Digits above the cut, top first, in float64: exact while below 2**52, and a number
        # that large saturates (the lower digits are nonnegative and cannot bring it back).
        high = np.zeros(self.shape, dtype=np.float64)
        cut = np.zeros(self.shape, dtype=np.int64)
        sticky = np.zeros(self.shape, dtype=bool)
        for index in range(len(digits) - 1, -1, -1):
            digit = digits[index]
            if right.ndim == 0:
                if index > position:
                    high = np.clip(high * _BASE + digit, -_FLOAT_CLAMP, _FLOAT_CLAMP)
                elif index == position:
                    cut = digit
                else:
                    sticky |= digit != 0
                continue
            above = index > position
            high = np.where(above, np.clip(high * _BASE + digit, -_FLOAT_CLAMP, _FLOAT_CLAMP),
                            high)
            cut = np.where(index == position, digit, cut)
            sticky |= (index < position) & (digit != 0)
        sticky |= (cut & ((np.int64(1) << bit) - 1)) != 0
        floor = np.clip(high * np.ldexp(1.0, DIGIT_BITS - bit) + (cut >> bit), -cap, cap)
        return floor.astype(np.int64), sticky

    def to_python(self):
        """The numbers as an object array of Python integers (for tests)."""
        total = np.zeros(self.shape, dtype=object)
        for position, digit in enumerate(self.digits):
            total = total + digit.astype(object) * (1 << (position * DIGIT_BITS))
        return total
