"""Convolution on codes as a matrix product (im2col), exact like :func:`golden.arith.matmul`."""

import numpy as np

from ._checks import check_int
from .arith import matmul

__all__ = ["im2col", "conv2d", "conv_output_size", "padding_sides"]


def padding_sides(padding, name="padding"):
    """Zero padding as (top, left, bottom, right): from one int (every side alike) or four
    ints from 0 to 64; a ``ValueError`` otherwise."""
    if isinstance(padding, (list, tuple)):
        if len(padding) != 4:
            raise ValueError(f"{name} must be one integer or four (top, left, bottom, right), "
                             f"not {list(padding)}")
        return tuple(check_int(name, side, 0, 64) for side in padding)
    side = check_int(name, padding, 0, 64)
    return (side,) * 4


def conv_output_size(size, kernel, stride, padding, after=None):
    """Output height or width of a convolution with ``padding`` zeros before the input and
    ``after`` (default: as many) after it; a clear error when nothing fits."""
    after = padding if after is None else after
    out = (size + padding + after - kernel) // stride + 1
    if out < 1:
        raise ValueError(f"a {kernel}-wide kernel with padding {padding}, {after} does not fit "
                         f"an input of size {size}")
    return out


def im2col(x, kernel, *, stride=1, padding=0):
    """Patches of ``x`` (B, C, H, W) as rows: (B*OH*OW, C*KH*KW), columns ordered (c, ky, kx).

    Padding (one int, or (top, left, bottom, right)) inserts code 0, which is zero in every
    TFX and FXP format. Returns the patches and (OH, OW).
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"x must have shape (B, C, H, W), not {x.shape}")
    kh, kw = kernel
    check_int("kernel height", kh, 1, 64)
    check_int("kernel width", kw, 1, 64)
    check_int("stride", stride, 1, 64)
    top, left, bottom, right = padding_sides(padding)
    B, C, H, W = x.shape
    oh = conv_output_size(H, kh, stride, top, bottom)
    ow = conv_output_size(W, kw, stride, left, right)
    padded = np.zeros((B, C, H + top + bottom, W + left + right), dtype=x.dtype)
    padded[:, :, top:top + H, left:left + W] = x
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride][:, :, :oh, :ow]  # (B, C, OH, OW, KH, KW)
    patches = np.empty((B, oh, ow, C, kh, kw), dtype=x.dtype)
    patches[...] = windows.transpose(0, 2, 3, 1, 4, 5)  # one pass, rows in output order
    return patches.reshape(B * oh * ow, C * kh * kw), (oh, ow)


def conv2d(x, x_fmt, weight, w_fmt, *, stride=1, padding=0, **matmul_args):
    """Exact convolution of codes: ``x`` (B, C, H, W), ``weight`` (OC, C, KH, KW).

    Returns the :class:`golden.arith.Accumulators` of the im2col product, values shaped
    (B, OH, OW, OC); ``matmul_args`` (bias per output channel, nar, limits) go to ``matmul``.
    """
    weight = np.asarray(weight)
    if weight.ndim != 4 or np.ndim(x) != 4 or weight.shape[1] != np.shape(x)[1]:
        raise ValueError(f"x (B, C, H, W) and weight (OC, C, KH, KW) must agree on C: "
                         f"{np.shape(x)} and {weight.shape}")
    patches, (oh, ow) = im2col(x, weight.shape[2:], stride=stride, padding=padding)
    acc = matmul(patches, x_fmt, weight.reshape(weight.shape[0], -1).T, w_fmt, **matmul_args)
    shape = (np.shape(x)[0], oh, ow, weight.shape[0])
    return type(acc)(acc.values.reshape(shape), acc.exponent, acc.nar.reshape(shape))
