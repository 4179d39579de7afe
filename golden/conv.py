"""Convolution on codes as a matrix product (im2col), exact like :func:`golden.arith.matmul`."""

import numpy as np

from ._checks import check_int
from .arith import matmul

__all__ = ["im2col", "conv2d", "conv_output_size", "padding_sides", "group_slices"]


def group_slices(in_channels, out_channels, groups):
    """The (input channels, output channels) slices of each group of a grouped convolution:
    group g reads input channels ``g * C/groups ...`` and writes output channels ``g *
    OC/groups ...`` (``groups`` = C is depthwise)."""
    ci, co = in_channels // groups, out_channels // groups
    return [(slice(g * ci, (g + 1) * ci), slice(g * co, (g + 1) * co)) for g in range(groups)]


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


def conv2d(x, x_fmt, weight, w_fmt, *, stride=1, padding=0, groups=1, bias=None,
           w_shift=None, **matmul_args):
    """Exact convolution of codes: ``x`` (B, C, H, W), ``weight`` (OC, C/groups, KH, KW).

    Returns the :class:`golden.arith.Accumulators` of the im2col product (one per group),
    values shaped (B, OH, OW, OC); ``bias`` (per output channel), ``w_shift`` (block-scaled
    weights: shaped like ``weight``) and ``matmul_args`` (nar, limits) go to ``matmul``.
    """
    weight = np.asarray(weight)
    x = np.asarray(x)
    groups = check_int("groups", groups, 1, 1 << 16)
    if (weight.ndim != 4 or x.ndim != 4 or weight.shape[1] * groups != x.shape[1]
            or weight.shape[0] % groups):
        raise ValueError(f"x (B, C, H, W) and weight (OC, C/groups, KH, KW) must agree on C "
                         f"with OC divisible by groups = {groups}: {x.shape} and "
                         f"{weight.shape}")
    parts = []
    for inputs, outputs in group_slices(x.shape[1], weight.shape[0], groups):
        patches, (oh, ow) = im2col(x[:, inputs], weight.shape[2:], stride=stride,
                                   padding=padding)
        w = weight[outputs]
        shift = None if w_shift is None else np.asarray(w_shift)[outputs]
        parts.append(matmul(patches, x_fmt, w.reshape(w.shape[0], -1).T, w_fmt,
                            bias=None if bias is None else np.asarray(bias)[outputs],
                            w_shift=None if shift is None else shift.reshape(len(w), -1).T,
                            **matmul_args))
    shape = (x.shape[0], oh, ow, weight.shape[0])
    values = np.concatenate([part.values for part in parts], axis=-1)
    nar = np.concatenate([part.nar for part in parts], axis=-1)
    return type(parts[0])(values.reshape(shape), parts[0].exponent, nar.reshape(shape))
