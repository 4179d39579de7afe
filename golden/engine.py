"""The fast engine: a quantized network run on exact real values in float64, channels last.

:meth:`golden.ptq.QuantizedNetwork.run_integer` is the specification of a quantized network's
arithmetic (integers of codes, exact matrix products, one rounding per scaling stage). This
module computes the same codes faster, for evaluating whole test sets:

- every tensor is held as the real values of its codes, ``X * 2**int_exponent``, in float64;
  a product of two such values is exact, and so is every partial sum as long as the integer
  sums stay below 2**53 in units of the finest exponent: :func:`compile_plan` proves that bound
  for every step from the formats, the weights actually quantized and the biases;
- a step that could pass it (posit and minifloat at n >= 7: their unit is minpos squared)
  splits its operands' integers into digits whose products do stay below 2**53, adds them
  exactly into int64-digit accumulators and rounds from those (:mod:`golden.wide`): exact
  again, a few BLAS products instead of one, and never Python integers;
- a matrix product whose partial sums provably stay below 2**24 units (narrow formats, most
  layers at n <= 6) runs in float32, twice as fast and just as exact, and is scaled by
  ``M * 2**-shift`` in float64 afterwards (:meth:`Plan.precisions` says which);
- the scaling stage multiplies by ``M * 2**-shift`` (exact while ``|ACC * M| < 2**53``) and
  rounds once with the format's own exact ``quantize`` of a float64 value; that is the same
  real number rounded by the same rule as :meth:`golden.format.NumberFormat.quantize_exact`;
- convolutions run as im2col products with channels last (patch columns ordered (ky, kx, c),
  the weight rows permuted to match; one product per group of a grouped convolution):
  integer sums do not depend on the order;
- max-pooling compares real values, which order like the codes.

The same plan in ``fake`` mode is simulated quantization (:meth:`~golden.ptq.QuantizedNetwork.
run_fake`'s arithmetic: dequantized weights times the exact channel scales, unrounded biases,
exact means, float sums), for a fair speed comparison and for the study's fake column.
"""

import functools
import math

import numpy as np

from .conv import conv_output_size, group_slices, padding_sides
from .network import average_count, relu_ceiling
from .wide import WideInt, digit_bounds, split_digits

__all__ = ["Plan", "compile_plan", "im2col_nhwc"]

_EXACT = 2.0 ** 53
_EXACT_SINGLE = 2.0 ** 24
_BATCH = 50


def im2col_nhwc(x, kernel, stride, padding):
    """Patches of ``x`` (B, H, W, C) as rows (B*OH*OW, KH*KW*C), columns ordered (ky, kx, c);
    padding (one int or (top, left, bottom, right)) inserts zeros. Returns the patches and
    (OH, OW)."""
    B, H, W, C = x.shape
    kh, kw = kernel
    top, left, bottom, right = padding_sides(padding)
    oh = conv_output_size(H, kh, stride, top, bottom)
    ow = conv_output_size(W, kw, stride, left, right)
    if top or left or bottom or right:
        padded = np.zeros((B, H + top + bottom, W + left + right, C), dtype=x.dtype)
        padded[:, top:top + H, left:left + W] = x
    else:
        padded = x
    patches = np.empty((B, oh, ow, kh, kw, C), dtype=x.dtype)
    if stride == 1:
        # A row's kw neighbouring pixels are one contiguous run of kw*C values: copy runs.
        runs = np.lib.stride_tricks.sliding_window_view(padded, kw, axis=2)
        runs = runs.transpose(0, 1, 2, 4, 3)  # (B, Hp, OW, kw, C), (kw, C) contiguous
        for ky in range(kh):
            patches[:, :, :, ky] = runs[:, ky:ky + oh]
    else:
        for ky in range(kh):
            for kx in range(kw):
                patches[:, :, :, ky, kx] = padded[:, ky:ky + stride * oh:stride,
                                                  kx:kx + stride * ow:stride]
    return patches.reshape(B * oh * ow, kh * kw * C), (oh, ow)


class _Step:
    """One node of a compiled plan: a function of the input tensors (channels last)."""

    def __init__(self, node, run, precision="float64"):
        self.node, self.run, self.precision = node, run, precision


