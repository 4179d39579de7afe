"""Post-training quantization of networks and the integer engine: every step against an
independent computation, the schemes' choices, and errors."""

import numpy as np
import pytest

from golden.datasets import load
from golden.family import WithUnsigned, default_is_max
from golden.models import MODELS, load_mlp
from golden.network import Network, Node, fold
from golden.conv import im2col
from golden.ptq import (FULL_MX_SCHEMES, MX_SCHEMES, SCHEMES, UNSIGNED_SCHEMES, calibration_samples,
                        quantize_network, signed_codes)
from golden.tfx import TFX
from test_golden_network import residual_net


def zero_bias(network):
    """The network with every bias zero: then the integer and the fake engine must agree."""
    nodes = [Node(n.op, n.name, n.attrs, {**n.arrays, "bias": np.zeros_like(n.arrays["bias"])})
             if "bias" in n.arrays else n for n in network.nodes]
    return Network(nodes, network.input_shape)


@pytest.mark.parametrize("scheme", ["tfx", "fxp-layer", "fxp-global"])
@pytest.mark.parametrize("n", [4, 8])
def test_integer_engine_equals_simulated_quantization_when_nothing_else_rounds(scheme, n):
    # With zero biases, unit channel scales and a 4x4 average pool (1/16 exact), the only
    # roundings left are the formats' own: the exact-integer path and the float path agree.
    net = zero_bias(fold(residual_net(seed=4)))
    rng = np.random.default_rng(5)
    calibration, x = rng.uniform(0, 1, (64, 1, 8, 8)), rng.uniform(0, 1, (32, 1, 8, 8))
    q = quantize_network(net, scheme, n, calibration, bias_correction=False)
    assert q.steps["g"].M * 16 == 2 ** q.steps["g"].shift
    np.testing.assert_array_equal(q.logits(x), q.run_fake(x))


def test_residual_addition_rounds_the_exact_sum_once():
    net = fold(residual_net(seed=6))
    rng = np.random.default_rng(7)
    q = quantize_network(net, "tfx", 5, rng.uniform(0, 1, (64, 1, 8, 8)))
    codes = q.run_integer(rng.uniform(0, 1, (16, 1, 8, 8)), keep=True)
    a, b, out = (q.format_of(name) for name in ("c3", "p1", "a1"))
    assert a != b  # two different scales meet
    exact = a.decode(codes["c3"]) + b.decode(codes["p1"])  # exact in float64 at n = 5
    np.testing.assert_array_equal(codes["a1"], out.quantize(np.maximum(exact, 0)))


def test_max_pool_on_codes_is_the_max_of_the_values():
    net = fold(residual_net(seed=8))
    rng = np.random.default_rng(9)
    for scheme in ("tfx", "fxp-channel"):
        q = quantize_network(net, scheme, 6, rng.uniform(0, 1, (32, 1, 8, 8)))
        codes = q.run_integer(rng.uniform(0, 1, (8, 1, 8, 8)), keep=True)
        fmt = q.format_of("c1")
        values = fmt.decode(codes["c1"])
        windows = values.reshape(8, 4, 4, 2, 4, 2).max(axis=(3, 5))
        np.testing.assert_array_equal(fmt.decode(codes["p1"]), windows)


def test_average_pool_divides_through_m_and_shift_with_one_rounding():
    rng = np.random.default_rng(10)
    nodes = [Node("avgpool", "g", {"input": "input"})]
    net = Network(nodes, (3, 3, 3))
    x = rng.uniform(-1, 1, (20, 3, 3, 3))
    q = quantize_network(net, "fxp-layer", 8, x)
    step = q.steps["g"]
    assert abs(step.M / 2.0 ** step.shift * 9 - 1) < 2.0 ** -15  # 1/9 with a 16-bit M
    a, out = q.input_fmt, step.out_fmt
    total = a.to_int(a.quantize(x)).sum(axis=(2, 3), keepdims=True)
    exact = total * step.M * 2.0 ** (a.int_exponent - int(step.shift))  # exact: < 2**53
    np.testing.assert_array_equal(q.run_integer(x), out.quantize(exact))


