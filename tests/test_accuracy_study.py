"""The accuracy study's bookkeeping and one real evaluation; the training exporter when
PyTorch is installed (it is an optional extra)."""

import json

import numpy as np
import pytest

from golden.models import MODELS, load_mlp
from golden.network import fold, load_network, save_network
from golden.datasets import load
from golden.ptq import FULL_MX_SCHEMES, MX_SCHEMES, quantize_network
from golden.family import FPFamily, PositFamily
from scripts.nn.study import (evaluate, markdown, run_name, run_study, study_runs, summarise,
                              verdict, width_row)


def test_summary_and_verdicts():
    s = summarise([0.90, 0.92, 0.94])
    assert s["mean"] == pytest.approx(0.92) and s["std"] == pytest.approx(0.02)
    assert summarise([0.5])["std"] == 0.0
    base = {"mean": 0.90, "std": 0.01}
    assert verdict({"mean": 0.92, "std": 0.005}, base) == "win"
    assert verdict({"mean": 0.905, "std": 0.005}, base) == "tie"
    assert verdict({"mean": 0.88, "std": 0.001}, base) == "loss"
    assert verdict({"mean": 0.9015, "std": 0.0}, {"mean": 0.90, "std": 0.0}) == "tie"


def test_one_model_is_evaluated_and_cached(tmp_path):
    path = tmp_path / "digits-mlp-s0.npz"
    save_network(path, load_mlp(MODELS / "digits_mlp.npz").to_network((1, 8, 8)))
    lines = []
    results = evaluate(path, "digits", [4, 8], ["tfx", "fxp-global"], 0, lines.append,
                       cache=tmp_path / "cache")
    assert results["float"] > 0.95 and len(lines) == 4 and all(lines)
    assert results["tfx/8"]["traffic"] == {"macs": 64 * 32 + 32 * 10,
                                           "weight_bits": 8 * (64 * 32 + 32 * 10),
                                           "bias_bits": 32 * 42,
                                           "activation_bits": 8 * 2 * (64 + 32 + 10) - 8 * 10}
    assert results["tfx/8"]["integer"] > 0.95
    assert results["tfx/8"]["formats"]["input"].startswith("TFX(8")
    # what the integer engine gives, recomputed here
    x, y = load("digits", "test")
    q = quantize_network(fold(load_network(path)), "fxp-global", 4, load("digits", "calibration")[0])
    assert results["fxp-global/4"]["integer"] == np.mean(q.predict(x) == y)
    lines.clear()
    again = evaluate(path, "digits", [4, 8], ["tfx", "fxp-global"], 0, lines.append,
                     cache=tmp_path / "cache")
    assert again == json.loads(json.dumps(results)) and lines == [None] * 4  # cached
    fake = evaluate(path, "digits", [4], ["tfx"], 0, lines.append, cache=tmp_path / "cache",
                    fake=True)
    assert 0.5 < fake["tfx/4"]["fake"] <= 1
    uncorrected = evaluate(path, "digits", [4], ["tfx"], 0, lines.append,
                           cache=tmp_path / "cache", bias_correction=False)
    q = quantize_network(fold(load_network(path)), "tfx", 4, load("digits", "calibration")[0],
                         bias_correction=False)
    assert uncorrected["tfx/4"]["integer"] == np.mean(q.predict(x) == y)


def test_the_other_exponent_sizes_are_evaluated_beside_the_defaults(tmp_path):
    assert study_runs([6, 8], ["tfx", "fp"]) == [
        ("tfx", 6, None), ("fp", 6, None), ("tfx", 8, None), ("fp", 8, None),
        *[("fp", n, f) for n, f in ((6, FPFamily(6, 3)), (8, FPFamily(8, 5)))]]
    assert study_runs([6], ["fxp-layer"]) == [("fxp-layer", 6, None)]
    assert len(study_runs([4, 5, 6, 8], ["posit", "posit-channel", "fp", "fp-channel"])) \
        == 16 + 2 * 4 + 2 * 2
    assert study_runs([4], ["posit"], variants=False) == [("posit", 4, None)]
    path = tmp_path / "digits-mlp-s0.npz"
    save_network(path, load_mlp(MODELS / "digits_mlp.npz").to_network((1, 8, 8)))
    lines = []
    results = evaluate(path, "digits", [4], ["posit"], 0, lines.append, cache=tmp_path / "cache")
    assert len(lines) == 2 and "Posit4/es0" in lines[1]
    name = run_name("posit", 4, PositFamily(4, 0))
    assert name == "posit/4/posit:4,0" and set(results) == {"float", "posit/4", name}
    assert results[name]["formats"]["input"].startswith("Posit(4,0,")
    x, y = load("digits", "test")
    q = quantize_network(fold(load_network(path)), "posit", 4, load("digits", "calibration")[0],
                         family=PositFamily(4, 0))
    assert results[name]["integer"] == np.mean(q.predict(x) == y)
    assert results[name]["integer"] != results["posit/4"]["integer"]


