"""Exact MAC and the scaling stage against the Fraction reference."""

from fractions import Fraction

import numpy as np
import pytest

from golden import FXP, TFX
from golden.arith import (Accumulators, ScalingLimits, accumulator_width, dot, matmul,
                          scale)
from reference import nearest_code, scale_reference, value_table


def fraction_matmul(a, a_fmt, w, w_fmt, bias):
    va = [[Fraction(float(v)) for v in row] for row in a_fmt.decode(a)]
    vw = [[Fraction(float(v)) for v in row] for row in w_fmt.decode(w)]
    unit = Fraction(2) ** (a_fmt.int_exponent + w_fmt.int_exponent)
    return [[sum(va[i][k] * vw[k][j] for k in range(len(vw))) + bias[j] * unit
             for j in range(len(vw[0]))] for i in range(len(va))]


@pytest.mark.parametrize("a_fmt,w_fmt", [
    (TFX(8, 3, -1), TFX(8, 2, 4)), (TFX(5, 4, 0), FXP(5, 2)), (FXP(8, 5, signed=False), FXP(8, 7)),
    (TFX(16, 15, 3), TFX(16, 15, -30)),  # needs Python integers: beyond int64
    (TFX(12, 6, 0), TFX(12, 6, 0)),      # int64 path
])
def test_matmul_is_exact(a_fmt, w_fmt):
    rng = np.random.default_rng(3)
    K = 37
    a = rng.integers(0, a_fmt.code_count, (5, K))
    w = rng.integers(0, w_fmt.code_count, (K, 4))
    a[a == a_fmt.nar_code] = 0
    w[w == w_fmt.nar_code] = 0
    bias = rng.integers(-1000, 1000, 4)
    acc = matmul(a, a_fmt, w, w_fmt, bias=bias)
    unit = Fraction(2) ** acc.exponent
    expected = fraction_matmul(a, a_fmt, w, w_fmt, bias)
    got = [[Fraction(int(v)) * unit for v in row] for row in acc.values]
    assert got == expected


def test_matmul_paths_agree_and_extremes():
    fmt = TFX(16, 15, 0)
    K = 64
    a = np.full((1, K), 0x7FFF)  # maxpos everywhere: the largest accumulator
    w = np.full((K, 1), 0x7FFF)
    acc = matmul(a, fmt, w, fmt)
    assert acc.values.dtype == object
    assert int(acc.values[0, 0]) == K * fmt.max_int ** 2
    assert int(acc.values[0, 0]).bit_length() + 1 <= accumulator_width(fmt, fmt, K)
    alternating = np.where(np.arange(K) % 2, 0x7FFF, 0x8001).reshape(1, K)
    assert int(matmul(alternating, fmt, w, fmt).values[0, 0]) == 0


def test_accumulator_width_formula():
    fmt = TFX(8, 3, 0)
    assert fmt.max_abs_int == 992
    bound = 16 * 992 * 992 + 2 ** 31 - 1
    assert accumulator_width(fmt, fmt, 16) == (bound - 1).bit_length() + 1
    assert accumulator_width(FXP(8, 0), FXP(8, 0), 1, bias_bits=2) == 16
    with pytest.raises(ValueError, match="K must be an integer from 1 to"):
        accumulator_width(fmt, fmt, 0)


def test_nar_raise_and_flag():
    fmt = TFX(6, 2, 0)
    a = np.array([[1, 32, 3], [1, 2, 3]])
    w = np.array([[1, 2], [3, 4], [5, 32]])
    with pytest.raises(ValueError, match="NaR code 32"):
        matmul(a, fmt, w, fmt)
    acc = matmul(a, fmt, w, fmt, nar="flag")
    assert acc.nar.tolist() == [[True, True], [False, True]]
    zeroed = matmul(np.where(a == 32, 0, a), fmt, np.where(w == 32, 0, w), fmt)
    assert np.array_equal(acc.values, zeroed.values)


def test_dot():
    fmt = FXP(8, 0)
    acc = dot([1, 2, 255], fmt, [3, 4, 5], fmt, bias=[7])
    assert int(acc.values) == 3 + 8 - 5 + 7 and acc.exponent == 0


SCALE_OUT = [TFX(5, 2, 0), TFX(5, 4, -2), TFX(6, 1, 1), TFX(8, 3, 0), FXP(5, 1), FXP(4, 0, signed=False)]


@pytest.mark.parametrize("out", SCALE_OUT, ids=lambda f: f.label)
@pytest.mark.parametrize("M,shift,relu", [(1, 0, False), (1, 4, True), (3, 2, False),
                                          (255, 10, False), (1, 11, True)])
