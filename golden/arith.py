"""Exact arithmetic: integer dot products of codes and the scaling stage with one rounding.

Operands of any formats (TFX with per-tensor IS and SC, FXP) are first turned into their
exact integers ``X``; products and sums are exact integers, so nothing depends on the order of
summation. The scaling stage turns an accumulator into an output code with a single rounding.
Defined in ``docs/formats/arithmetic.md``.
"""

from dataclasses import dataclass

import numpy as np

from ._checks import check_choice, check_int
from .format import NumberFormat

__all__ = [
    "Accumulators", "accumulator_width", "matmul", "dot", "scale",
    "ScalingLimits", "DEFAULT_LIMITS", "MAX_BIAS_BITS", "integer_array",
]

_FLOAT_EXACT = 1 << 53
_INT64_EXACT = 1 << 63
#: The widest bias register (a minifloat with a 5-bit exponent needs more than 64 bits).
MAX_BIAS_BITS = 128


@dataclass(frozen=True)
class ScalingLimits:
    """Build-time ranges of the per-channel scaling parameters (the hardware's register sizes).

    Attributes
    ----------
    bias_bits : int
        ``|bias| < 2**(bias_bits - 1)``, bias in accumulator units (2 to 128; beyond 64 bits
        biases are object arrays of Python integers).
    m_bits : int
        ``1 <= M < 2**m_bits`` (1 to 32).
    shift_max : int
        ``0 <= shift <= shift_max`` (0 to 63).
    """

    bias_bits: int = 32
    m_bits: int = 16
    shift_max: int = 31

    def __post_init__(self):
        check_int("bias_bits", self.bias_bits, 2, MAX_BIAS_BITS)
        check_int("m_bits", self.m_bits, 1, 32)
        check_int("shift_max", self.shift_max, 0, 63)

    @property
    def max_abs_bias(self):
        return (1 << (self.bias_bits - 1)) - 1


DEFAULT_LIMITS = ScalingLimits()


@dataclass(frozen=True)
class Accumulators:
    """Exact accumulator integers ``values`` whose real value is ``values * 2**exponent``.

    ``values`` is int64 when its bound allows, else an object array of Python ints. ``nar``
    marks results that a NaR operand touched (only with ``nar="flag"``; else all False).
    """

    values: np.ndarray
    exponent: int
    nar: np.ndarray

    def real(self):
        """The exact values as float64 (rounded if they exceed 53 bits)."""
        return self.values.astype(np.float64) * (2.0 ** self.exponent)


def _check_format(name, fmt):
    if not isinstance(fmt, NumberFormat):
        raise TypeError(f"{name} must be a TFX or FXP format object, not {fmt!r}")
    return fmt


def accumulator_width(a_fmt, w_fmt, K, *, bias_bits=DEFAULT_LIMITS.bias_bits):
    """Bits of a signed accumulator that never wraps for dot products of length up to ``K``.

    ``ceil(log2(K * max|Xa| * max|Xw| + max|bias|)) + 1``, as the spec states, with
    ``max|bias| = 2**(bias_bits-1) - 1``. For hardware built for ``IS_max``, pass formats with
    ``IS = IS_max`` (the largest operands).
    """
    _check_format("a_fmt", a_fmt)
    _check_format("w_fmt", w_fmt)
    K = check_int("K", K, 1, 1 << 32)
    check_int("bias_bits", bias_bits, 2, MAX_BIAS_BITS)
    bound = K * a_fmt.max_abs_int * w_fmt.max_abs_int + (1 << (bias_bits - 1)) - 1
    return (bound - 1).bit_length() + 1 if bound > 1 else 2


def matmul(a, a_fmt, w, w_fmt, *, bias=None, nar="raise", limits=DEFAULT_LIMITS,
           w_shift=None):
    """Exact ``bias + a @ w`` on codes: ``a`` (..., K) in ``a_fmt``, ``w`` (K, N) in ``w_fmt``.

    Parameters
    ----------
    w_shift : array_like of int, optional
        Block-scaled weights (:mod:`golden.mx`): each weight's operand is ``X << w_shift``
        (shape (K, N), ``0 <= w_shift <= 64``), its block exponent above the layer's
        smallest; the result's exponent does not include that smallest exponent.
    bias : array_like of int, optional
        Per-output-column bias in accumulator units, shape (N,), ``|bias| < 2**(bias_bits-1)``.
    nar : {"raise", "flag"}
        ``"raise"``: a NaR operand is a ``ValueError``. ``"flag"``: NaR contributes zero, as in
        the hardware, and ``Accumulators.nar`` marks every result whose dot product touched one.

    Returns
    -------
    Accumulators
        Exact integers with exponent ``a_fmt.int_exponent + w_fmt.int_exponent``. Computed in
        float64 BLAS when every partial sum is provably below 2**53, int64 below 2**63, Python
        integers beyond.
    """
    _check_format("a_fmt", a_fmt)
    _check_format("w_fmt", w_fmt)
    check_choice("nar", nar, ("raise", "flag"))
    a = a_fmt.check_codes(a)
    w = w_fmt.check_codes(w)
    if a.ndim < 1 or w.ndim != 2 or a.shape[-1] != w.shape[0]:
        raise ValueError(f"Shapes do not fit a matrix product (..., K) @ (K, N): "
                         f"{a.shape} and {w.shape}")
    K, N = w.shape
    mode = "raise" if nar == "raise" else "zero"
    xa = a_fmt.to_int(a, nar=mode)
    xw = w_fmt.to_int(w, nar=mode)
    w_bound = w_fmt.max_abs_int
    if w_shift is not None:
        w_shift = np.broadcast_to(np.asarray(w_shift, dtype=np.int64), w.shape)
        if w_shift.size and (w_shift.min() < 0 or w_shift.max() > 64):
            raise ValueError("w_shift must lie from 0 to 64")
        w_bound <<= int(w_shift.max(initial=0))
        if w_bound < _INT64_EXACT:
            xw = xw.astype(np.int64) << w_shift
        else:
            xw = np.vectorize(lambda x, k: int(x) << int(k), otypes=[object])(xw, w_shift)
    bias = _check_bias(bias, N, limits)
    bound = max(K, 1) * a_fmt.max_abs_int * w_bound + int(np.max(np.abs(bias), initial=0))
    if bound < _FLOAT_EXACT:
        values = (xa.astype(np.float64) @ xw.astype(np.float64)).astype(np.int64) + bias
    elif bound < _INT64_EXACT:
        values = xa @ xw + bias
    else:
        values = xa.astype(object) @ xw.astype(object) + bias.astype(object)
    flags = np.zeros(values.shape, dtype=bool)
    if nar == "flag":
        flags = a_fmt.is_nar(a).any(axis=-1)[..., None] | w_fmt.is_nar(w).any(axis=0)
    return Accumulators(values, a_fmt.int_exponent + w_fmt.int_exponent, flags)


