"""Datasets, read from installed packages only (nothing is downloaded at run time).

``digits``: scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes), pixel
values 0..16 scaled to [0, 1]. Split once, by a fixed permutation (seed 0), into train (60 %),
calibration (10 %, for choosing activation formats) and test (30 %).
"""

import numpy as np

from ._checks import check_choice

__all__ = ["load_digits", "SPLITS"]

SPLITS = ("train", "calibration", "test")
_FRACTIONS = (0.6, 0.1)


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