def test_schemes_choose_what_they_promise():
    net = fold(residual_net(seed=11))
    calibration = np.random.default_rng(12).uniform(0, 1, (64, 1, 8, 8))
    tfx = quantize_network(net, "tfx", 8, calibration)
    assert all(isinstance(tfx.format_of(name), TFX) and tfx.format_of(name).IS <=
               default_is_max(8) for name in ("input", "c1", "a1", "fc"))
    layer = quantize_network(net, "fxp-layer", 8, calibration)
    assert len({layer.format_of(name).F for name in ("input", "c1", "c2", "fc")}) > 1
    glob = quantize_network(net, "fxp-global", 8, calibration)
    weights = {glob.steps[name].w_fmt for name in ("c1", "c2", "c3", "fc")}
    activations = {glob.format_of(name) for name in ("input", "c1", "a1", "g", "fc")}
    assert len(weights) == 1 and len(activations) == 1 and all(f.signed for f in activations)
    channel = quantize_network(net, "fxp-channel", 8, calibration)
    assert not channel.format_of("c1").signed and not channel.format_of("input").signed
    assert channel.format_of("fc").signed and channel.steps["c1"].w_fmt.signed
    step = channel.steps["c2"]
    assert len(set(step.M.tolist())) > 1  # one scale per output channel
    # every channel uses its largest code: the scale was chosen per channel
    assert (np.abs(signed_codes(step.w_codes, step.w_fmt)).max(axis=0) >= 126).all()
    signed = quantize_network(net, "fxp-channel-signed", 8, calibration)
    assert all(signed.format_of(name).signed for name in ("input", "c1", "a1", "fc"))
    np.testing.assert_array_equal(signed.steps["c2"].M, step.M)
    tfx_channel = quantize_network(net, "tfx-channel", 8, calibration)
    step = tfx_channel.steps["c2"]
    assert isinstance(step.w_fmt, TFX) and len(set(step.M.tolist())) > 1
    # every channel's largest weight, divided by its scale, meets the tensor's largest
    peaks = np.abs(net.nodes[[n.name for n in net.nodes].index("c2")]["weight"]).reshape(
        len(step.M), -1).max(axis=1)
    np.testing.assert_allclose(peaks / step.channel_scale, peaks.max(), rtol=2.0 ** -14)


def test_bias_correction_removes_the_mean_output_shift_of_weight_quantization():
    net = fold(residual_net(seed=13))
    calibration_x = np.random.default_rng(14).uniform(0, 1, (48, 1, 8, 8))
    calibration = calibration_samples(net, calibration_x)
    floats = net.forward(calibration_x, keep=True)
    for scheme in ("tfx", "fxp-channel"):
        plain = quantize_network(net, scheme, 4, samples=calibration, bias_correction=False)
        corrected = quantize_network(net, scheme, 4, samples=calibration)
        for name in ("c2", "fc"):
            node = net.nodes[[n.name for n in net.nodes].index(name)]
            x = floats[node.inputs[0]]
            rows = (x if node.op == "dense" else
                    im2col(x, node["weight"].shape[2:], stride=node["stride"],
                           padding=node["padding"])[0])
            np.testing.assert_allclose(calibration.input_means[name], rows.mean(axis=0),
                                       atol=1e-12)
            w = node["weight"] if node.op == "dense" else node["weight"].reshape(
                len(node["bias"]), -1).T
            for q, should_vanish in ((plain, False), (corrected, True)):
                step = q.steps[name]
                w_q = step.w_fmt.decode(step.w_codes) * step.channel_scale
                shift = (rows @ w_q + step.float_bias - rows @ w - node["bias"]).mean(axis=0)
                assert (np.abs(shift).max() < 1e-9) == should_vanish, (scheme, name)
            np.testing.assert_array_equal(plain.steps[name].float_bias, node["bias"])


