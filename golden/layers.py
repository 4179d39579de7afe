"""One layer of a quantized network on codes: its run-time parameters, its exact result, and
how a trained float layer is quantized onto a hardware family (TENT's per-layer search).
"""

from dataclasses import dataclass

import numpy as np

from ._checks import check_bool, check_int, real_array
from ._io import read_npz, storable_integers, stored_integers
from .arith import (DEFAULT_LIMITS, ScalingLimits, check_channel_param, integer_array, matmul,
                    scale)

__all__ = ["Layer", "run_layer", "choose_format", "accumulator_bias", "BiasRangeError",
           "quantize_dense", "save_workload", "load_workload"]


@dataclass(frozen=True)
class Layer:
    """The run-time parameters of one layer (what the config stream carries)."""

    family: object
    a_fmt: object
    w_fmt: object
    out_fmt: object
    bias: np.ndarray
    M: np.ndarray
    shift: np.ndarray
    relu: bool = False
    #: Block-scaled weights (W-MX): each weight's block exponent above ``w_fmt``'s scale,
    #: (K, N) int64 (``golden.arith.matmul``'s ``w_shift``); None for every other layer.
    w_shift: np.ndarray = None

    @classmethod
    def make(cls, *, family, a_fmt, w_fmt, out_fmt, N, bias=0, M=1, shift=0, relu=False,
             w_shift=None, limits=DEFAULT_LIMITS):
        """Validated layer for hardware built for ``family``, per-column parameters broadcast
        to ``N`` columns; ``w_shift`` (K, N): block-scaled weights, each weight's operand
        ``X << w_shift`` (0 to 64), ``w_fmt``'s scale carrying the smallest block
        exponent."""
        for name, fmt in (("a_fmt", a_fmt), ("w_fmt", w_fmt), ("out_fmt", out_fmt)):
            try:
                family.check_member(fmt)
            except ValueError:
                label = getattr(fmt, "label", repr(fmt))
                raise ValueError(f"{name} {label} is not a member of the hardware's family "
                                 f"{family.label}") from None
        N = check_int("N", N, 1, 1 << 30)
        relu = check_bool("relu", relu)
        if not out_fmt.signed and not relu:
            raise ValueError(f"out_fmt {out_fmt.label} is unsigned: the layer needs relu=True "
                             f"(an unsigned output holds no negative value)")
        channel = lambda name, v, lo, hi: check_channel_param(name, v, lo, hi, (N,))
        # The hardware's bias register holds the bias in its own accumulator units.
        room = family.accumulator_shift(a_fmt, w_fmt)
        bias = channel("bias", bias, -(limits.max_abs_bias >> room), limits.max_abs_bias >> room)
        if w_shift is not None:
            w_shift = np.asarray(w_shift)
            if w_shift.dtype.kind not in "iu" or w_shift.ndim != 2 or w_shift.shape[1] != N:
                raise ValueError(f"w_shift must be integers of shape (K, {N}), not "
                                 f"{w_shift.dtype} {w_shift.shape}")
            if w_shift.size and not 0 <= w_shift.min() <= w_shift.max() <= 64:
                raise ValueError(f"w_shift must lie from 0 to 64, not {int(w_shift.min())} to "
                                 f"{int(w_shift.max())}")
            w_shift = w_shift.astype(np.int64)
        return cls(family, a_fmt, w_fmt, out_fmt, bias,
                   channel("M", M, 1, (1 << limits.m_bits) - 1),
                   channel("shift", shift, 0, limits.shift_max), relu, w_shift)

    @property
    def hardware_bias(self):
        """The bias as the hardware's bias register holds it: in the accumulator units of the
        family's operands (:meth:`golden.family.Family.accumulator_shift`)."""
        room = self.family.accumulator_shift(self.a_fmt, self.w_fmt)
        return self.bias if room == 0 else self.bias * (1 << room)

    def config(self, columns, cols):
        """The config payload (a dict of field values) for output columns ``columns``."""
        pad = cols - len(range(*columns.indices(len(self.bias))))
        fields = {
            "relu": int(self.relu),
            "bias": list(self.hardware_bias[columns]) + [0] * pad,
            "M": list(self.M[columns]) + [1] * pad,
            "shift": list(self.shift[columns]) + [0] * pad,
        }
        for prefix, fmt in (("a", self.a_fmt), ("w", self.w_fmt), ("out", self.out_fmt)):
            for name, value in self.family.registers(fmt).items():
                fields[f"{prefix}_{name}"] = value
        return {k: [int(x) for x in v] if isinstance(v, list) else int(v)
                for k, v in fields.items()}


