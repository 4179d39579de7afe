"""The ``DATA`` argument of the ``tent`` command: a bundled dataset or a user's file.

- ``digits``, ``mnist``, ``fashion-mnist``, optionally with a split (``mnist:calibration``;
  the default split is the command's: ``test`` to evaluate, ``calibration`` to quantize);
- a ``.npy`` file of images, or a ``.npz`` file with the images under ``x`` (or ``images``)
  and optionally the labels under ``y`` (or ``labels``).

Images are ``(N, C, H, W)`` (or ``(N, H, W)`` when the network has one channel, ``(N, K)``
for a network on flat inputs) of real, finite numbers; labels ``(N,)`` integers from 0 to the
number of classes minus one. Everything else is a one-line ``ValueError`` saying what is wrong
and what is allowed.

Images must be on the scale the network was trained on: the bundled datasets and the shipped
networks use floats in [0, 1]. Data that look otherwise (integer pixels such as uint8 0 to
255, values far outside [0, 1] for a network trained on a bundled dataset, a calibration set
whose images are all equal) are taken as they are, but ``warn`` is told why they look wrong
(:func:`data_warnings`).
"""

from pathlib import Path

import numpy as np

from golden._io import read_npz
from golden.datasets import DATASETS, SPLITS, load

__all__ = ["load_data", "data_warnings", "calibration_warnings"]

_IMAGE_KEYS, _LABEL_KEYS = ("x", "images"), ("y", "labels")


def load_data(spec, network, *, split="test", classes=None, warn=None):
    """Images (float64, shaped for ``network``) and labels (int64, or None) named by
    ``spec``; ``warn`` (a function of one line) is told what looks wrong with the images
    (:func:`data_warnings`)."""
    raw, y = _load_data(spec, split)
    x = _images(raw, network, spec)
    if warn is not None:
        for line in data_warnings(x, network, spec, integers=raw.dtype.kind in "iu"):
            warn(line)
    return x, _labels(y, len(x), classes, spec) if y is not None else None


def data_warnings(x, network, spec, *, integers=False):
    """Why images ``x`` (float, shaped for ``network``) may be on the wrong scale: integer
    pixels, values far outside the [0, 1] of the bundled dataset the network was trained on."""
    lines = []
    low, high = float(x.min()), float(x.max())
    if integers and high > 1:
        lines.append(f"{spec}: the images are integers from {low:g} to {high:g}; the bundled "
                     f"datasets and the shipped networks use floats in [0, 1] (divide 8-bit "
                     f"pixels by 255)")
    elif network.info.get("dataset") in DATASETS and (high > 1.5 or low < -0.5):
        lines.append(f"{spec}: the images range from {low:g} to {high:g}, but the network was "
                     f"trained on {network.info['dataset']} images in [0, 1]")
    return lines


def calibration_warnings(x, network, spec):
    """Why calibration images ``x`` (after the network's input normalisation) would give
    formats that fit no real data: every value equal, or values beyond 1e6."""
    where = " after the network's input normalisation" if "preprocess" in network.info else ""
    largest = float(np.abs(x).max())
    if np.ptp(x) == 0:
        return [f"{spec}: every calibration value is {x.flat[0]:g}{where}: formats chosen on "
                f"constant images will not fit real data"]
    if largest > 1e6:
        return [f"{spec}: calibration values reach {largest:.3g}{where}: are the images, or "
                f"the normalisation, on the right scale?"]
    return []


def _load_data(spec, split):
    """The images and labels (or None) as stored."""
    name, _, chosen = str(spec).partition(":")
    if name in DATASETS:
        if chosen and chosen not in SPLITS:
            raise ValueError(f"unknown split {chosen!r} of {name}: choose from "
                             f"{', '.join(SPLITS)}")
        return load(name, chosen or split)
    path = Path(spec)
    if path.suffix not in (".npy", ".npz"):
        raise ValueError(f"DATA {spec!r} is neither a bundled dataset ({', '.join(DATASETS)}, "
                         f"optionally :split) nor a .npy or .npz file")
    if path.is_dir():
        raise ValueError(f"data file {path} is a directory, not a .npy or .npz file")
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} does not exist")
    if path.suffix == ".npy":
        try:
            x = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            raise ValueError(f"{path} is not a readable .npy file ({type(error).__name__}: "
                             f"{error})") from None
        return np.asarray(x), None
    contents = read_npz(path, "data")
    image_key = next((k for k in _IMAGE_KEYS if k in contents), None)
    if image_key is None:
        raise ValueError(f"{path} has no images: it needs an array 'x' or 'images', has "
                         f"{sorted(contents)}")
    label_key = next((k for k in _LABEL_KEYS if k in contents), None)
    return np.asarray(contents[image_key]), contents[label_key] if label_key else None


def _images(x, network, spec):
    x = np.asarray(x)
    shape = network.input_shape
    if x.dtype.kind not in "fiu":
        raise ValueError(f"{spec}: images must be real numbers, not {x.dtype}")
    flat = shape[1:] == (1, 1)  # a network on flat inputs (an MLP): (N, K) held as (N, K, 1, 1)
    if flat and x.ndim >= 2 and int(np.prod(x.shape[1:])) == shape[0]:
        x = x.reshape(len(x), shape[0], 1, 1)  # images of K pixels, flattened in C, H, W order
    if x.ndim == 3 and shape[0] == 1:
        x = x[:, None]
    if x.ndim != 4 or x.shape[1:] != shape:
        wanted = f"(N, {shape[0]})" if flat else f"(N, {', '.join(map(str, shape))})"
        raise ValueError(f"{spec}: images of shape {x.shape} do not fit the network's input "
                         f"{wanted}")
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
