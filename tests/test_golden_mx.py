"""Block scaling (golden.mx) against the spec's rules, ml_dtypes' OCP types and E8M0, and an
exact Fraction reference of the block dot product."""

import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

from golden import FP, TFX, Posit
from golden.arith import scale
from golden.mx import MX, e8m0_codes, matmul, mxint

OCP_ELEMENTS = {"E4M3": (FP(8, 4), ml_dtypes.float8_e4m3fn, 8),
                "E5M2": (FP(8, 5), ml_dtypes.float8_e5m2, 15),
                "E2M3": (FP(6, 2), ml_dtypes.float6_e2m3fn, 2),
                "E3M2": (FP(6, 3), ml_dtypes.float6_e3m2fn, 4),
                "E2M1": (FP(4, 2), ml_dtypes.float4_e2m1fn, 2)}
ELEMENTS = [FP(8, 4), FP(8, 5), FP(6, 2), FP(6, 3), FP(4, 2), mxint(8), mxint(6), mxint(4),
            TFX(8, 3), TFX(5, 2), Posit(8, 1), Posit(6, 0)]


def _floor_rule(block, emax):
    """The spec's rule on one block, in Python's exact arithmetic."""
    amax = max(abs(float(v)) for v in block)
    if amax == 0:
        return -127
    return max(-127, min(127, math.frexp(amax)[1] - 1 - emax))


@pytest.mark.parametrize("element", ELEMENTS, ids=lambda f: f.label)
def test_the_shared_scale_is_the_floor_rule_on_random_and_adversarial_blocks(element):
    mx = MX(element, block=8)
    rng = np.random.default_rng(element.n)
    maxpos = element.maxpos
    blocks = [rng.normal(0, 10.0 ** rng.integers(-6, 6), 8) for _ in range(200)]
    blocks += [np.zeros(8),  # all zeros: s = -127
               np.array([1e300] + [0.0] * 7),  # one huge value: s clamps at 127
               np.array([1e-300, -1e-301] + [0.0] * 6),  # tiny: s clamps at -127
               np.array([maxpos, -maxpos, 1.0, 0, 0, 0, 0, 0]),  # at the element maximum
               np.array([maxpos * 2.0 ** 5, 3.0, 0, 0, 0, 0, 0, 0]),
               np.array([-maxpos * 2.0 ** -7] + [0.0] * 7)]
    x = np.stack(blocks, axis=1)  # K = 8 rows, one block per column
    tensor = mx.quantize(x, axis=0)
    expected = [_floor_rule(block, mx.emax) for block in blocks]
    assert tensor.exponents[0].tolist() == expected
    assert mx.emax == math.floor(math.log2(maxpos))
    # A block at the element maximum stores it exactly (no clipping), with s = 0.
    at_max = tensor.decode()[:, len(blocks) - 3]
    assert (at_max[:2] == [maxpos, -maxpos]).all() and tensor.exponents[0][-3] == 0
    assert (tensor.decode()[:, -6] == 0).all()  # the all-zero block


def test_floor_clips_where_ceil_does_not():
    values = np.array([7.0, 1.0, 0.5, 0.0])  # an E2M1 block whose amax is 7
    floor = MX(FP(4, 2), block=4).quantize(values)
    assert floor.exponents.tolist() == [0] and floor.decode().tolist() == [6.0, 1.0, 0.5, 0.0]
    ceil = MX(FP(4, 2), block=4, rule="ceil").quantize(values)
    assert ceil.exponents.tolist() == [1] and ceil.decode().tolist() == [8.0, 1.0, 0.0, 0.0]
    rng = np.random.default_rng(3)
    for element in ELEMENTS:  # ceil: the smallest s that never clips
        mx = MX(element, block=4, rule="ceil")
        x = rng.normal(0, 3, (4, 50))
        s = mx.quantize(x).exponents[0]
        amax = np.abs(x).max(axis=0)
        assert (amax <= element.maxpos * np.ldexp(1.0, s)).all()
        assert (amax > element.maxpos * np.ldexp(1.0, s - 1)).all()


@pytest.mark.parametrize("name", OCP_ELEMENTS)
def test_ocp_elements_are_ml_dtypes_cast_of_the_scaled_values(name):
    element, dtype, emax = OCP_ELEMENTS[name]
    mx = MX(element, block=32)
    assert mx.emax == emax
    rng = np.random.default_rng(len(name))
    x = rng.normal(0, 1, (32, 40)) * np.ldexp(1.0, rng.integers(-20, 20, 40))
    tensor = mx.quantize(x)
    scaled = x / np.ldexp(1.0, tensor.exponents[0])
    inside = np.abs(scaled) <= element.maxpos  # ml_dtypes overflows where MX saturates
    oracle = scaled.astype(dtype).astype(np.float64)
    np.testing.assert_array_equal(element.decode(tensor.codes)[inside], oracle[inside])
    assert (np.abs(element.decode(tensor.codes)[~inside]) == element.maxpos).all()


def test_the_block_exponents_are_e8m0():
    s = np.arange(-127, 128)
    codes = e8m0_codes(s).astype(np.uint8)
    np.testing.assert_array_equal(codes.view(ml_dtypes.float8_e8m0fnu).astype(np.float64),
                                  np.ldexp(1.0, s))
    assert codes.max() == 254  # 0xFF, NaN, never
    with pytest.raises(ValueError, match="E8M0 exponents lie from -127 to 127"):
        e8m0_codes([128])