def test_rows_verdicts_and_markdown():
    means = {"tfx": 0.9, "tfx-channel": 0.93, "tfx-channel-unsigned": 0.85,
             "fxp-channel": 0.95, "fxp-channel-signed": 0.92, "fxp-layer": 0.8,
             "fxp-global": 0.5, "posit": 0.91, "posit-channel": 0.92,
             "posit-channel-unsigned": 0.86, "fp": 0.94, "fp-channel": 0.96,
             "fp-channel-unsigned": 0.87, **dict.fromkeys(MX_SCHEMES + FULL_MX_SCHEMES, 0.6)}
    runs = [{f"{s}/4": {"integer": m + d} for s, m in means.items()} for d in (-0.001, 0.001)]
    row = width_row(runs, 4, fake=False, variants=False)
    assert row["verdicts"]["tfx-channel"] == {"fxp-channel": "loss", "fxp-channel-signed": "win",
                                              "fxp-layer": "win", "fxp-global": "win",
                                              "fxp-mx": "win", "fxp-mx16": "win",
                                              "fxp-mx-full": "win"}
    assert row["verdicts"]["tfx"]["fxp-channel-signed"] == "loss"
    assert row["best"] == {"tfx": "tfx-channel", "fxp": "fxp-channel", "verdict": "loss",
                           "posit": "posit-channel", "verdict_posit": "win",
                           "fp": "fp-channel", "verdict_fp": "loss"}
    record = {"headline": "fashion-mnist", "missing": ["mnist-resnet-s2.npz"], "models": [
        {"dataset": "fashion-mnist", "model": "convnet", "seeds": [0, 1],
         "test_images": 10000, "float": {"mean": 0.91, "std": 0.002}, "widths": [4],
         "by_width": {"4": row}}]}
    text = markdown(record)
    mx = "60.0 ± 0.1"
    assert (f"| 4 | 90.0 ± 0.1 | 93.0 ± 0.1 | 85.0 ± 0.1 | {mx} | {mx} | {mx} | 95.0 ± 0.1 "
            f"| 92.0 ± 0.1 | 80.0 ± 0.1 | 50.0 ± 0.1 | {mx} | {mx} | {mx} | 91.0 ± 0.1 "
            f"| 92.0 ± 0.1 | 86.0 ± 0.1 | {mx} | {mx} | 94.0 ± 0.1 | 96.0 ± 0.1 | 87.0 ± 0.1 "
            f"| {mx} | {mx} "
            "| loss, win, win, win, win, win, win | loss (tfx-channel vs fxp-channel) "
            "| win (posit-channel) "
            "| loss (fp-channel) |") in text
    assert "**fashion-mnist**" in text and "mnist-resnet-s2.npz" in text
    assert "10000 test images" in text