def test_scale_every_accumulator(out, M, shift, relu):
    """Every accumulator value of a 12-bit accumulator against the Fraction reference."""
    limits = ScalingLimits(bias_bits=12, m_bits=8, shift_max=11)
    values = np.arange(-2048, 2048)
    E = -4
    got = scale(Accumulators(values, E, np.zeros(values.shape, bool)), out, M=M, shift=shift,
                relu=relu, limits=limits)
    table = value_table(*_table_key(out))
    expected = [scale_reference(int(v), E, M, shift, relu, table) for v in values]
    assert got.tolist() == expected


def _table_key(fmt):
    if isinstance(fmt, TFX):
        return ("tfx", fmt.n, fmt.IS, fmt.SC)
    return ("fxp", fmt.n, fmt.F, 0, fmt.signed)


def _scale_one(acc, E, out, **kwargs):
    return int(scale(Accumulators(np.array([acc]), E, np.zeros(1, bool)), out, **kwargs)[0])


def test_scale_named_traps():
    out = TFX(8, 3, 0)  # minpos 17/128, maxpos 7.75
    E = -10  # accumulator unit 2**-10
    # minpos/2 = 17/256 = 68 units: a tie between 0 and minpos goes to 0 (even code).
    assert _scale_one(68, E, out) == 0
    assert _scale_one(69, E, out) == 1 and _scale_one(-69, E, out) == 255
    # (minpos/2, minpos) includes 2**-3 = 128 units, which has no code of its own.
    assert _scale_one(128, E, out) == 1
    # Tie at a binade boundary: between 63/64 (0x3F) and 1.0 (0x40): 127/128 = 1016 units.
    assert out.decode(0x3F) == 63 / 64
    assert _scale_one(1016, E, out) == 0x40
    # Tie just below: between 31/32 (0x3E) and 63/64 (0x3F) -> 0x3E (even).
    assert _scale_one(1000, E, out) == 0x3E
    # Tie just above 1.0: between 1.0 (0x40) and 1.03125 (0x41): 1.015625 -> 0x40 (even).
    assert _scale_one(1040, E, out) == 0x40
    # Saturation at both ends, ReLU.
    assert _scale_one(10**6, E, out) == 0x7F and _scale_one(-10**6, E, out) == 0x81
    assert _scale_one(-10**6, E, out, relu=True) == 0
    # M and shift extremes.
    assert _scale_one(1, -20, out, M=(1 << 16) - 1, shift=0) == int(out.quantize(65535 / 2**20))
    assert _scale_one(1 << 30, 0, out, shift=31) == int(out.quantize(0.5))


def test_scale_double_rounding_counterexample():
    """Shift-and-round first, then encode, disagrees with the spec; one rounding does not."""
    out = TFX(8, 3, 0)
    E, shift = 0, 8
    table = value_table("tfx", 8, 3, 0)
    values = np.arange(-(1 << 12), 1 << 12)
    ours = scale(Accumulators(values, E, np.zeros(values.shape, bool)), out, shift=shift)
    reference = [scale_reference(int(v), E, 1, shift, False, table) for v in values]
    assert ours.tolist() == reference
    # Double rounding: round ACC * 2**-shift to 4 fraction bits first, then encode.
    twice = out.quantize(np.rint(values / 2.0 ** (shift - 4)) / 16)
    differ = int(np.sum(twice != ours))
    assert differ > 0
    v = int(values[np.argmax(twice != ours)])
    assert nearest_code(Fraction(v, 1 << shift), table) == ours[np.argmax(twice != ours)]


def test_scale_wide_accumulators_sampled():
    """Random 60-bit accumulators (Python-integer path) against the Fraction reference."""
    rng = np.random.default_rng(11)
    out = TFX(10, 4, 3)
    table = value_table("tfx", 10, 4, 3)
    values = np.array([int(v) << 30 for v in rng.integers(-(1 << 30), 1 << 30, 400)], dtype=object)
    got = scale(Accumulators(values, -55, np.zeros(values.shape, bool)), out, M=77, shift=3)
    assert got.tolist() == [scale_reference(int(v), -55, 77, 3, False, table) for v in values]


def test_scale_per_channel_parameters():
    values = np.array([[100, 100, 100], [-7, 50, 900]])
    acc = Accumulators(values, -4, np.zeros(values.shape, bool))
    out = FXP(8, 2)
    got = scale(acc, out, M=[1, 2, 3], shift=[0, 1, 2])
    expected = out.quantize(values * np.array([1, 2, 3]) / 2.0 ** (4 + np.array([0, 1, 2])))
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("kwargs,error,message", [
    ({"M": 0}, ValueError, "M must be an integer from 1 to 65535, not 0"),
    ({"M": 1 << 16}, ValueError, "M must be an integer from 1 to 65535, not 65536"),
    ({"M": 1.5}, TypeError, "M must be an integer from 1 to 65535"),
    ({"shift": -1}, ValueError, "shift must be an integer from 0 to 31, not -1"),
    ({"shift": 32}, ValueError, "shift must be an integer from 0 to 31, not 32"),
    ({"relu": 1}, TypeError, "relu must be a bool"),
])
def test_scale_invalid_parameters(kwargs, error, message):
    acc = Accumulators(np.array([1, 2]), 0, np.zeros(2, bool))
    with pytest.raises(error, match=message):
        scale(acc, TFX(8, 3, 0), **kwargs)


