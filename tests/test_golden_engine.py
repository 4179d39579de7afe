"""The fast engine (golden.engine) against the reference integer engine: identical codes on
trained networks of every architecture, every scheme and width, its wide steps included; its
im2col; what it leaves to the reference."""

from dataclasses import replace

import numpy as np
import pytest

from golden.arith import ScalingLimits
from golden.conv import im2col
from golden.datasets import load
from golden.engine import compile_plan, im2col_nhwc
from golden.family import FPFamily, PositFamily
from golden.models import MODELS, load_mlp, model_path
from golden.network import fold, load_network
from golden.ptq import FULL_MX_SCHEMES, SCHEMES, calibration_samples, quantize_network


def _networks():
    yield "mlp", fold(load_mlp(MODELS / "digits_mlp.npz").to_network((1, 8, 8)))
    for model in ("convnet", "resnet"):
        yield model, fold(load_network(model_path("digits", model, 0)))


@pytest.mark.parametrize("name,network", [
    pytest.param(name, network, marks=[pytest.mark.slow] if name == "resnet" else [])
    for name, network in _networks()], ids=lambda v: v if isinstance(v, str) else "")
def test_fast_engine_gives_the_reference_codes_for_every_scheme_and_width(name, network):
    samples = calibration_samples(network, load("digits", "calibration")[0])
    x = load("digits", "test")[0][:120]
    seen = set()
    for scheme in SCHEMES:
        if scheme in FULL_MX_SCHEMES:  # FP32 between products: no codes (test_golden_fullmx)
            continue
        for n in range(3, 9):
            q = quantize_network(network, scheme, n, samples=samples)
            plan = compile_plan(q)
            seen |= set(plan.precisions().values())
            np.testing.assert_array_equal(plan.codes(x, batch=50), q.run_integer(x),
                                          err_msg=f"{name} {scheme} n={n}")
    # Posit and minifloat sums at n = 8 pass 2**53 units (their unit is minpos squared).
    assert "wide" in seen


@pytest.mark.parametrize("margin", [None, 1.0], ids=["rounded-in-float", "every-one-exact"])
@pytest.mark.parametrize("model", ["convnet", "resnet"])
def test_wide_steps_give_the_reference_codes_in_every_format_that_needs_them(
        model, margin, monkeypatch):
    """FP8 E5M2 (products up to 2**67 units), posit and E4M3 at n = 8: split-operand
    products; with ``margin`` 1.0 no float64 rounding is trusted and every element is summed
    and rounded in int64 digits."""
    import golden.engine as engine

    if margin is not None:
        monkeypatch.setattr(engine, "_ROUNDING_MARGIN", margin)
    network = fold(load_network(model_path("digits", model, 0)))
    samples = calibration_samples(network, load("digits", "calibration")[0])
    x = load("digits", "test")[0][:40]
    for scheme, family in (("fp-channel", FPFamily(8, 5)), ("fp", FPFamily(8, 5)),
                           ("posit-channel", None), ("fp-channel", None)):
        q = quantize_network(network, scheme, 8, samples=samples, family=family)
        plan = compile_plan(q)
        assert "wide" in plan.precisions().values()
        np.testing.assert_array_equal(plan.codes(x), q.run_integer(x),
                                      err_msg=f"{model} {scheme} {family}")


def test_fast_engine_on_a_28x28_convnet_slice():
    network = fold(load_network(model_path("fashion-mnist", "convnet", 0)))
    samples = calibration_samples(network, load("fashion-mnist", "calibration")[0][:500])
    x = load("fashion-mnist", "test")[0][:60]
    precisions = set()
    for scheme, n in (("tfx", 5), ("fxp-channel", 5), ("tfx-channel", 8), ("tfx", 8)):
        q = quantize_network(network, scheme, n, samples=samples)
        plan = compile_plan(q)
        precisions |= set(plan.precisions().values())
        np.testing.assert_array_equal(plan.codes(x), q.run_integer(x), err_msg=f"{scheme} {n}")
        np.testing.assert_array_equal(q.logits(x), q.logits(x, fast=False))
    assert precisions == {"float32", "float64"}  # both kinds of product are checked