@pytest.mark.train
@pytest.mark.parametrize("model", ["convnet", "resnet"])
def test_exported_networks_compute_what_pytorch_computes(model):
    import torch
    from scripts.nn.training import build, export
    torch.manual_seed(0)
    module = build(model, (1, 28, 28))
    for m in module.modules():  # non-trivial batch-norm statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    module.eval()
    x = np.random.default_rng(0).uniform(0, 1, (4, 1, 28, 28)).astype(np.float32)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).double().numpy()
    network = export(module, model, (1, 28, 28), {})
    np.testing.assert_allclose(network.forward(x), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(fold(network).forward(x), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.train
@pytest.mark.parametrize("name", ["digits-convnet-s0", "digits-resnet-s0"])
def test_shipped_networks_load_back_into_their_pytorch_modules(name):
    """load_weights is export's inverse (what make onnx-models exports from)."""
    from golden.models import MODELS
    from golden.network import load_network
    from scripts.nn.training import export, load_weights
    network = load_network(MODELS / f"{name}.npz")
    again = export(load_weights(network), network.info["model"], network.input_shape,
                   network.info)
    assert [(n.op, n.name, n.attrs) for n in again.nodes] == [
        (n.op, n.name, n.attrs) for n in network.nodes]
    for a, b in zip(again.nodes, network.nodes, strict=True):
        for key in b.arrays:
            np.testing.assert_array_equal(a.arrays[key], b.arrays[key])


def test_a_study_of_some_schemes_has_their_rows_and_verdicts_only():
    means = {"tfx-mx-full": 0.9, "fxp-mx-full": 0.95, "posit-mx-full": 0.7}
    runs = [{f"{s}/4": {"integer": m + d} for s, m in means.items()} for d in (-0.001, 0.001)]
    schemes = list(means)
    row = width_row(runs, 4, fake=False, schemes=schemes)
    assert row["verdicts"] == {"tfx-mx-full": {"fxp-mx-full": "loss"}}
    assert row["best"] == {"tfx": "tfx-mx-full", "fxp": "fxp-mx-full", "verdict": "loss",
                           "posit": "posit-mx-full", "verdict_posit": "win"}
    record = {"headline": "fashion-mnist", "missing": [], "schemes": schemes, "models": [
        {"dataset": "fashion-mnist", "model": "convnet", "seeds": [0, 1],
         "test_images": 10000, "float": {"mean": 0.91, "std": 0.002}, "widths": [4],
         "by_width": {"4": row}}]}
    assert ("| 4 | 90.0 ± 0.1 | 95.0 ± 0.1 | 70.0 ± 0.1 | loss (tfx-mx-full vs "
            "fxp-mx-full) | win (posit-mx-full) | – (–) |") in markdown(record)
    with pytest.raises(ValueError, match="schemes must be among tfx, tfx-channel"):
        run_study(datasets=["digits"], schemes=["float"])


def test_variant_rows_and_their_table():
    means = {"tfx": 0.9, "tfx-channel": 0.93, "tfx-channel-unsigned": 0.85,
             "fxp-channel": 0.95, "fxp-channel-signed": 0.92, "fxp-layer": 0.8,
             "fxp-global": 0.5, "posit": 0.91, "posit-channel": 0.92,
             "posit-channel-unsigned": 0.86, "fp": 0.94, "fp-channel": 0.96,
             "fp-channel-unsigned": 0.87, **dict.fromkeys(MX_SCHEMES + FULL_MX_SCHEMES, 0.6),
             "posit/8/posit:8,0": 0.95, "posit-channel/8/posit:8,0": 0.93,
             "posit-channel-unsigned/8/posit:8,0": 0.94, "posit-mx/8/posit:8,0": 0.7,
             "fp/8/fp:8,5": 0.90, "fp-channel/8/fp:8,5": 0.80,
             "fp-channel-unsigned/8/fp:8,5": 0.85, "fp-mx/8/fp:8,5": 0.75}
    runs = [{(s if "/" in s else f"{s}/8"): {"integer": m + d} for s, m in means.items()}
            for d in (-0.001, 0.001)]
    row = width_row(runs, 8, fake=False)
    assert set(row["variants"]) == {"posit:8,0", "fp:8,5"}
    posit0, e5 = row["variants"]["posit:8,0"], row["variants"]["fp:8,5"]
    assert posit0["label"] == "Posit8/es0" and posit0["best"] == "posit"
    assert posit0["schemes"]["posit-channel"]["integer"]["mean"] == pytest.approx(0.93)
    assert posit0["verdict_vs_default"] == "win" and posit0["verdict_tfx"] == "loss"
    assert e5["best"] == "fp" and e5["verdict_vs_default"] == "loss" and e5["verdict_tfx"] == "win"
    record = {"headline": "fashion-mnist", "missing": [], "models": [
        {"dataset": "fashion-mnist", "model": "convnet", "seeds": [0, 1],
         "test_images": 10000, "float": {"mean": 0.91, "std": 0.002}, "widths": [8],
         "by_width": {"8": row}}]}
    text = markdown(record)
    assert ("| 8 | Posit8/es0 | 95.0 ± 0.1 | 93.0 ± 0.1 | 94.0 ± 0.1 | 70.0 ± 0.1 "
            "| 92.0 ± 0.1 (posit-channel) | win | loss (tfx-channel) |") in text
    assert ("| 8 | FP8/E5 | 90.0 ± 0.1 | 80.0 ± 0.1 | 85.0 ± 0.1 | 75.0 ± 0.1 "
            "| 96.0 ± 0.1 (fp-channel) | loss | win (tfx-channel) |") in text


def test_every_variant_runs_on_every_architecture():
    # FP8 E5M2 on the ResNet once took about 50 minutes in Python integers; the fast engine's
    # wide steps run it, so no family is left out of any model.
    runs = study_runs([8], ["fp", "posit"])
    assert ("fp", 8, FPFamily(8, 5)) in runs and ("posit", 8, PositFamily(8, 0)) in runs
