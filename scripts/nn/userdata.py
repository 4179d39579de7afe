"""The ``DATA`` argument of the ``tent`` command: a bundled dataset or a user's file.

- ``digits``, ``mnist``, ``fashion-mnist``, optionally with a split (``mnist:calibration``;
  the default split is the command's: ``test`` to evaluate, ``calibration`` to quantize);
- a ``.npy`` file of images, or a ``.npz`` file with the images under ``x`` (or ``images``)
  and optionally the labels under ``y`` (or ``labels``).

Images are ``(N, C, H, W)`` (or ``(N, H, W)`` when the network has one channel, ``(N, K)``
for a network on flat inputs) of real, finite numbers; labels ``(N,)`` integers from 0 to the
number of classes minus one. Everything else is a one-line ``ValueError`` saying what is wrong
and what is allowed.
"""

from pathlib import Path

import numpy as np

from golden._io import read_npz
from golden.datasets import DATASETS, SPLITS, load

__all__ = ["load_data"]

_IMAGE_KEYS, _LABEL_KEYS = ("x", "images"), ("y", "labels")


def load_data(spec, network, *, split="test", classes=None):
    """Images (float64, shaped for ``network``) and labels (int64, or None) named by
    ``spec``."""
    name, _, chosen = str(spec).partition(":")
    if name in DATASETS:
        if chosen and chosen not in SPLITS:
            raise ValueError(f"unknown split {chosen!r} of {name}: choose from "
                             f"{', '.join(SPLITS)}")
        x, y = load(name, chosen or split)
        return _images(x, network, spec), _labels(y, len(x), classes, spec)
    path = Path(spec)
    if path.suffix not in (".npy", ".npz"):
        raise ValueError(f"DATA {spec!r} is neither a bundled dataset ({', '.join(DATASETS)}, "
                         f"optionally :split) nor a .npy or .npz file")
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} does not exist")
    if path.suffix == ".npy":
        try:
            x = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            raise ValueError(f"{path} is not a readable .npy file ({type(error).__name__}: "
                             f"{error})") from None
        return _images(x, network, spec), None
    contents = read_npz(path, "data")
    image_key = next((k for k in _IMAGE_KEYS if k in contents), None)
    if image_key is None:
        raise ValueError(f"{path} has no images: it needs an array 'x' or 'images', has "
                         f"{sorted(contents)}")
    label_key = next((k for k in _LABEL_KEYS if k in contents), None)
    x = _images(contents[image_key], network, spec)
    y = _labels(contents[label_key], len(x), classes, spec) if label_key else None
    return x, y


def _images(x, network, spec):
    x = np.asarray(x)
    shape = network.input_shape
    if x.dtype.kind not in "fiu":
        raise ValueError(f"{spec}: images must be real numbers, not {x.dtype}")
    if x.ndim == 3 and shape[0] == 1:
        x = x[:, None]
    if x.ndim == 2 and shape[1:] == (1, 1):
        x = x[:, :, None, None]
    if x.ndim != 4 or x.shape[1:] != shape:
        raise ValueError(f"{spec}: images of shape {x.shape} do not fit the network's input "
                         f"(N, {', '.join(map(str, shape))})")
    if len(x) == 0:
        raise ValueError(f"{spec}: no images")
    x = x.astype(np.float64)
    if not np.isfinite(x).all():
        bad = int(np.count_nonzero(~np.isfinite(x)))
        raise ValueError(f"{spec}: {bad} image values are NaN or infinite")
    return x


def _labels(y, count, classes, spec):
    y = np.asarray(y)
    if y.dtype.kind not in "iu":
        raise ValueError(f"{spec}: labels must be integers, not {y.dtype}")
    if y.shape != (count,):
        raise ValueError(f"{spec}: labels of shape {y.shape} do not match {count} images "
                         f"(need ({count},))")
    if classes is not None and (y.min() < 0 or y.max() >= classes):
        raise ValueError(f"{spec}: labels from {y.min()} to {y.max()} are outside 0 to "
                         f"{classes - 1} (the network has {classes} "
                         f"class{'' if classes == 1 else 'es'})")
    return y.astype(np.int64)
