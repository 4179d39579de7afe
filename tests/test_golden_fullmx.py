"""Full MX (golden.fullmx) against exact Fraction references, and the table quantizer of MX
elements (golden.mx.table_quantize) against each element format's own quantizer."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from golden import FP, Posit
from golden.conv import group_slices, im2col
from golden.datasets import load
from golden.family import PositFamily, FPFamily
from golden.fullmx import (_Weights, _block_span, _quantized_product, block_product,
                           logits, round_to_fp32, weight_blocks)
from golden.mx import MX, matmul, mxint, table_quantize
from golden.network import fold, pool_windows, relu_ceiling
from golden.ptq import (FULL_MX_SCHEMES, SCHEMES, calibration_samples, mx_format,
                        quantize_network, scheme_family)
from test_golden_network import residual_net

ELEMENTS = sorted({mx_format(s, scheme_family(s, n)).element
                   for s in FULL_MX_SCHEMES for n in range(3, 9)}
                  | {Posit(n, 0, 0) for n in range(3, 9)} | {FP(6, 3, 0), FP(8, 5, 0)},
                  key=lambda f: f.label)


def _fp32_nearest(value):
    """The FP32 nearest the exact Fraction ``value`` (ties to an even significand)."""
    guess = np.float32(float(value))
    candidates = {guess, np.nextafter(guess, np.float32(np.inf)),
                  np.nextafter(guess, np.float32(-np.inf))}
    distance = lambda c: abs(Fraction(float(c)) - value)
    closest = min(distance(c) for c in candidates)
    ties = [c for c in candidates if distance(c) == closest]
    return min(ties, key=lambda c: int(np.float32(c).view(np.int32)) & 1)


@pytest.mark.parametrize("element", ELEMENTS, ids=lambda f: f.label)
def test_the_table_quantizer_is_the_formats_own(element):
    rng = np.random.default_rng(element.n)
    values = element.decode(element.codes())
    values = np.unique(values[np.isfinite(values)])
    midpoints = (values[1:] + values[:-1]) / 2
    x = np.concatenate([
        rng.normal(0, element.maxpos, 50_000),
        np.ldexp(rng.normal(0, 1, 50_000), rng.integers(-30, 30, 50_000)),
        values, midpoints, np.nextafter(midpoints, np.inf), np.nextafter(midpoints, -np.inf),
        [0.0, -0.0, np.inf, -np.inf, 1e-300, 1e300, element.maxpos * 4]])
    x = np.concatenate([x, -x])
    np.testing.assert_array_equal(table_quantize(element, x), element.quantize(x))


@settings(max_examples=300, deadline=None)
@given(st.integers(-(1 << 62), 1 << 62), st.integers(-140, 60))
def test_round_to_fp32_is_the_nearest_fp32(integer, exponent):
    got = round_to_fp32(np.array([integer]), np.array([exponent]))[0]
    assert got == _fp32_nearest(Fraction(integer) * Fraction(2) ** exponent)


def test_round_to_fp32_breaks_ties_to_even():
    # 2**24 + 1 and 2**24 + 3 lie halfway between FP32 neighbours.
    got = round_to_fp32(np.array([(1 << 24) + 1, (1 << 24) + 3, -((1 << 24) + 1)]),
                        np.zeros(3, np.int64))
    np.testing.assert_array_equal(got, np.float32([1 << 24, (1 << 24) + 4, -(1 << 24)]))


def _reference_product(a, w, bias):
    """The exact block dot product (golden.mx.matmul) plus the bias, rounded once."""
    acc = matmul(a, w)
    return np.array([[_fp32_nearest(Fraction(int(v)) * Fraction(2) ** acc.exponent
                                    + Fraction(float(b))) for v, b in zip(row, bias)]
                     for row in acc.values], dtype=np.float32)


@pytest.mark.parametrize("element", [mxint(8), FP(8, 4, 0), FP(4, 2, 0), Posit(8, 1, 0),
                                     FP(8, 5, 0)], ids=lambda f: f.label)
@pytest.mark.parametrize("spread", [0, 12, 70], ids=lambda s: f"spread{s}")
def test_block_products_are_exact_sums_rounded_once(element, spread):
    """Narrow spreads take one float64 product, wide ones the int64 blocks, the widest
    Python integers: all three agree with the exact reference."""
    rng = np.random.default_rng(spread + element.n)
    mx = MX(element, block=4)
    K = 10
    a_values = rng.normal(0, 1, (6, K)) * np.ldexp(1.0, rng.integers(0, spread + 1, (6, K)))
    a_values[0] = 0  # a row of zeros: the bias alone
    a_values[1, :4] = 0  # an all-zero block
    a = mx.quantize(a_values, axis=1)
    w = mx.quantize(rng.normal(0, 1, (K, 3)) * np.ldexp(1.0, rng.integers(-4, 4, (K, 3))),
                    axis=0, spread=15)
    bias = np.float32(rng.normal(0, 1, 3))
    np.testing.assert_array_equal(block_product(a, w, bias), _reference_product(a, w, bias))


@pytest.mark.parametrize("element", [mxint(8), FP(8, 4, 0), FP(4, 2, 0), Posit(8, 1, 0),
                                     FP(8, 5, 0)], ids=lambda f: f.label)
@pytest.mark.parametrize("spread", [0, 12, 70], ids=lambda s: f"spread{s}")
def test_rows_quantized_without_codes_give_the_same_exact_products(element, spread):
    """The networks' path: rows block-quantized to values (no codes), proven exact from
    their block exponents, else from their values, else by the integer path."""
    rng = np.random.default_rng(spread + element.n + 1)
    mx = MX(element, block=4)
    K = 10
    x = rng.normal(0, 1, (8, K)) * np.ldexp(1.0, rng.integers(0, spread + 1, (8, K)))
    x[0] = 0
    x[1, :4] = 0
    w = mx.quantize(rng.normal(0, 1, (K, 3)) * np.ldexp(1.0, rng.integers(-4, 4, (K, 3))),
                    axis=0, spread=15)
    bias = np.float32(rng.normal(0, 1, 3))
    np.testing.assert_array_equal(_quantized_product(mx, x, _Weights(w, bias)),
                                  _reference_product(mx.quantize(x, axis=1), w, bias))


@pytest.mark.parametrize("element", ELEMENTS, ids=lambda f: f.label)
def test_the_bounds_from_block_exponents_contain_the_values_bounds(element):
    """A row's exponent bounds from its block exponents alone are never inside the bounds
    its values give: values below 2**high, lowest set bits at 2**low or above."""
    rng = np.random.default_rng(element.n)
    mx = MX(element, block=8)
    x = rng.normal(0, 1, (400, 40)) * np.ldexp(1.0, rng.integers(-30, 30, (400, 40)))
    x[rng.random(x.shape) < 0.3] = 0
    x[:50, :8] = 0
    decoded = mx.quantize_decoded(x, axis=1)
    high, low, nonzero = _block_span(element, decoded.exponents, decoded.nonzero)
    values = np.abs(decoded.values)
    held = values.max(axis=1) > 0
    assert (high[held] > np.frexp(values.max(axis=1)[held])[1] - 1).all()
    significand = np.ldexp(np.frexp(values)[0], 53).astype(np.int64)
    lowest = np.frexp(values)[1] - 53 + np.frexp((significand & -significand)
                                                  .astype(np.float64))[1] - 1
    assert (low[held] <= np.where(values > 0, lowest, 10**6).min(axis=1)[held]).all()
    assert (nonzero >= held).all()


def test_a_sum_that_cancels_past_float64_stays_exact():
    """2**60 + 1 - 2**60 is 1; float64 would say 0."""
    mx = MX(mxint(8), block=4)
    a = mx.quantize(np.array([[2.0 ** 60, 0, 0, 0, 1, 0, 0, 0, -(2.0 ** 60), 0, 0, 0]]), axis=1)
    w = mx.quantize(np.ones((12, 1)), axis=0)
    bias = np.float32([0.5])
    assert block_product(a, w, bias)[0, 0] == np.float32(1.5)
    np.testing.assert_array_equal(block_product(a, w, bias), _reference_product(a, w, bias))


def test_block_product_checks_its_operands():
    mx = MX(mxint(8), block=4)
    a = mx.quantize(np.ones((2, 8)), axis=1)
    with pytest.raises(ValueError, match="block sizes differ"):
        block_product(a, MX(mxint(8), block=8).quantize(np.ones((8, 2)), axis=0))
    with pytest.raises(ValueError, match=r"shapes do not fit \(M, K\) @ \(K, N\)"):
        block_product(a, mx.quantize(np.ones((6, 2)), axis=0))
    with pytest.raises(TypeError, match="two golden.mx.BlockTensor"):
        block_product(a, np.ones((8, 2)))


def _reference_logits(q, x):
    """A full-MX network by the spec's steps, every product by golden.mx.matmul and exact
    Fractions (slow)."""
    values = {"input": np.float32(q.network.check_input(x))}
    for node in q.network.nodes:
        step, inputs = q.steps[node.name], [values[name] for name in node.inputs]
        if node.op in ("conv", "dense"):
            parts, shape = [], node["weight"].shape
            slices = (group_slices(inputs[0].shape[1], shape[0], node.attrs.get("groups", 1))
                      if node.op == "conv" else [(slice(None), slice(None))])
            for channels, columns in slices:
                if node.op == "conv":
                    rows, (oh, ow) = im2col(inputs[0][:, channels], shape[2:],
                                            stride=node["stride"], padding=node["padding"])
                else:
                    rows = inputs[0]
                a = step.a_fmt.quantize(rows.astype(np.float64), axis=1)
                parts.append(_reference_product(a, weight_blocks(step, columns),
                                                np.float32(step.bias)[columns]))
            y = np.concatenate(parts, axis=-1)
            if node.op == "conv":
                y = y.reshape(len(x), oh, ow, -1).transpose(0, 3, 1, 2)
        elif node.op == "maxpool":
            y = pool_windows(inputs[0], node["kernel"], node["stride"]).max(-1)
        elif node.op == "avgpool":
            y = np.float32(np.float64(inputs[0]).mean(axis=(2, 3), keepdims=True))
        elif node.op == "add":
            y = inputs[0] + inputs[1]
        else:
            y = inputs[0].reshape(len(x), -1)
        ceiling = relu_ceiling(node)
        if ceiling is not None:
            y = np.minimum(np.maximum(y, np.float32(0)), np.float32(ceiling))
        values[node.name] = y
    return values[q.network.output]


@pytest.mark.parametrize("scheme", FULL_MX_SCHEMES)
def test_a_full_mx_network_is_its_reference_bit_for_bit(scheme):
    network = fold(residual_net())
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (3, 1, 8, 8))
    q = quantize_network(network, scheme, 6, rng.uniform(0, 1, (16, 1, 8, 8)))
    got = q.logits(x)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, _reference_logits(q, x))
    np.testing.assert_array_equal(logits(q, x), got)


def test_full_mx_on_the_digits_convnet_and_what_it_refuses():
    from golden.models import model_path
    from golden.network import load_network

    network = fold(load_network(model_path("digits", "convnet", 0)))
    samples = calibration_samples(network, load("digits", "calibration")[0][:64])
    x, y = load("digits", "test")
    float_accuracy = np.mean(network.predict(x) == y)
    q = quantize_network(network, "fxp-mx-full", 8, samples=samples)
    assert np.mean(q.predict(x) == y) >= float_accuracy - 0.02
    assert np.mean(q.predict(x, engine="fake") == y) >= float_accuracy - 0.02
    labels = q.formats()
    assert labels["input"] == "FP32" and labels["conv0.a"] == labels["conv0.w"] == "MXINT8/k32"
    plain = quantize_network(network, "fxp-layer", 8, samples=samples).traffic()
    traffic = q.traffic()
    assert traffic["activation_bits"] == plain["activation_bits"] // 8 * 32
    assert traffic["weight_bits"] > plain["weight_bits"]  # one E8M0 scale per 32 weights
    with pytest.raises(ValueError, match="fxp-mx-full is full MX, on FP32 values"):
        q.run_integer(x[:1])
    assert q.plan() is None


def test_full_mx_schemes_are_in_the_study_and_only_there():
    from scripts.asic.inference import priced_design
    from scripts.nn.study import VARIANT_SCHEMES
    from scripts.tent import HARDWARE_SCHEMES

    assert set(FULL_MX_SCHEMES) <= set(SCHEMES)
    assert not set(FULL_MX_SCHEMES) & set(HARDWARE_SCHEMES)
    assert not any(s in FULL_MX_SCHEMES for v in VARIANT_SCHEMES.values() for s in v)
    assert priced_design({"fxp", "fxp+mx32"}, "fxp-mx-full", "fxp") is None
    assert priced_design({"fxp", "fxp+mx32"}, "fxp-mx", "fxp") == ("fxp+mx32", False)
    assert scheme_family("posit-mx-full", 8) == PositFamily(8, 1)
    assert scheme_family("fp-mx-full", 8) == FPFamily(8, 4)


def test_tent_quantize_refuses_a_full_mx_scheme_in_one_line(capsys):
    from golden.models import model_path
    from scripts.tent import main

    with pytest.raises(SystemExit) as raised:
        main(["quantize", str(model_path("digits", "convnet", 0)), "--scheme", "tfx-mx-full",
              "--n", "8", "-o", "q.npz"])
    assert raised.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "invalid choice: 'tfx-mx-full'" in error and "tfx-mx16" in error


@pytest.mark.parametrize("scheme,n", [("fxp-mx-full", 8), ("posit-mx-full", 4),
                                      ("tfx-mx-full", 5)])
def test_the_shipped_fashion_convnet_is_its_reference_bit_for_bit(scheme, n):
    from golden.models import model_path
    from golden.network import load_network

    network = fold(load_network(model_path("fashion-mnist", "convnet", 0)))
    samples = calibration_samples(network, load("fashion-mnist", "calibration")[0][:256])
    x = load("fashion-mnist", "test")[0][:2]
    q = quantize_network(network, scheme, n, samples=samples)
    np.testing.assert_array_equal(q.logits(x), _reference_logits(q, x))