def test_float32_products_only_where_the_bound_proves_them_exact(monkeypatch):
    import golden.engine as engine

    network = fold(load_network(model_path("fashion-mnist", "convnet", 0)))
    samples = calibration_samples(network, load("fashion-mnist", "calibration")[0][:300])
    rng = np.random.default_rng(3)

    def product(q, name, single_limit):
        """The precision chosen for node ``name`` and its scaled sums on random codes."""
        monkeypatch.setattr(engine, "_EXACT_SINGLE", single_limit)
        step = next(s for s in compile_plan(q).steps if s.node.name == name)
        fmt = q.format_of(step.node.inputs[0])
        C, H, W = network.shapes[step.node.inputs[0]]
        codes = rng.choice(fmt.codes(), (4, H, W, C))
        return step.precision, step.run.scaled([fmt.decode(codes)])

    seen = set()
    for n in (5, 8):
        q = quantize_network(network, "tfx", n, samples=samples)
        for name in (node.name for node in network.nodes if node.op == "conv"):
            state = rng.bit_generator.state
            chosen, sums = product(q, name, 2.0 ** 24)
            rng.bit_generator.state = state  # the same random codes again
            seen.add(chosen)
            if chosen == "float32":
                forced, exact = product(q, name, 0.0)  # float64 everywhere
                assert (chosen, forced) == ("float32", "float64")
                np.testing.assert_array_equal(sums, exact)
            else:
                forced, rounded = product(q, name, 2.0 ** 60)  # float32 everywhere
                assert (chosen, forced) == ("float64", "float32")
                assert not np.array_equal(rounded, sums), name  # float32 would round them
    assert seen == {"float32", "float64"}


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


def test_a_step_beyond_float64s_exact_integers_runs_wide_and_wide_formats_on_the_reference():
    network = fold(load_mlp(MODELS / "digits_mlp.npz").to_network((1, 8, 8)))
    q = quantize_network(network, "tfx", 16, load("digits", "calibration")[0],
                         limits=ScalingLimits(bias_bits=64))
    assert compile_plan(q).precisions()["fc0"] == "float64"  # |ACC| < 2**41 here
    step = q.steps["fc0"]
    # M = 2**15 makes |ACC * M| reach past 2**53: exact only in digits.
    q.steps["fc0"] = replace(step, M=np.full_like(step.M, 1 << 15),
                             shift=np.full_like(step.shift, 15))
    assert compile_plan(q).precisions()["fc0"] == "wide"
    x = load("digits", "test")[0][:20]
    np.testing.assert_array_equal(q.logits(x), q.logits(x, fast=False))
    with pytest.raises(ValueError, match="mode must be"):
        compile_plan(q, "float")
    # Operands past int64 (posit(12, 2): |X| up to 2**87) have no fast plan.
    wide = quantize_network(network, "posit", 12, load("digits", "calibration")[0],
                            family=PositFamily(12, 2), limits=ScalingLimits(bias_bits=128))
    assert compile_plan(wide) is None
    np.testing.assert_array_equal(wide.logits(x[:3]), wide.logits(x[:3], fast=False))


def test_the_engine_benchmark_times_wide_cases_and_checks_their_codes():
    from scripts.bench.engine import markdown, run_engine_benchmark

    record = run_engine_benchmark(dataset="digits", models=("convnet",),
                                  cases=(("tfx", 6, None), ("fp-channel", 8, "fp:8,5"),
                                         ("fxp-mx-full", 4, None)),
                                  images=100, reference_images=20, repeats=1)
    narrow, wide, full_mx = record["rows"]
    assert narrow["wide_products"] == 0 and wide["wide_products"] == wide["products"] == 3
    assert full_mx["reference_s"] is None and full_mx["fast_s"] > 0
    text = markdown(record)
    assert "| convnet | fp-channel | 8 | fp:8,5 |" in text
    assert "| convnet | fxp-mx-full | 4 | default |" in text and "| full MX |" in text