def test_matmul_invalid_inputs():
    fmt = TFX(8, 3, 0)
    with pytest.raises(ValueError, match=r"Shapes do not fit a matrix product .* \(2, 3\) and \(2, 2\)"):
        matmul(np.zeros((2, 3), int), fmt, np.zeros((2, 2), int), fmt)
    with pytest.raises(ValueError, match="bias must lie within ±2147483647"):
        matmul(np.zeros((1, 2), int), fmt, np.zeros((2, 1), int), fmt, bias=[1 << 31])
    with pytest.raises(TypeError, match="w_fmt must be a TFX or FXP format object"):
        matmul(np.zeros((1, 2), int), fmt, np.zeros((2, 1), int), "tfx:8,3,0")
    with pytest.raises(ValueError, match="nar must be one of 'raise', 'flag'"):
        matmul(np.zeros((1, 2), int), fmt, np.zeros((2, 1), int), fmt, nar="zero")
    with pytest.raises(ValueError, match="m_bits must be an integer from 1 to 32, not 0"):
        ScalingLimits(m_bits=0)


def test_biases_wider_than_64_bits_are_python_integers_and_exact(tmp_path):
    from golden import FP
    from golden._io import storable_integers, stored_integers
    from golden.arith import MAX_BIAS_BITS, integer_array
    from golden.family import FPFamily
    from golden.layers import Layer, accumulator_bias, load_workload, run_layer, save_workload
    limits = FPFamily(8, 5).default_limits()
    assert limits.bias_bits == 72 and MAX_BIAS_BITS == 128
    assert integer_array([1, -2]).dtype == np.int64
    assert integer_array(np.array([1 << 63], dtype=np.uint64)).dtype == object
    wide = accumulator_bias([3.0, -1.5, 0.0], -64, limits)
    assert wide.dtype == object and list(wide) == [3 << 64, -(3 << 63), 0]
    assert accumulator_bias([3.0], -8, limits).dtype == np.int64
    with pytest.raises(ValueError, match="the bias needs 75 bits in accumulator units 2\\*\\*-72; "
                                         "the hardware has bias_bits=72"):
        accumulator_bias([3.0], -72, limits)
    text = storable_integers(wide)
    assert text.dtype.kind == "U" and list(stored_integers(text)) == list(wide)
    assert storable_integers(np.arange(3)).dtype == np.int64
    with pytest.raises(ValueError, match="must be decimal, not 'x'"):
        stored_integers(np.array(["x"]))
    # The sum stays exact far beyond float64 and int64: bias + a @ w in Python integers.
    fmt = FP(8, 5, 0)
    rng = np.random.default_rng(1)
    a, w = rng.integers(0, 0x7c, (3, 5)), rng.integers(0, 0x7c, (5, 3))
    acc = matmul(a, fmt, w, fmt, bias=wide, limits=limits)
    xa, xw = fmt.to_int(a), fmt.to_int(w)
    exact = [[int(wide[j]) + sum(int(x) * int(y) for x, y in zip(xa[i], xw[:, j], strict=True))
              for j in range(3)] for i in range(3)]
    assert acc.values.tolist() == exact
    with pytest.raises(ValueError, match="bias must lie within"):
        matmul(a, fmt, w, fmt, bias=wide, limits=ScalingLimits(bias_bits=64))
    layer = Layer.make(family=FPFamily(8, 5), a_fmt=fmt, w_fmt=fmt, out_fmt=fmt, N=3, bias=wide,
                       limits=limits)
    with pytest.raises(ValueError, match="bias must be an integer from"):
        Layer.make(family=FPFamily(8, 5), a_fmt=fmt, w_fmt=fmt, out_fmt=fmt, N=3,
                   bias=[1 << 72], limits=limits)
    with pytest.raises(TypeError, match="bias must be an integer"):
        Layer.make(family=FPFamily(8, 5), a_fmt=fmt, w_fmt=fmt, out_fmt=fmt, N=3,
                   bias=[1.5], limits=limits)
    save_workload(tmp_path / "w.npz", a, w, layer)
    a2, w2, again = load_workload(tmp_path / "w.npz", FPFamily(8, 5), limits)
    assert list(again.bias) == list(wide)
    assert np.array_equal(run_layer(a2, w2, again, limits=limits),
                          run_layer(a, w, layer, limits=limits))
