"""The accuracy study's bookkeeping and one real evaluation; the training exporter when
PyTorch is installed (it is an optional extra)."""

import json

import numpy as np
import pytest

from golden.models import MODELS, load_mlp
from golden.network import fold, load_network, save_network
from scripts.nn.study import evaluate, markdown, summarise, verdict


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
    assert results["float"] > 0.95 and len(lines) == 4
    assert results["tfx/8"]["integer"] > 0.95
    assert results["tfx/8"]["formats"]["input"].startswith("TFX(8")
    # what the integer engine gives, recomputed here
    from golden.datasets import load
    from golden.ptq import quantize_network
    x, y = load("digits", "test")
    q = quantize_network(fold(load_network(path)), "fxp-global", 4, load("digits", "calibration")[0])
    assert results["fxp-global/4"]["integer"] == np.mean(q.predict(x) == y)
    lines.clear()
    again = evaluate(path, "digits", [4, 8], ["tfx", "fxp-global"], 0, lines.append,
                     cache=tmp_path / "cache")
    assert again == json.loads(json.dumps(results)) and not lines  # cached


def test_markdown_states_the_verdicts_and_what_is_missing():
    row = {s: {"integer": {"mean": m, "std": 0.001}, "fake": {"mean": m, "std": 0.0}}
           for s, m in (("tfx", 0.9), ("fxp-layer", 0.8), ("fxp-global", 0.5),
                        ("fxp-channel", 0.95))}
    row["verdicts"] = {"fxp-layer": "win", "fxp-global": "win", "fxp-channel": "loss"}
    record = {"headline": "fashion-mnist", "missing": ["mnist-resnet-s2.npz"], "models": [
        {"dataset": "fashion-mnist", "model": "convnet", "seeds": [0, 1, 2],
         "test_images": 2000, "float": {"mean": 0.91, "std": 0.002}, "widths": [4],
         "by_width": {"4": row}}]}
    text = markdown(record)
    assert "| 4 | 90.0 ± 0.1 (90.0) | 80.0 ± 0.1 (80.0) | 50.0 ± 0.1 (50.0) | 95.0 ± 0.1 (95.0) " \
           "| win, win, loss |" in text
    assert "**fashion-mnist**" in text and "mnist-resnet-s2.npz" in text


@pytest.mark.parametrize("model", ["convnet", "resnet"])
def test_exported_networks_compute_what_pytorch_computes(model):
    torch = pytest.importorskip("torch")
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