def test_quantized_digits_mlp_keeps_its_accuracy_at_8_bits():
    mlp = load_mlp(MODELS / "digits_mlp.npz")
    net = mlp.to_network((1, 8, 8))
    x_cal, _ = load("digits", "calibration")
    x, y = load("digits", "test")
    float_accuracy = np.mean(net.predict(x) == y)
    assert float_accuracy == np.mean(mlp.predict(x.reshape(len(x), -1)) == y)
    for scheme in SCHEMES:
        # One F for weights and activations alike costs a few points even at 8 bits; the MX
        # floor rule puts a block's largest weight at posit's maxpos, where a posit has no
        # fraction bits left (3.3 points here).
        # Full MX puts the activations there too (15 points here).
        slack = (0.05 if scheme in ("fxp-global", "posit-mx")
                 else 0.2 if scheme == "posit-mx-full" else 0.02)
        q = quantize_network(net, scheme, 8, x_cal)
        assert np.mean(q.predict(x) == y) >= float_accuracy - slack, scheme
        assert np.mean(q.predict(x, engine="fake") == y) >= float_accuracy - slack, scheme


def test_bad_arguments_are_errors():
    net = residual_net()
    x = np.zeros((4, 1, 8, 8))
    with pytest.raises(ValueError, match="quantize a folded network"):
        quantize_network(net, "tfx", 8, x)
    with pytest.raises(ValueError, match="scheme must be one of 'tfx', 'tfx-channel'"):
        quantize_network(fold(net), "posits", 8, x)
    with pytest.raises(ValueError, match="n must be an integer from 3 to 16, not 2"):
        quantize_network(fold(net), "tfx", 2, x)
    with pytest.raises(TypeError, match="bias_correction must be True or False"):
        quantize_network(fold(net), "tfx", 8, x, bias_correction="yes")
    with pytest.raises(TypeError, match="samples must be a golden.ptq.Calibration"):
        quantize_network(fold(net), "tfx", 8, samples=({}, {}))
    q = quantize_network(fold(net), "fxp-layer", 8, np.random.default_rng(0).uniform(0, 1, (8, 1, 8, 8)))
    x[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        q.predict(x)
    with pytest.raises(ValueError, match="engine must be one of"):
        q.logits(x[1:], engine="float")


def test_a_searched_scheme_picks_from_another_family_of_its_kind():
    from golden.family import FPFamily, FXPFamily, PositFamily, TFXFamily
    from golden.ptq import scheme_family, scheme_kind
    net = fold(residual_net(seed=2))
    x = np.random.default_rng(3).uniform(0, 1, (16, 1, 8, 8))
    samples = calibration_samples(net, x)
    default = quantize_network(net, "posit", 6, samples=samples)
    es0 = quantize_network(net, "posit", 6, samples=samples, family=PositFamily(6, 0))
    assert default.family == PositFamily(6, 1) and es0.family == PositFamily(6, 0)
    assert all(label.startswith("Posit(6,1,") for label in default.formats().values())
    assert all(label.startswith("Posit(6,0,") for label in es0.formats().values())
    e5 = quantize_network(net, "fp-channel", 8, samples=samples, family=FPFamily(8, 5))
    assert all(label.startswith("FP(8,5,") for label in e5.formats().values())
    assert e5.limits == FPFamily(8, 5).default_limits()
    assert not np.array_equal(es0.logits(x[:4]), default.logits(x[:4]))
    # The default family, given, is the same as none, for every scheme.
    assert scheme_family("fxp-layer", 8, FXPFamily(8)) == FXPFamily(8)
    assert scheme_kind("posit-channel") == "posit" and scheme_kind("fxp-global") == "fxp"
    with pytest.raises(ValueError, match="scheme fxp-layer picks formats of FXP8 only "
                                         r"\(another family: tfx, .*\), not UFXP8"):
        scheme_family("fxp-layer", 8, FXPFamily(8, signed=False))
    with pytest.raises(ValueError, match="scheme posit at n = 8 picks formats of a posit "
                                         "family of width 8, not FP8/E5"):
        quantize_network(net, "posit", 8, samples=samples, family=FPFamily(8, 5))
    with pytest.raises(ValueError, match="picks formats of a tfx family of width 6, not TFX8"):
        scheme_family("tfx", 6, TFXFamily(8, 3))
    with pytest.raises(TypeError, match="family must be a golden.family.Family, not 'fp:8,5'"):
        scheme_family("fp", 8, "fp:8,5")


@pytest.mark.parametrize("scheme", ["tfx-channel-unsigned", "posit-channel-unsigned",
                                    "fp-channel-unsigned"])
def test_unsigned_schemes_give_nonnegative_activations_the_unsigned_variant(scheme, tmp_path):
    from golden.family import default_family
    from golden.ptq import unsigned_choice
    from golden.quantized_io import load_quantized, save_quantized
    from golden.unsigned import Unsigned
    from golden.layers import choose_format
    from hdl.network_runner import check_runnable

    network = fold(residual_net(np.random.default_rng(5)))
    calibration = np.random.default_rng(6).uniform(0, 1, (24, 1, 8, 8))
    samples = calibration_samples(network, calibration)
    signed_scheme = scheme.removesuffix("-unsigned")
    q = quantize_network(network, scheme, 6, samples=samples)
    reference = quantize_network(network, signed_scheme, 6, samples=samples)
    family = default_family(scheme.split("-")[0], 6)
    assert set(samples.nonnegative.values()) == {True, False}  # both kinds of tensor
    for name in samples.samples:  # every quantization point
        fmt, nonnegative = q.format_of(name), samples.nonnegative[name]
        assert isinstance(fmt, Unsigned) == nonnegative, name
        if nonnegative:  # the wider member the search picks, without its sign bit
            assert fmt.parent == choose_format(samples.samples[name], family.unsigned_parent())
            assert fmt == unsigned_choice(samples.samples[name], family)
        else:
            assert fmt == reference.format_of(name)
    for name, step in q.steps.items():  # weights keep the signed scheme's formats and codes
        if step.w_fmt is not None:
            assert step.w_fmt == reference.steps[name].w_fmt
            np.testing.assert_array_equal(step.w_codes, reference.steps[name].w_codes)
    x = np.random.default_rng(7).uniform(0, 1, (30, 1, 8, 8))
    np.testing.assert_array_equal(q.plan().codes(x), q.run_integer(x))
    save_quantized(tmp_path / "q.npz", q)
    np.testing.assert_array_equal(load_quantized(tmp_path / "q.npz").run_integer(x),
                                  q.run_integer(x))
    with pytest.raises(ValueError, match=f"the accelerator cannot run {scheme} .*is not a "
                                         f"member"):
        check_runnable(q, q.family)
    # The build with the unsigned variants runs it.
    assert q.hardware_family == WithUnsigned(q.family)
    check_runnable(q, q.hardware_family)


@pytest.mark.parametrize("scheme", ["tfx-mx", "tfx-mx16", "fxp-mx", "fxp-mx16", "posit-mx",
                                    "fp-mx"])
def test_w_mx_schemes_block_scale_the_weights_along_K(scheme, tmp_path):
    from golden.layers import run_layer
    from golden.ptq import MX_SPREAD, _matrix, clip_codes, mx_format
    from golden.quantized_io import load_quantized, save_quantized
    from hdl.network_runner import check_runnable

    network = fold(residual_net(np.random.default_rng(8)))
    samples = calibration_samples(network, np.random.default_rng(9).uniform(0, 1, (24, 1, 8, 8)))
    q = quantize_network(network, scheme, 6, samples=samples)
    mx = mx_format(scheme, q.family)
    assert mx.block == (16 if scheme.endswith("16") else 32) and mx.rule == "floor"
    scale_bits = 0
    for node in network.nodes:
        if node.op not in ("conv", "dense"):
            continue
        step = q.steps[node.name]
        blocks = mx.quantize(_matrix(node), axis=0, spread=MX_SPREAD)
        np.testing.assert_array_equal(step.w_codes, blocks.codes)
        np.testing.assert_array_equal(step.w_values, blocks.decode())
        assert step.w_fmt == mx.element and 0 <= step.w_shift.min()
        assert step.w_shift.max() <= MX_SPREAD
        assert step.w_block_exponent == blocks.exponents.min()
        assert (step.M == 1).all() and (step.shift == 0).all()
        scale_bits += blocks.exponents.size * 8
    assert q.traffic()["weight_bits"] == (
        quantize_network(network, "tfx", 6, samples=samples).traffic()["weight_bits"]
        + scale_bits)
    x = np.random.default_rng(10).uniform(0, 1, (30, 1, 8, 8))
    np.testing.assert_array_equal(q.plan().codes(x), q.run_integer(x))
    save_quantized(tmp_path / "q.npz", q)
    loaded = load_quantized(tmp_path / "q.npz")
    np.testing.assert_array_equal(loaded.run_integer(x), q.run_integer(x))
    # The accelerator's layers: the smallest block exponent in w_fmt's scale, the rest in
    # w_shift; their exact products are the integer engine's (run_layer on codes).
    check_runnable(q, q.family)
    assert q.mx_block == mx.block
    codes = q.run_integer(x, keep=True)
    for name, step in q.steps.items():
        if step.w_fmt is not None and step.node.op == "dense":
            layer = step.layer(q.family, q.limits)
            assert layer.w_fmt.int_exponent == step.w_exponent
            np.testing.assert_array_equal(layer.w_shift, step.w_shift)
            out, _ = run_layer(codes[step.node.inputs[0]], step.w_codes, layer, limits=q.limits)
            np.testing.assert_array_equal(clip_codes(out, step.out_fmt, None), codes[name])


def test_w_mx_accumulators_are_the_exact_block_dot_products():
    from fractions import Fraction

    from golden.arith import matmul
    from golden.ptq import MX_SPREAD, mx_format
    from golden.family import default_family
    from golden.mx import matmul as mx_matmul

    rng = np.random.default_rng(12)
    w = rng.normal(0, 1, (40, 3)) * np.ldexp(1.0, rng.integers(-6, 6, (40, 3)))
    blocks = mx_format("tfx-mx", default_family("tfx", 6)).quantize(w, axis=0, spread=MX_SPREAD)
    low = int(blocks.exponents.min())
    a_fmt = TFX(6, 3, 0)
    a = a_fmt.quantize(rng.normal(0, 2, (4, 40)))
    shift = blocks.block_exponent_per_element() - low
    acc = matmul(a, a_fmt, blocks.codes, blocks.mx.element, w_shift=shift)
    reference = mx_matmul((a, a_fmt), blocks)
    assert [[Fraction(int(v)) * Fraction(2) ** (acc.exponent + low) for v in row]
            for row in acc.values] == [[Fraction(int(v)) * Fraction(2) ** reference.exponent
                                        for v in row] for row in reference.values]


def test_a_narrower_spread_bounds_every_layers_block_shifts():
    from hdl.network_runner import check_fits, largest_K

    network = fold(residual_net(np.random.default_rng(8)))
    samples = calibration_samples(network, np.random.default_rng(9).uniform(0, 1, (24, 1, 8, 8)))
    wide = quantize_network(network, "fxp-mx16", 6, samples=samples)
    narrow = quantize_network(network, "fxp-mx16", 6, samples=samples, mx_spread=2)
    assert wide.block_spread > 2 >= narrow.block_spread  # the smallest blocks were raised
    K = largest_K(network)
    check_fits(narrow, narrow.family, narrow.limits, K, mx_block=16, rows=4, mx_spread=2)
    with pytest.raises(ValueError, match=f"fxp-mx16's block shifts reach {wide.block_spread}; "
                                         f"the device shifts by at most 2"):
        check_fits(wide, wide.family, wide.limits, K, mx_block=16, rows=4, mx_spread=2)
    with pytest.raises(ValueError, match="mx_spread must be an integer from 1 to 15, not 0"):
        quantize_network(network, "fxp-mx16", 6, samples=samples, mx_spread=0)


def test_the_accelerator_runs_every_scheme():
    """Issue 35's goal: no scheme of the study is refused by the hardware (the family with
    its unsigned variants where a tensor is unsigned, block shifters for W-MX)."""
    from golden.models import model_path
    from golden.network import load_network
    from hdl.network_runner import check_runnable

    network = fold(load_network(model_path("digits", "convnet", 0)))
    samples = calibration_samples(network, load("digits", "calibration")[0][:64])
    for scheme in SCHEMES:
        q = quantize_network(network, scheme, 6, samples=samples)
        if scheme in FULL_MX_SCHEMES:  # golden model only, and said so
            with pytest.raises(ValueError, match=f"cannot run {scheme}: full MX"):
                check_runnable(q, q.hardware_family)
            continue
        check_runnable(q, q.hardware_family)
        assert (q.hardware_family != q.family) == (scheme in UNSIGNED_SCHEMES)
        assert (q.mx_block is not None) == (scheme in MX_SCHEMES)
        assert q.mx_block is None or q.mx_block % 4 == 0  # a 4-row array runs it
