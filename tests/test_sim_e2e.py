"""cocotb on Icarus: the shipped digits ConvNet end to end, every conv and dense layer through
the accelerator, codes and predictions equal to the golden integer engine (`make e2e` runs
more images and Fashion-MNIST)."""

import json

import pytest

from golden.family import FXPFamily, TFXFamily
from golden.models import MODELS
from scripts.nn.e2e import markdown, run_network

pytestmark = [pytest.mark.sim, pytest.mark.cocotb]


@pytest.mark.parametrize("family, scheme", [(TFXFamily(8, 3), "tfx-channel"),
                                            (FXPFamily(8), "fxp-layer"),
                                            (FXPFamily(6), "fxp-global")],
                         ids=["tfx-channel", "fxp-layer", "fxp-global"])
def test_digits_convnet_through_the_array(tmp_path, family, scheme):
    result = run_network(family, scheme, MODELS / "digits-convnet-s0.npz", "digits", 3,
                         report=tmp_path / "e2e.json", work=tmp_path)
    assert result.passed, result
    report = json.loads((tmp_path / "e2e.json").read_text())
    assert [layer["op"] for layer in report["layers"]] == ["conv", "conv", "dense"]
    assert report["layers"][1]["K"] == 144 and report["cycles"] > report["macs_per_image"] * 3 / 16
    assert f"| digits-convnet-s0 | {scheme} | {family.label} | 3 |" in markdown([report])
