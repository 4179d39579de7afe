"""Full MX: a network whose every matrix product multiplies block-scaled activations by
block-scaled weights (OCP MX direct cast), in the golden model only.

The accelerator runs weight-only MX (W-MX, :mod:`golden.mx`); this module defines and runs the
other half of the spec's block scaling, ``docs/formats/mx.md`` "Full MX":

- **Weights** are block-scaled along K as for W-MX (:func:`golden.ptq.mx_format`, blocks of
  32, the floor rule, the layer's block exponents within ``mx_spread``).
- **Activations** are block-scaled at each matrix product's input, in the same MX format:
  every row of the (M, K) operand (for a convolution, every im2col row, columns in the weight
  matrix's order (c, ky, kx), zero padding included) in blocks of k consecutive elements, the
  last one shorter when k does not divide K; the floor rule, no spread bound. A pixel lies in
  several windows and may take a different block scale in each.
- **Between matrix products** values are IEEE single precision (FP32), as in the OCP MX
  papers' direct-cast inference: a product's output is the exact sum of every block product
  and the FP32 bias, rounded once to FP32 (nearest, ties to even; :func:`round_to_fp32`);
  ReLU and the clipped ReLU's ceiling clip it; max pooling takes the window's largest value;
  average pooling sums the window in float64 and rounds the mean to FP32; a residual addition
  is one FP32 addition. The input image is rounded to FP32.

:func:`block_product` is fast and exact: one float64 product of the decoded values for the
rows whose binades prove every sum exact (the common case); for the others each block's
integer product (float64 or int64), the blocks shifted to a common exponent and summed in
int64 where they provably fit, and Python integers for the rest. A network's rows are
processed a chunk at a time so that the temporaries stay in cache; they are quantized
straight to their values (:meth:`golden.mx.MX.quantize_decoded`), most rows are proven exact
from their block exponents alone, the rest from their values, and only the rows that take
the integer path are quantized to codes.
"""

import functools
import math

import numpy as np

from .conv import group_slices, im2col
from .mx import BlockTensor, lowest_set_bits, matmul, significand_bits
from .network import float_op, relu_ceiling

__all__ = ["round_to_fp32", "block_product", "weight_blocks", "logits", "FP32_LABEL"]

FP32_LABEL = "FP32"
_SIGNIFICAND = 24  # FP32's significand bits
_INT64_BITS = 62  # a shifted sum below 2**62 cannot wrap an int64
_CHUNK_ELEMENTS = 1 << 14  # activation elements quantized and multiplied at a time
# Exponent bounds of a sum without terms (they lose every max and min).
_NO_HIGH, _NO_LOW = np.iinfo(np.int32).min, np.iinfo(np.int32).max


def _bit_length(magnitude):
    """Exact bit lengths of nonnegative int64 ``magnitude`` (0 for 0)."""
    magnitude = np.asarray(magnitude, dtype=np.int64)
    lengths = np.frexp(magnitude.astype(np.float64))[1].astype(np.int64)
    # float64 may round a magnitude above 2**53 up to the next power of two: step back.
    high = np.where(lengths > 0, magnitude >> np.maximum(lengths - 1, 0), 1)
    return np.where(high == 0, lengths - 1, lengths)


def round_to_fp32(integers, exponents):
    """The FP32 values nearest ``integers * 2**exponents`` (ties to even), for int64
    ``integers`` and int ``exponents`` of the same shape. Exact rounding to FP32's 24-bit
    significand; a result beyond FP32's normal range is rounded again by the final cast."""
    integers = np.asarray(integers, dtype=np.int64)
    exponents = np.asarray(exponents, dtype=np.int64)
    magnitude = np.abs(integers)
    drop = np.maximum(_bit_length(magnitude) - _SIGNIFICAND, 0)
    kept = magnitude >> drop
    rest = magnitude - (kept << drop)
    half = np.where(drop > 0, np.int64(1) << np.maximum(drop - 1, 0), 1)
    up = (rest > half) | ((rest == half) & (drop > 0) & (kept & 1 == 1))
    kept = kept + up
    values = np.ldexp(kept.astype(np.float64), drop + exponents)
    return np.where(integers < 0, -values, values).astype(np.float32)