def dot(a, a_fmt, w, w_fmt, **kwargs):
    """Exact dot product of two code vectors (see :func:`matmul`); scalar result."""
    w = np.asarray(w)
    result = matmul(a, a_fmt, w.reshape(-1, 1), w_fmt, **kwargs)
    return Accumulators(result.values[..., 0], result.exponent, result.nar[..., 0])


def _check_bias(bias, N, limits):
    if bias is None:
        return np.zeros(N, dtype=np.int64)
    if not _is_integer_array(np.asarray(bias)):
        raise TypeError(f"bias must be integers in accumulator units, not "
                        f"{np.asarray(bias).dtype}")
    bias = np.broadcast_to(integer_array(bias), (N,))
    if bias.size and np.abs(bias).max() > limits.max_abs_bias:
        raise ValueError(f"bias must lie within ±{limits.max_abs_bias} "
                         f"(bias_bits={limits.bias_bits}), not {int(np.abs(bias).max())}")
    return bias


def _is_integer_array(array):
    return array.dtype.kind in "iu" or (array.dtype == object and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in array.flat))


def integer_array(values):
    """Integers as an int64 array when every one fits, else an object array of Python ints
    (a bias wider than 64 bits)."""
    array = np.asarray(values)
    if array.dtype.kind in "iu" and (array.dtype.kind == "i" or array.size == 0
                                     or array.max() < _INT64_EXACT):
        return array.astype(np.int64)
    python = np.vectorize(int, otypes=[object])(array) if array.size else array.astype(object)
    if all(-_INT64_EXACT <= v < _INT64_EXACT for v in python.flat):
        return python.astype(np.int64)
    return python


def check_channel_param(name, value, low, high, shape):
    """Integers from ``low`` to ``high``, one per output column (last axis of ``shape``) or
    one for all, as an array of ``shape``: int64, or Python ints where a bound is beyond
    int64 and a value too (:func:`integer_array`)."""
    array = np.asarray(value)
    if not _is_integer_array(array):
        raise TypeError(f"{name} must be an integer from {low} to {high}, not {array.dtype}")
    array = integer_array(array)
    try:
        array = np.broadcast_to(array, shape)
    except ValueError:
        raise ValueError(f"{name} must be a scalar or have one value per output column "
                         f"({shape[-1] if shape else 1}), not shape {array.shape}") from None
    if array.size and (array.min() < low or array.max() > high):
        bad = array[((array < low) | (array > high)).astype(bool)].flat[0]
        raise ValueError(f"{name} must be an integer from {low} to {high}, not {int(bad)}")
    return array


def scale(acc, out_fmt, *, M=1, shift=0, relu=False, limits=DEFAULT_LIMITS):
    """The scaling stage: ``Q_out(relu?(ACC * M * 2**(E - shift)))`` with one rounding.

    Parameters
    ----------
    acc : Accumulators
        Exact accumulators (bias already included), value ``ACC * 2**E``.
    out_fmt : NumberFormat
        Output format; rounding is to nearest, ties to the even code, saturating.
    M : int or array_like of int
        Unsigned multiplier per output channel (last axis), ``1 <= M < 2**m_bits``.
    shift : int or array_like of int
        Right shift per output channel, ``0 <= shift <= shift_max``.
    relu : bool
        Clamp negative values to zero before rounding.

    Returns
    -------
    numpy.ndarray
        int64 output codes. A result flagged NaR in ``acc.nar`` is still computed from its
        accumulator (NaR contributed zero); callers report the flag beside it.
    """
    if not isinstance(acc, Accumulators):
        raise TypeError(f"acc must be an Accumulators result of matmul(), not {type(acc).__name__}")
    _check_format("out_fmt", out_fmt)
    if not isinstance(relu, bool):
        raise TypeError(f"relu must be a bool, not {relu!r}")
    values = np.asarray(acc.values)
    channels = values.shape[-1:] if values.ndim else ()
    M = check_channel_param("M", M, 1, (1 << limits.m_bits) - 1, channels)
    shift = check_channel_param("shift", shift, 0, limits.shift_max, channels)
    if relu:
        values = np.where(values < 0, 0, values).astype(values.dtype)
    bits = max(int(np.max(np.abs(values), initial=0)).bit_length(), 1) + limits.m_bits
    if values.dtype == object or bits >= 63:
        product = values.astype(object) * M.astype(object)
    else:
        product = values * M
    return out_fmt.quantize_exact(product, acc.exponent - shift)
