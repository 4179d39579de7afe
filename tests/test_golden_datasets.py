"""Datasets from installed packages: shapes, splits, and clear errors for what is missing or
malformed."""

import gzip

import numpy as np
import pytest

from golden.datasets import load, read_idx


def write_idx(path, array, *, magic=None):
    header = bytes([0, 0, 8, array.ndim]) if magic is None else magic
    header += b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    with gzip.open(path, "wb") as file:
        file.write(header + array.astype(np.uint8).tobytes())


def test_idx_files_are_read_exactly(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", array)
    assert np.array_equal(read_idx(tmp_path / "a.gz"), array)


@pytest.mark.parametrize("content, message", [
    (b"\x00\x00\x0d\x01\x00\x00\x00\x01\x00", "not an IDX file of unsigned bytes"),
    (b"\x00\x00\x08\x02\x00\x00\x00\x02", "header truncated"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", r"needs 13 bytes, the file has 10"),
])
def test_malformed_idx_files_are_named(tmp_path, content, message):
    with gzip.open(tmp_path / "bad.gz", "wb") as file:
        file.write(content)
    with pytest.raises(ValueError, match=message):
        read_idx(tmp_path / "bad.gz")
    (tmp_path / "broken.gz").write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(ValueError, match="cannot be read as an IDX file"):
        read_idx(tmp_path / "broken.gz")


@pytest.mark.parametrize("name, shape, sizes", [
    ("digits", (1, 8, 8), (1078, 179, 540)),
    ("fashion-mnist", (1, 28, 28), (55000, 5000, 10000)),
    ("mnist", (1, 28, 28), (50000, 10000, 10000)),
])
def test_splits_have_the_documented_shapes(name, shape, sizes):
    parts = [load(name, split) for split in ("train", "calibration", "test")]
    for (x, y), size in zip(parts, sizes, strict=True):
        assert x.shape == (size, *shape) and y.shape == (size,)
        assert x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1 and x.max() > 0.9
        assert set(np.unique(y)) == set(range(10))
    # calibration images are held out of training (compare the images themselves)
    train = {row.tobytes() for row in parts[0][0][:20000]}
    assert not any(row.tobytes() in train for row in parts[1][0][:500])


def test_missing_dataset_package_says_how_to_install_it(tmp_path):
    with pytest.raises(RuntimeError, match="apt-get install dataset-fashion-mnist"):
        load("fashion-mnist", "test", root=tmp_path / "nowhere")


def test_malformed_fashion_files_are_named(tmp_path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((3, 28, 28)))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(2))
    with pytest.raises(ValueError, match=r"images \(3, 28, 28\) and labels \(2,\) do not match"):
        load("fashion-mnist", "test", root=tmp_path)


def test_unknown_names_are_errors():
    with pytest.raises(ValueError, match="dataset must be one of 'digits', 'fashion-mnist', "
                                         "'mnist', not 'cifar'"):
        load("cifar", "test")
    with pytest.raises(ValueError, match="split must be one of"):
        load("digits", "validation")