class Plan:
    """A compiled quantized network (see :func:`compile_plan`).

    Calling :meth:`values` gives the real values of the output codes (``integer`` mode: exactly
    the values of :meth:`~golden.ptq.QuantizedNetwork.run_integer`'s codes), :meth:`codes` the
    output codes themselves.
    """

    def __init__(self, qnet, mode, steps):
        self.qnet, self.mode, self.steps = qnet, mode, steps

    def precisions(self):
        """How each matrix product runs, by node name: "float32" where the bound proves it
        exact, "float64" where that bound does, else "wide" (split operands, exact digits)."""
        return {step.node.name: step.precision for step in self.steps
                if step.node.op in ("conv", "dense")}

    def values(self, x, *, batch=_BATCH):
        x = self.qnet.network.check_input(x)
        parts = [self._run(x[i:i + batch]) for i in range(0, len(x), batch)]
        return np.concatenate(parts) if parts else np.zeros((0,))

    def codes(self, x, *, batch=_BATCH):
        return self.qnet.format_of(self.qnet.network.output).quantize(self.values(x, batch=batch))

    def _run(self, x):
        fmt = self.qnet.input_fmt
        tensors = {"input": _fake(fmt, x.transpose(0, 2, 3, 1))}
        for step in self.steps:
            tensors[step.node.name] = step.run([tensors[name] for name in step.node.inputs])
        out = tensors[self.qnet.network.output]
        return out.transpose(0, 3, 1, 2) if out.ndim == 4 else out


def _fake(fmt, x):
    """``x`` rounded to ``fmt``'s values (quantize, then the value of each code)."""
    return np.take(_value_table(fmt), fmt.quantize(x))


@functools.lru_cache(maxsize=None)
def _value_table(fmt):
    return fmt.decode(fmt.codes())


def _channel_multiplier(step):
    return (np.asarray(step.M, dtype=np.float64) * np.ldexp(1.0, -np.asarray(step.shift)))


def compile_plan(qnet, mode="integer"):
    """The fast plan of a :class:`golden.ptq.QuantizedNetwork`, or ``None`` in ``integer`` mode
    when some format's operands ``X`` pass int64 (:attr:`~golden.format.NumberFormat.wide`:
    then the reference engine is the one to use). Steps whose exact sums could pass 2**53
    units run on split operands and wide accumulators (:mod:`golden.wide`)."""
    if mode not in ("integer", "fake"):
        raise ValueError(f"mode must be 'integer' or 'fake', not {mode!r}")
    exact = mode == "integer"
    network = qnet.network
    formats = [qnet.input_fmt] + [f for step in qnet.steps.values()
                                  for f in (step.out_fmt, step.w_fmt) if f is not None]
    if exact and any(fmt.wide for fmt in formats):
        return None  # operands beyond int64 (n >= 9 posits, wide exponents): the reference
    steps = []
    for node in network.nodes:
        step = qnet.steps[node.name]
        in_fmts = [qnet.format_of(name) for name in node.inputs]
        precision = "float64"
        if node.op in ("conv", "dense"):
            run, precision = _matmul_step(node, step, in_fmts[0], exact, qnet)
        elif node.op == "maxpool":
            run = _maxpool(node["kernel"], node["stride"])
        elif node.op == "flatten":
            run = lambda inputs: (inputs[0].transpose(0, 3, 1, 2).reshape(len(inputs[0]), -1)
                                  if inputs[0].ndim == 4 else inputs[0])
        elif node.op == "avgpool":
            run = _avgpool_step(node, step, in_fmts[0], exact, network)
        else:
            run = _add_step(node, step, in_fmts, exact)
        if run is None:
            return None
        steps.append(_Step(node, run, precision))
    return Plan(qnet, mode, steps)