def test_mxint_is_symmetric():
    mx = MX(mxint(8), block=4)
    tensor = mx.quantize(np.array([-1.999, 1.0, 0.25, -1.0]))
    assert tensor.exponents.tolist() == [0]
    assert tensor.decode()[0] == -mxint(8).maxpos  # not -2: the most negative code is unused
    assert (tensor.codes != 0x80).all()


@pytest.mark.parametrize("element", ELEMENTS, ids=lambda f: f.label)
@pytest.mark.parametrize("axis", [0, 1])
def test_decoded_quantization_is_the_codes_decoded(element, axis):
    """quantize_decoded skips the codes: the same values, block exponents, and which blocks
    hold a nonzero input; K = 45 leaves a short last block."""
    rng = np.random.default_rng(element.n + axis)
    mx = MX(element, block=8)
    x = rng.normal(0, 1, (45, 45)) * np.ldexp(1.0, rng.integers(-20, 20, (45, 45)))
    x[3] = 0
    x[:, 8:16] = 0
    x[:8, :8] = 0  # all-zero blocks along either axis
    tensor, decoded = mx.quantize(x, axis=axis), mx.quantize_decoded(x, axis=axis)
    np.testing.assert_array_equal(decoded.values, tensor.decode())
    np.testing.assert_array_equal(decoded.exponents, np.moveaxis(tensor.exponents, axis, -1))
    moved = np.moveaxis(x, axis, -1)
    nonzero = np.stack([(moved[:, b:b + 8] != 0).any(axis=1) for b in range(0, 45, 8)], -1)
    np.testing.assert_array_equal(decoded.nonzero, nonzero)
    with pytest.raises(ValueError, match="cannot block-scale NaN"):
        mx.quantize_decoded(np.where(x == x.max(), np.nan, x), axis=axis)


def _exact_product(a_values, w_values):
    return [[sum((a_values[m][k] * w_values[k][j] for k in range(len(w_values))), Fraction(0))
             for j in range(len(w_values[0]))] for m in range(len(a_values))]


@pytest.mark.parametrize("element", ELEMENTS, ids=lambda f: f.label)
def test_block_dot_products_are_exact(element):
    rng = np.random.default_rng(element.n + 11)
    mx = MX(element, block=4)
    K = 10  # two whole blocks and a short one
    w = mx.quantize(rng.normal(0, 1, (K, 3)) * np.ldexp(1.0, rng.integers(-8, 8, (K, 3))),
                    axis=0)
    a = mx.quantize(rng.normal(0, 1, (5, K)) * 4, axis=1)
    per_tensor = TFX(8, 3, -1)
    a_codes = per_tensor.quantize(rng.normal(0, 1, (5, K)))
    a_values = [[Fraction(v) for v in row] for row in per_tensor.decode(a_codes)]
    w_values = w.to_fraction_list().tolist()
    for operand, values in (((a_codes, per_tensor), a_values),  # W-MX
                            (a, a.to_fraction_list().tolist())):  # full MX
        acc = matmul(operand, w)
        exact = _exact_product(values, w_values)
        got = [[Fraction(int(v)) * Fraction(2) ** acc.exponent for v in row]
               for row in acc.values]
        assert got == exact
        # The accumulators go through the scaling stage like any others.
        codes = scale(acc, TFX(8, 3, 2))
        np.testing.assert_array_equal(codes, TFX(8, 3, 2).quantize(
            np.array([[float(v) for v in row] for row in exact])))


def test_the_spread_rule_raises_the_smallest_block_exponents():
    mx = MX(FP(8, 4), block=4)
    x = np.concatenate([np.full(4, 1000.0), np.full(4, 1e-3), np.full(4, 0.5)])
    free = mx.quantize(x)
    bounded = mx.quantize(x, spread=6)
    assert free.exponents.tolist() == [1, -18, -9]
    assert bounded.exponents.tolist() == [1, -5, -5] and bounded.spread == 6
    # Raised blocks are quantized with their raised scale: 1e-3 / 2**-5 in E4M3.
    assert bounded.decode()[4] == FP(8, 4).decode(FP(8, 4).quantize(1e-3 * 32)) / 32
    assert bounded.decode()[8] == 0.5


@pytest.mark.parametrize("make,message", [
    (lambda: MX(FP(8, 4, 1)), "an MX element format has scale 0"),
    (lambda: MX(mxint(8).with_scale(3)), r"an MXINT element is FXP\(n, n - 2\)"),
    (lambda: MX(FP(8, 4), block=1), "block must be an integer from 2 to 1024"),
    (lambda: MX(FP(8, 4), rule="round"), "rule must be one of 'floor', 'ceil'"),
    (lambda: MX(FP(8, 4)).quantize(np.array([1.0, np.nan])), "cannot block-scale NaN"),
    (lambda: MX("fp8"), None),
])
def test_bad_parameters_are_errors(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_labels_and_the_storage_cost_of_the_scales():
    assert MX(mxint(8)).label == "MXINT8/k32" and MX(FP(4, 2), block=16).label == \
        "MX-FP(4,2,0)/k16"
    assert MX(FP(8, 4)).scale_bits_per_element == 0.25
    assert MX(FP(8, 4), block=16).scale_bits_per_element == 0.5
