"""The fast engine (golden.engine) against the reference integer engine: identical codes on
trained networks of every architecture, every scheme and width; its im2col; its fallback."""

from dataclasses import replace

import numpy as np
import pytest

from golden.arith import ScalingLimits
from golden.conv import im2col
from golden.datasets import load
from golden.engine import compile_plan, im2col_nhwc
from golden.models import MODELS, load_mlp, model_path
from golden.network import fold, load_network
from golden.ptq import SCHEMES, calibration_samples, quantize_network


def _networks():
    yield "mlp", fold(load_mlp(MODELS / "digits_mlp.npz").to_network((1, 8, 8)))
    for model in ("convnet", "resnet"):
        yield model, fold(load_network(model_path("digits", model, 0)))


@pytest.mark.parametrize("name,network", list(_networks()), ids=lambda v: v if
                         isinstance(v, str) else "")
def test_fast_engine_gives_the_reference_codes_for_every_scheme_and_width(name, network):
    samples = calibration_samples(network, load("digits", "calibration")[0])
    x = load("digits", "test")[0][:120]
    for scheme in SCHEMES:
        for n in range(3, 9):
            q = quantize_network(network, scheme, n, samples=samples)
            plan = compile_plan(q)
            assert plan is not None, (scheme, n)
            np.testing.assert_array_equal(plan.codes(x, batch=50), q.run_integer(x),
                                          err_msg=f"{name} {scheme} n={n}")


def test_fast_engine_on_a_28x28_convnet_slice():
    network = fold(load_network(model_path("fashion-mnist", "convnet", 0)))
    samples = calibration_samples(network, load("fashion-mnist", "calibration")[0][:500])
    x = load("fashion-mnist", "test")[0][:60]
    for scheme in ("tfx", "fxp-channel"):
        q = quantize_network(network, scheme, 5, samples=samples)
        np.testing.assert_array_equal(compile_plan(q).codes(x), q.run_integer(x))
        np.testing.assert_array_equal(q.logits(x), q.logits(x, fast=False))


def test_fast_fake_engine_is_simulated_quantization():
    network = fold(load_network(model_path("digits", "resnet", 0)))
    q = quantize_network(network, "tfx", 6, load("digits", "calibration")[0])
    x = load("digits", "test")[0][:64]
    np.testing.assert_allclose(q.logits(x, engine="fake"), q.run_fake(x), rtol=0, atol=1e-12)


@pytest.mark.parametrize("stride,padding", [(1, 0), (1, 1), (2, 1), (2, 0)])
def test_channels_last_im2col_is_the_reference_im2col_with_its_columns_permuted(stride,
                                                                                padding):
    rng = np.random.default_rng(stride * 10 + padding)
    x = rng.integers(-50, 50, (3, 4, 7, 6)).astype(np.float64)
    reference, size = im2col(x, (3, 2), stride=stride, padding=padding)
    fast, fast_size = im2col_nhwc(x.transpose(0, 2, 3, 1), (3, 2), stride, padding)
    assert size == fast_size
    # reference columns (c, ky, kx); fast (ky, kx, c)
    permuted = reference.reshape(-1, 4, 3, 2).transpose(0, 2, 3, 1).reshape(len(reference), -1)
    np.testing.assert_array_equal(fast, permuted)


def test_a_network_beyond_float64s_exact_integers_runs_on_the_reference():
    network = fold(load_mlp(MODELS / "digits_mlp.npz").to_network((1, 8, 8)))
    q = quantize_network(network, "tfx", 16, load("digits", "calibration")[0],
                         limits=ScalingLimits(bias_bits=64))
    assert compile_plan(q) is not None  # |ACC| < 2**41 here
    step = q.steps["fc0"]
    # M = 2**15 makes |ACC * M| reach past 2**53: exact only in integers.
    q.steps["fc0"] = replace(step, M=np.full_like(step.M, 1 << 15),
                             shift=np.full_like(step.shift, 15))
    assert compile_plan(q) is None
    x = load("digits", "test")[0][:20]
    np.testing.assert_array_equal(q.logits(x), q.logits(x, fast=False))
    with pytest.raises(ValueError, match="mode must be"):
        compile_plan(q, "float")