def _round_python_int(total, exponent):
    """:func:`round_to_fp32` of one Python integer of any size."""
    magnitude = abs(total)
    drop = max(magnitude.bit_length() - _SIGNIFICAND, 0)
    kept, rest = divmod(magnitude, 1 << drop)
    half = 1 << (drop - 1) if drop else 1
    if drop and (rest > half or (rest == half and kept & 1)):
        kept += 1
    value = math.ldexp(float(kept), drop + exponent)
    return np.float32(-value if total < 0 else value)


def _fp32_parts(values):
    """FP32 ``values`` as exact (int64 significand, exponent) pairs."""
    mantissa, exponent = np.frexp(np.asarray(values, dtype=np.float32).astype(np.float64))
    return (np.ldexp(mantissa, _SIGNIFICAND).astype(np.int64),
            exponent.astype(np.int64) - _SIGNIFICAND)


def _block_ints(A, W, k, exact_in_float):
    """Each block of ``k``'s exact integer product, (blocks, M, N) int64, of the element
    integers ``A`` (M, K) and ``W`` (K, N): in float64 BLAS when ``exact_in_float``."""
    K = A.shape[1]
    blocks = -(-K // k)
    products = np.empty((blocks, A.shape[0], W.shape[1]), dtype=np.int64)
    for b in range(blocks):
        rows = slice(b * k, min((b + 1) * k, K))
        if exact_in_float:
            products[b] = A[:, rows].astype(np.float64) @ W[rows].astype(np.float64)
        else:
            products[b] = A[:, rows] @ W[rows]
    return products


def _span(values, bits, axis):
    """Per row (``axis`` = 1) or column (0) of float64 ``values``: the exponent bound above
    every magnitude (|v| < 2**high) and below every nonzero value's lowest set bit (``bits``
    significand bits), and whether it has a nonzero value."""
    magnitude = np.abs(values)
    largest = magnitude.max(axis=axis)
    smallest = np.where(magnitude > 0, magnitude, np.inf).min(axis=axis)
    nonzero = largest > 0
    high = np.frexp(largest)[1].astype(np.int64)
    low = np.frexp(np.where(nonzero, smallest, 1.0))[1].astype(np.int64) - bits
    return high, low, nonzero


class _Weights:
    """A weight operand (K, N) and its bias, prepared once for many activation rows."""

    def __init__(self, w, bias):
        self.blocks = w
        K, N = w.codes.shape
        self.bias = (np.zeros(N, np.float32) if bias is None
                     else np.asarray(bias, dtype=np.float32))
        self.values = w.decode()
        self.high, self.low, self.any = _span(self.values, significand_bits(w.mx.element), 0)
        self.high = self.high + math.ceil(math.log2(K + 1))  # a sum of K products
        b_high, b_low, self.b_any = _span(self.bias.astype(np.float64)[None], _SIGNIFICAND, 0)
        # A zero bias adds no term: it bounds neither end.
        self.b_high = np.where(self.b_any, b_high, _NO_HIGH)
        self.b_low = np.where(self.b_any, b_low, _NO_LOW)


def block_product(a, w, bias=None):
    """The exact ``a @ w + bias`` rounded once to FP32.

    Parameters
    ----------
    a : golden.mx.BlockTensor
        Activations (M, K), blocks along axis 1.
    w : golden.mx.BlockTensor
        Weights (K, N), blocks along axis 0, the same block size.
    bias : array of N FP32 values, optional

    Returns
    -------
    numpy.ndarray
        (M, N) float32: every element product scaled by its two block exponents, summed
        with the bias exactly, the sum rounded to the nearest FP32 (ties to even).

    Notes
    -----
    One float64 product of the decoded values is exact where each row's and column's values
    span few enough binades (their exact sum, and the bias, stay within 53 bits of the finest
    set bit); the other rows take every block's exact integer product, shifted and summed in
    int64 (Python integers past 62 bits).
    """
    if not (isinstance(a, BlockTensor) and isinstance(w, BlockTensor)):
        raise TypeError("block_product multiplies two golden.mx.BlockTensor operands")
    if a.axis != 1 or w.axis != 0 or a.codes.shape[1] != w.codes.shape[0]:
        raise ValueError(f"shapes do not fit (M, K) @ (K, N) with K blocked: "
                         f"{a.codes.shape} and {w.codes.shape}")
    if a.mx.block != w.mx.block:
        raise ValueError(f"block sizes differ: {a.mx.block} and {w.mx.block}")
    return _product(a, _Weights(w, bias))


def _product(a, weights):
    """:func:`block_product` of activations ``a`` and prepared ``weights``."""
    return _rows_product(a.decode(), None, a.mx.element, weights,
                         lambda rows: BlockTensor(a.mx, a.codes[rows], a.exponents[rows], 1,
                                                  a.spread))


@functools.lru_cache(maxsize=None)
def _element_span(element):
    """(high, low) of every nonzero value v of ``element``: |v| < 2**high, and v's lowest
    set bit is at 2**low or above."""
    values = np.abs(element.decode(element.codes()))
    lowest, exponent = lowest_set_bits(values[np.isfinite(values) & (values > 0)])
    return int(exponent.max()), int(lowest.min())


def _block_span(element, exponents, nonzero):
    """The bounds :func:`_span` gives per row, from the rows' block exponents alone (each
    block's values lie within its element format's span times its scale): looser, and
    without a pass over the elements."""
    high, low = _element_span(element)
    any_nonzero = nonzero.any(axis=1)
    return (np.where(nonzero, exponents, _NO_HIGH).max(axis=1) + high,
            np.where(nonzero, exponents, _NO_LOW).min(axis=1) + low, any_nonzero)


def _proven_exact(bounds, weights):
    """Per row: whether the float64 product's every sum is provably exact, from the row
    bounds (high, low, any nonzero) and the weights' columns."""
    high, low, nonzero = bounds
    terms = nonzero[:, None] & weights.any[None, :]
    high = np.maximum(np.where(terms, high[:, None] + weights.high, _NO_HIGH), weights.b_high)
    low = np.minimum(np.where(terms, low[:, None] + weights.low, _NO_LOW), weights.b_low)
    return ((~terms & ~weights.b_any) | (high - low <= 53)).all(axis=1)


def _rows_product(values, blocks, element, weights, operand):
    """The exact product of decoded activation ``values`` (M, K) and ``weights``, rounded
    once to FP32: one float64 product, and the integer path for the rows it may not give
    exactly. ``blocks`` (block exponents, nonzero blocks) may prove rows exact before their
    values are scanned; ``operand(rows)`` is those rows as a BlockTensor."""
    out = (values @ weights.values + weights.bias).astype(np.float32)
    unproven = np.arange(len(values))
    if blocks is not None:
        unproven = unproven[~_proven_exact(_block_span(element, *blocks), weights)]
    if len(unproven):
        bounds = _span(values[unproven], significand_bits(element), 1)
        inexact = unproven[~_proven_exact(bounds, weights)]
        if len(inexact):
            out[inexact] = _block_product_ints(operand(inexact), weights.blocks, weights.bias)
    return out


def _block_product_ints(a, w, bias):
    """:func:`block_product` from every block's exact integer product, shifted and summed
    in int64 where provably below 2**62, else in Python integers."""
    k = a.mx.block
    A = np.asarray(a.mx.element.to_int(a.codes), dtype=np.int64)
    W = np.asarray(w.mx.element.to_int(w.codes), dtype=np.int64)
    peak = k * int(np.abs(A).max(initial=0)) * int(np.abs(W).max(initial=0))
    if peak >= 1 << _INT64_BITS:  # a block's product alone could pass int64
        return _block_product_python(a, w, bias)
    products = _block_ints(A, W, k, peak <= 1 << 53)
    M, N = products.shape[1:]
    exponents = (a.exponents.T[:, :, None] + w.exponents[:, None, :]
                 + a.mx.element.int_exponent + w.mx.element.int_exponent)
    significand, exponent = _fp32_parts(bias)
    products = np.concatenate([products, np.broadcast_to(significand, (1, M, N))])
    exponents = np.concatenate([exponents, np.broadcast_to(exponent, (1, M, N))])
    nonzero = products != 0
    low = np.where(nonzero, exponents, np.iinfo(np.int64).max).min(axis=0)
    low = np.where(nonzero.any(axis=0), low, 0)
    shifts = np.where(nonzero, exponents - low, 0)
    need = (shifts + _bit_length(np.abs(products))).max(axis=0) + math.ceil(
        math.log2(len(products)))
    fits = need <= _INT64_BITS
    total = (products << np.where(fits, shifts, 0)).sum(axis=0)
    out = round_to_fp32(np.where(fits, total, 0), low)
    for m, n in zip(*np.nonzero(~fits)):
        exact = sum(int(p) << int(s) for p, s in zip(products[:, m, n], shifts[:, m, n]))
        out[m, n] = _round_python_int(exact, int(low[m, n]))
    return out


def _block_product_python(a, w, bias):
    """:func:`block_product` in Python integers (golden.mx.matmul): for the widest elements."""
    acc = matmul(a, w)
    significand, exponent = _fp32_parts(bias)
    out = np.empty(acc.values.shape, dtype=np.float32)
    for (m, n), value in np.ndenumerate(acc.values):
        low = min(acc.exponent, int(exponent[n]))
        total = (int(value) << (acc.exponent - low)) + (int(significand[n])
                                                        << (int(exponent[n]) - low))
        out[m, n] = _round_python_int(total, low)
    return out


def weight_blocks(step, columns=slice(None)):
    """A full-MX step's weights (K, N) as a :class:`golden.mx.BlockTensor` (``columns``: one
    group's)."""
    shift = np.asarray(step.w_shift)[:, columns]
    block = step.a_fmt.block
    exponents = shift[::block] + int(step.w_block_exponent)
    return BlockTensor(step.a_fmt, np.asarray(step.w_codes)[:, columns], exponents, 0)


def _matrix_product(step, rows, columns, exact):
    """One matrix product of a full-MX step on FP32 ``rows`` (M, K), a chunk of rows at a
    time (rows are independent; small chunks keep the temporaries in cache)."""
    weights = _Weights(weight_blocks(step, columns),
                       np.asarray(step.bias, dtype=np.float32)[columns])
    out = np.empty((len(rows), len(weights.bias)), dtype=np.float32)
    chunk = max(1, _CHUNK_ELEMENTS // max(1, rows.shape[1]))
    for start in range(0, len(rows), chunk):
        x = rows[start:start + chunk].astype(np.float64)
        out[start:start + chunk] = (
            _quantized_product(step.a_fmt, x, weights) if exact else
            (step.a_fmt.quantize_decoded(x, axis=1).values @ weights.values
             + weights.bias).astype(np.float32))
    return out


def _quantized_product(mx, x, weights):
    """:func:`block_product` of float64 rows ``x`` (M, K) block-quantized in ``mx`` along K
    and prepared ``weights``, without their codes unless a row needs the integer path."""
    a = mx.quantize_decoded(x, axis=1)
    return _rows_product(a.values, (a.exponents, a.nonzero), mx.element, weights,
                         lambda rows: mx.quantize(x[rows], axis=1))


def _activate(y, node):
    ceiling = relu_ceiling(node)
    if ceiling is not None:
        y = np.maximum(y, np.float32(0))
        if ceiling < math.inf:
            y = np.minimum(y, np.float32(ceiling))
    return y


def _run_node(step, inputs, exact):
    node, x = step.node, inputs[0]
    if node.op == "conv":
        weight_shape = node["weight"].shape
        parts = []
        for channels, columns in group_slices(x.shape[1], weight_shape[0],
                                              node.attrs.get("groups", 1)):
            patches, (oh, ow) = im2col(x[:, channels], weight_shape[2:], stride=node["stride"],
                                       padding=node["padding"])
            parts.append(_matrix_product(step, patches, columns, exact))
        y = np.concatenate(parts, axis=-1).reshape(len(x), oh, ow, -1).transpose(0, 3, 1, 2)
        return _activate(y, node)
    if node.op == "dense":
        return _activate(_matrix_product(step, x, slice(None), exact), node)
    if node.op == "avgpool":  # summed in float64, not in FP32 as float_op would
        return float_op(node, [x.astype(np.float64)]).astype(np.float32)
    return float_op(node, inputs)  # max pooling, addition and flattening stay FP32


def logits(qnet, x, *, exact=True):
    """The FP32 logits of a full-MX :class:`golden.ptq.QuantizedNetwork` on images ``x``.
    ``exact=False`` is simulated quantization: the same block-quantized operands, their
    decoded values multiplied in float64."""
    values = {"input": np.asarray(qnet.network.check_input(x), dtype=np.float32)}
    for node in qnet.network.nodes:
        values[node.name] = _run_node(qnet.steps[node.name],
                                      [values[name] for name in node.inputs], exact)
    return values[qnet.network.output]
