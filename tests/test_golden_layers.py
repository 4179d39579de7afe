"""Datasets, shipped models and dense-layer quantization in the golden model."""

import numpy as np
import pytest

from golden.arith import ScalingLimits
from golden.datasets import load_digits
from golden.family import FXPFamily, TFXFamily
from golden.layers import choose_format, quantize_dense, run_layer
from golden.models import MLP, MODELS, load_mlp, save_mlp
from golden.network import load_network


def test_digits_splits_are_disjoint_and_complete():
    parts = [load_digits(split) for split in ("train", "calibration", "test")]
    assert [len(y) for _, y in parts] == [1078, 179, 540]
    images = np.concatenate([x for x, _ in parts])
    assert images.shape == (1797, 64) and images.min() == 0 and images.max() == 1
    from sklearn.datasets import load_digits as sklearn_digits
    everything = sklearn_digits().data / 16.0  # the splits partition the dataset
    assert sorted(map(bytes, images)) == sorted(map(bytes, everything))
    with pytest.raises(ValueError, match="split must be one of"):
        load_digits("validation")


def test_shipped_model_classifies_and_round_trips(tmp_path):
    model = load_mlp(MODELS / "digits_mlp.npz")
    x, y = load_digits("test")
    accuracy = np.mean(model.predict(x) == y)
    assert accuracy == pytest.approx(model.info["float_accuracy"]["test"]) and accuracy > 0.95
    save_mlp(tmp_path / "copy.npz", model)
    copy = load_mlp(tmp_path / "copy.npz")
    assert all(np.array_equal(a, b) for la, lb in zip(model.layers, copy.layers, strict=True)
               for a, b in zip(la, lb, strict=True))


def test_model_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mlp(tmp_path / "none.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="is not a readable NumPy .npz model file"):
        load_mlp(tmp_path / "junk.npz")
    good = (MODELS / "digits_mlp.npz").read_bytes()
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x10
    for name, data in (("truncated", good[:len(good) // 2]), ("flipped", bytes(flipped))):
        (tmp_path / f"{name}.npz").write_bytes(data)
        with pytest.raises(ValueError, match=rf"{name}.npz is not a readable NumPy .npz model "
                                             rf"file \(BadZipFile"):
            load_mlp(tmp_path / f"{name}.npz")
        with pytest.raises(ValueError, match=rf"{name}.npz is not a readable NumPy .npz model"):
            load_network(tmp_path / f"{name}.npz")
    np.savez(tmp_path / "partial.npz", w0=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="expected arrays w0, b0, ... and info"):
        load_mlp(tmp_path / "partial.npz")
    with pytest.raises(ValueError, match="layer 1 takes 3 inputs but layer 0 gives 2"):
        MLP([(np.zeros((4, 2)), np.zeros(2)), (np.zeros((3, 1)), np.zeros(1))])
    with pytest.raises(ValueError, match="layer 0 has NaN or infinite parameters"):
        MLP([(np.full((1, 1), np.nan), np.zeros(1))])


@pytest.mark.parametrize("family", [TFXFamily(8, 3), FXPFamily(8), TFXFamily(4, 3)], ids=str)
def test_quantized_first_layer_tracks_the_float_layer(family):
    model = load_mlp(MODELS / "digits_mlp.npz")
    x_cal, _ = load_digits("calibration")
    x, _ = load_digits("test")
    a_fmt = choose_format(x_cal, family)
    family.check_member(a_fmt)
    w, b = model.layers[0]
    w_codes, layer = quantize_dense(w, b, family=family, a_fmt=a_fmt, relu=True,
                                    calibration_out=model.activations(x_cal)[1])
    codes, nar = run_layer(a_fmt.quantize(x), w_codes, layer)
    hidden = layer.out_fmt.decode(codes)
    reference = model.activations(x)[1]
    relative = np.abs(hidden - reference).mean() / np.abs(reference).mean()
    assert not nar.any() and relative < (0.05 if family.n == 8 else 0.3)


def test_quantize_dense_errors():
    family = TFXFamily(8, 3)
    fmt = family.widest()
    with pytest.raises(ValueError, match=r"w must be \(K, N\) and b \(N,\)"):
        quantize_dense(np.zeros((2, 3)), np.zeros(2), family=family, a_fmt=fmt,
                       calibration_out=np.ones(3), relu=False)
    with pytest.raises(ValueError, match=r"the bias needs 23 bits in accumulator units 2\*\*-15; the hardware has "
                                         r"bias_bits=10"):
        quantize_dense(np.ones((2, 1)) * 0.5, np.array([2.0 ** 6]), family=family, a_fmt=fmt,
                       calibration_out=np.ones(3), relu=False,
                       limits=ScalingLimits(bias_bits=10))