def _matmul_step(node, step, a_fmt, exact, qnet):
    w = _conv_weight_rows(node, step.w_values)
    out_fmt, ceiling = step.out_fmt, relu_ceiling(node)
    single = False
    if exact:
        unit = 2.0 ** (a_fmt.int_exponent + step.w_exponent)
        bias = step.bias.astype(np.float64) * unit
        # |ACC| <= max|Xa| * sum_k |Xw| + |bias| for every partial sum in any order.
        # Python integers: these bounds can pass int64 (FP8 E5M2: 2**34 squared times K).
        columns = np.abs(step.w_ints).sum(axis=0).astype(object)
        bound = a_fmt.max_abs_int * columns + np.abs(step.bias).astype(object)
        if (bound.max() >= _EXACT or (bound * step.M.astype(object)).max() >= _EXACT
                or a_fmt.int_exponent + step.w_exponent - qnet.limits.shift_max < -960):
            # Beyond float64's exact integers (or near its subnormals): digits.
            return _wide_matmul_step(node, step, a_fmt), "wide"
        multiplier = _channel_multiplier(step)
        single = _single_exact(a_fmt.int_exponent, step.w_exponent, a_fmt.max_abs_int,
                               (a_fmt.max_abs_int * columns).max())
        if single:
            # The product in float32 (exact: every partial sum below 2**24 units), then
            # times M * 2**-shift in float64: S*M, bias*M and their sum stay below 2**53.
            w, bias = w.astype(np.float32), bias * multiplier
        else:
            # Folding M * 2**-shift into the weights and bias keeps every product exact:
            # |Xw * M| and every partial sum times M stay below 2**53 (the bound above).
            w, bias = w * multiplier, bias * multiplier
    else:
        w = w * step.channel_scale
        bias = np.asarray(step.float_bias, dtype=np.float64)

    def scaled(inputs):
        """ACC * M * 2**-shift of every output, exact (integer mode), before ReLU."""
        x = inputs[0].astype(np.float32) if single else inputs[0]
        y = _products(node, x, lambda patches, columns: patches @ w[:, columns])
        if single:
            y = y.astype(np.float64)
            y *= multiplier
        y += bias
        return y

    def run(inputs):
        return _fake(out_fmt, _relu(scaled(inputs), ceiling))

    run.scaled = scaled
    return run, "float32" if single else "float64"


def _conv_weight_rows(node, w):
    """A conv's (K, N) weight matrix, rows ordered (c, ky, kx), reordered (ky, kx, c) to match
    :func:`im2col_nhwc`; a dense one unchanged."""
    if node.op != "conv":
        return w
    oc, c, kh, kw = node["weight"].shape  # c: input channels per group
    return w.T.reshape(oc, c, kh, kw).transpose(2, 3, 1, 0).reshape(kh * kw * c, oc)


def _products(node, x, product):
    """``product(patches, columns)`` for every group of a conv node (its im2col patches of
    ``x`` (B, H, W, C) and its output columns), as (B, OH, OW, ..., N) (a product may give
    (rows, ..., N)); ``product(x, slice(None))`` for a dense one."""
    if node.op != "conv":
        return product(x, slice(None))
    parts = []
    out_channels = node["weight"].shape[0]
    for channels, columns in group_slices(x.shape[-1], out_channels,
                                          node.attrs.get("groups", 1)):
        patches, (oh, ow) = im2col_nhwc(x[..., channels], node["weight"].shape[2:],
                                        node["stride"], node["padding"])
        parts.append(product(patches, columns))
    y = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)
    return y.reshape(len(x), oh, ow, *y.shape[1:])