def run_layer(a, w, layer, *, limits=DEFAULT_LIMITS):
    """Output codes and NaR flags of ``layer`` on codes ``a`` (M, K) and ``w`` (K, N): exact
    ``matmul`` (NaR flagged) and ``scale``, the hardware's arithmetic."""
    if not isinstance(limits, ScalingLimits):
        raise TypeError(f"limits must be a golden.arith.ScalingLimits, not {limits!r}")
    acc = matmul(a, layer.a_fmt, w, layer.w_fmt, bias=layer.bias, nar="flag", limits=limits,
                 w_shift=layer.w_shift)
    codes = scale(acc, layer.out_fmt, M=layer.M, shift=layer.shift, relu=layer.relu,
                  limits=limits)
    return codes, acc.nar


def choose_format(x, family, *, objective="mse"):
    """The member of ``family`` that the per-tensor search picks for ``x`` (TENT: IS and SC for
    TFX, restricted to the IS the hardware runs; F for fixed point)."""
    return family.choose(x, objective=objective)


def accumulator_bias(b, exponent, limits=DEFAULT_LIMITS, *, where=""):
    """Real biases ``b`` rounded to accumulator units ``2**exponent`` (int64, or Python ints
    beyond 64 bits: :func:`golden.arith.integer_array`); an error naming the bits needed when
    they exceed the hardware's ``bias_bits``."""
    bias = np.rint(np.ldexp(real_array("the bias", b), -exponent))
    if np.abs(bias).max(initial=0) > limits.max_abs_bias:
        bits = int(np.abs(bias).max()).bit_length() + 1
        raise BiasRangeError(f"{where}the bias needs {bits} bits in accumulator units "
                             f"2**{exponent}; the hardware has bias_bits={limits.bias_bits}",
                             bits=bits)
    return integer_array(bias)


class BiasRangeError(ValueError):
    """A bias beyond the hardware's ``bias_bits``; ``bits`` is what it needs."""

    def __init__(self, message, *, bits):
        super().__init__(message)
        self.bits = bits


def quantize_dense(w, b, *, family, a_fmt, calibration_out, relu, limits=DEFAULT_LIMITS):
    """Post-training quantization of a dense layer ``y = relu?(x @ w + b)`` for ``family``.

    The weights get the searched format; the bias is rounded to accumulator units
    (``2**E``, ``E = a_fmt.int_exponent + w_fmt.int_exponent``); the output format is searched
    on ``calibration_out`` (the float layer's outputs on calibration data). Power-of-two scales
    need no multiplier: ``M = 1``, ``shift = 0``. Returns the weight codes and the
    :class:`Layer`.
    """
    w = real_array("w", w)
    b = real_array("b", b)
    if w.ndim != 2 or b.shape != (w.shape[1],):
        raise ValueError(f"w must be (K, N) and b (N,), not {w.shape} and {b.shape}")
    w_fmt = choose_format(w, family)
    bias = accumulator_bias(b, a_fmt.int_exponent + w_fmt.int_exponent, limits)
    out_fmt = choose_format(calibration_out, family)
    layer = Layer.make(family=family, a_fmt=a_fmt, w_fmt=w_fmt, out_fmt=out_fmt,
                       N=w.shape[1], bias=bias, relu=relu, limits=limits)
    return w_fmt.quantize(w), layer


def save_workload(path, a, w, layer):
    """A layer workload (codes ``a`` (M, K), ``w`` (K, N) and its :class:`Layer`) as an
    ``.npz`` (no pickle), for benches that run it in another process (:mod:`sim.tb_energy`)."""
    np.savez(path, a=np.asarray(a, np.int64), w=np.asarray(w, np.int64),
             formats=np.array([layer.a_fmt.spec, layer.w_fmt.spec, layer.out_fmt.spec]),
             bias=storable_integers(layer.bias), M=layer.M, shift=layer.shift,
             relu=np.array(layer.relu))


def load_workload(path, family, limits=DEFAULT_LIMITS):
    """Inverse of :func:`save_workload`, the layer validated against the hardware's family."""
    from . import parse_format

    f = read_npz(path, "workload")
    missing = {"formats", "a", "w", "bias", "M", "shift", "relu"} - set(f)
    if missing:
        raise ValueError(f"{path} is not a workload file: it lacks {sorted(missing)}")
    a_fmt, w_fmt, out_fmt = (parse_format(str(s)) for s in f["formats"])
    layer = Layer.make(family=family, a_fmt=a_fmt, w_fmt=w_fmt, out_fmt=out_fmt,
                       N=f["w"].shape[1], bias=stored_integers(f["bias"]), M=f["M"],
                       shift=f["shift"],
                       relu=bool(f["relu"]), limits=limits)
    return f["a"], f["w"], layer