def _digit_split(a_bound, w_ints):
    """How to split the operands of an exact product whose sums pass 2**53: ``(a_bits,
    a_count, w_bits, w_count)``, the fewest digit products (activation digits ``a_bits``
    wide, ``a_count`` of them, likewise the weights) whose every sum over K stays below
    2**53 (``a_bound``: the largest |Xa|; ``w_ints``: the weights' X, (K, N) int64)."""
    a_width = max(int(a_bound).bit_length(), 1)
    w_width = max(int(np.abs(w_ints).max(initial=0)).bit_length(), 1)
    # Per weight digit count: its digits' width and their largest column sum.
    w_splits = {}
    for w_count in range(1, 8):
        w_bits = -(-w_width // w_count)
        w_splits[w_count] = w_bits, max(int(np.abs(d).sum(axis=0).max(initial=0))
                                        for d in split_digits(w_ints, w_bits, w_count))
    options = []
    for a_count in range(1, 8):
        a_bits = -(-a_width // a_count)
        a_digit = max(digit_bounds(int(a_bound), a_bits, a_count))
        for w_count, (w_bits, columns) in w_splits.items():
            if a_digit * columns < _EXACT:
                options.append((a_count * w_count, a_count, a_bits, a_count, w_bits, w_count))
    if not options:
        raise ValueError("no digit split keeps these sums below 2**53")
    return min(options)[2:]


def _wide_matmul_step(node, step, a_fmt):
    """A conv or dense step whose sums can pass 2**53 units: operands split into digits whose
    products are exact float64 BLAS sums (:func:`_digit_split`). Their sum, scaled, is
    rounded in float64 within a proven error; where that interval holds one code (monotone
    rounding), that is the code, and the rest are summed and rounded exactly in
    :class:`~golden.wide.WideInt` digits."""
    w_ints = _conv_weight_rows(node, step.w_ints)
    a_bits, a_count, w_bits, w_count = _digit_split(a_fmt.max_abs_int, w_ints)
    w_digits = [d.astype(np.float64) for d in split_digits(w_ints, w_bits, w_count)]
    offsets = [i * a_bits + j * w_bits for i in range(a_count) for j in range(w_count)]
    unit = 2.0 ** -a_fmt.int_exponent

    def products(patches, columns):
        a_digits = split_digits(patches * unit, a_bits, a_count)
        return np.stack([a_digit @ w_digit[:, columns]
                         for a_digit in a_digits for w_digit in w_digits], axis=-2)

    def run(inputs):
        terms = _products(node, inputs[0], products)  # (..., digit products, N)
        return _round_terms(terms, offsets, step, a_fmt.int_exponent + step.w_exponent,
                            relu_ceiling(node))

    return run


# A float64 sum of a few exactly scaled terms is within (terms + 1) * 2**-53 of their absolute
# sum; this margin covers up to 2**8 terms.
_ROUNDING_MARGIN = 2.0 ** -44


def _round_terms(terms, offsets, step, exponent, ceiling):
    """The real values of the output codes of accumulators ``sum_t terms[..., t, :] *
    2**offsets[t] + bias`` (units ``2**exponent``; ``terms`` exact float64 integers), through
    the step's scaling stage."""
    out_fmt = step.out_fmt
    scale = np.asarray(step.M, dtype=np.float64) * np.ldexp(1.0, exponent - np.asarray(step.shift))
    weights = np.ldexp(1.0, np.asarray(offsets))[:, None]
    bias = np.asarray(step.bias, dtype=np.float64)
    approx = (np.einsum("...tn,tk->...n", terms, weights) + bias) * scale
    margin = (np.einsum("...tn,tk->...n", np.abs(terms), weights) + np.abs(bias)) * (
        scale * _ROUNDING_MARGIN)
    result, split = out_fmt.quantize_interval(_relu(approx - margin, ceiling),
                                              _relu(approx + margin, ceiling))
    hard = np.nonzero(split)
    if hard[0].size:
        channel = hard[-1]
        acc = WideInt(channel.shape, 0)
        for t, offset in enumerate(offsets):
            acc.add(terms[(*hard[:-1], t, channel)].astype(np.int64), offset)
        acc.add_integers(np.asarray(step.bias, dtype=object)[channel])
        result[hard] = _wide_codes(acc.normalize(), exponent, np.asarray(step.M)[channel],
                                   np.asarray(step.shift)[channel], out_fmt, ceiling)
    return np.take(_value_table(out_fmt), result)


def _wide_codes(acc, exponent, M, shift, out_fmt, ceiling):
    """The scaling stage on exact accumulators ``acc * 2**exponent`` (a normalized
    :class:`~golden.wide.WideInt`; ``M`` and ``shift`` broadcast against it): output codes."""
    if ceiling is not None:
        acc.zero_where(acc.negative())
    acc.multiply(M)
    # Everything quantize_exact needs: the floor on its rounding grid (units of
    # 2**(int_exponent - 1)) and the sticky bit, passed as 2 * floor + sticky one bit finer.
    right = np.asarray(shift) + out_fmt.int_exponent - 1 - exponent
    floor, sticky = acc.floor_and_sticky(right, out_fmt.saturation_cap)
    codes = out_fmt.quantize_exact(2 * floor + sticky, out_fmt.int_exponent - 2)
    if ceiling is not None and ceiling < math.inf:
        codes = out_fmt.quantize(np.minimum(_value_table(out_fmt)[codes], ceiling))
    return codes


def _single_exact(a_exponent, w_exponent, a_bound, product_bound):
    """Whether a product of activations (integers up to ``a_bound`` at ``a_exponent``) and
    weights (at ``w_exponent``) is exact in float32: every value and every partial sum (at
    most ``product_bound`` units of 2**(ea + ew)) is a float32 integer multiple of its unit,
    far from float32's subnormals and overflow."""
    exponents = (a_exponent, w_exponent, a_exponent + w_exponent)
    return (product_bound < _EXACT_SINGLE and a_bound < _EXACT_SINGLE
            and min(exponents) >= -100 and max(exponents) <= 100)


def _relu(y, ceiling):
    """``y`` (float64, changed in place) through a ReLU clipped at ``ceiling`` (``None``: no
    ReLU). Clipping before the rounding equals clipping the rounded codes (monotone)."""
    if ceiling is not None:
        np.maximum(y, 0.0, out=y)
        if ceiling < math.inf:
            np.minimum(y, ceiling, out=y)
    return y


def _windows(x, kernel, stride, combine):
    """``combine`` (``np.maximum`` or ``np.add``) over the kernel x kernel windows of ``x``
    (B, H, W, C)."""
    B, H, W, C = x.shape
    oh, ow = (H - kernel) // stride + 1, (W - kernel) // stride + 1
    result = None
    for ky in range(kernel):
        for kx in range(kernel):
            window = x[:, ky:ky + stride * oh:stride, kx:kx + stride * ow:stride]
            result = window.copy() if result is None else combine(result, window, out=result)
    return result


def _maxpool(kernel, stride):
    return lambda inputs: _windows(inputs[0], kernel, stride, np.maximum)


def _avgpool_step(node, step, in_fmt, exact, network):
    window = average_count(node, network.shapes)
    wide = exact and window * in_fmt.max_abs_int * step.M >= _EXACT
    if wide and window * in_fmt.max_abs_int >= _EXACT:
        return None
    factor = float(step.M) * 2.0 ** -int(step.shift) if exact else 1.0 / window

    def run(inputs):
        if "kernel" in node.attrs:
            total = _windows(inputs[0], node["kernel"], node["stride"], np.add)
        else:
            total = inputs[0].sum(axis=(1, 2), keepdims=True)
        if wide:  # total * M can pass 2**53: scaled exactly in digits
            acc = WideInt(total.shape, 54)
            acc.add((total * 2.0 ** -in_fmt.int_exponent).astype(np.int64))
            return np.take(_value_table(step.out_fmt), _wide_codes(
                acc.normalize(), in_fmt.int_exponent, step.M, step.shift, step.out_fmt, None))
        return _fake(step.out_fmt, total * factor)

    return run


def _add_step(node, step, in_fmts, exact):
    finest = min(f.int_exponent for f in in_fmts)
    wide = exact and sum(f.max_abs_int * 2.0 ** (f.int_exponent - finest)
                         for f in in_fmts) >= _EXACT
    ceiling = relu_ceiling(node)

    def run(inputs):
        if wide:  # the aligned sum can pass 2**53 units: exact in digits
            acc = WideInt(inputs[0].shape, 64)
            for fmt, x in zip(in_fmts, inputs, strict=True):
                acc.add((x * 2.0 ** -fmt.int_exponent).astype(np.int64),
                        fmt.int_exponent - finest)
            return np.take(_value_table(step.out_fmt),
                           _wide_codes(acc.normalize(), finest, 1, 0, step.out_fmt, ceiling))
        return _fake(step.out_fmt, _relu(inputs[0] + inputs[1], ceiling))

    return run
