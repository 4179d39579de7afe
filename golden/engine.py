"""The fast engine: a quantized network run on exact real values in float64, channels last.

:meth:`golden.ptq.QuantizedNetwork.run_integer` is the specification of a quantized network's
arithmetic (integers of codes, exact matrix products, one rounding per scaling stage). This
module computes the same codes faster, for evaluating whole test sets:

- every tensor is held as the real values of its codes, ``X * 2**int_exponent``, in float64;
  a product of two such values is exact, and so is every partial sum as long as the integer
  sums stay below 2**53 in units of the finest exponent: :func:`compile_plan` proves that bound
  for every step from the formats, the weights actually quantized and the biases, and returns
  ``None`` (use the reference) when a step could exceed it;
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
        """The float type each matrix product runs in, by node name: "float32" where the
        bound proves it exact, else "float64"."""
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
    when a step's exact sums could reach 2**53 (then the reference engine is the one to use)."""
    if mode not in ("integer", "fake"):
        raise ValueError(f"mode must be 'integer' or 'fake', not {mode!r}")
    exact = mode == "integer"
    network = qnet.network
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
    w = step.w_fmt.decode(step.w_codes)  # (K, N), K ordered (c, ky, kx) for a conv
    groups = node.attrs.get("groups", 1)
    if node.op == "conv":
        oc, c, kh, kw = node["weight"].shape  # c: input channels per group
        w = w.T.reshape(oc, c, kh, kw).transpose(2, 3, 1, 0).reshape(kh * kw * c, oc)
    out_fmt, ceiling = step.out_fmt, relu_ceiling(node)
    single = False
    if exact:
        unit = 2.0 ** (a_fmt.int_exponent + step.w_fmt.int_exponent)
        bias = step.bias.astype(np.float64) * unit
        # |ACC| <= max|Xa| * sum_k |Xw| + |bias| for every partial sum in any order.
        columns = np.abs(step.w_fmt.to_int(step.w_codes)).sum(axis=0)
        bound = a_fmt.max_abs_int * columns + np.abs(step.bias)
        if (bound.max() >= _EXACT or (bound * step.M).max() >= _EXACT
                or a_fmt.int_exponent + step.w_fmt.int_exponent - qnet.limits.shift_max < -960):
            return None, None  # beyond float64's exact integers (or near its subnormals)
        multiplier = _channel_multiplier(step)
        single = _single_exact(a_fmt, step.w_fmt, (a_fmt.max_abs_int * columns).max())
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
        if node.op == "conv":
            parts = []
            for channels, columns in group_slices(x.shape[-1], w.shape[1], groups):
                patches, (oh, ow) = im2col_nhwc(x[..., channels], node["weight"].shape[2:],
                                                node["stride"], node["padding"])
                parts.append(patches @ w[:, columns])
            y = parts[0] if groups == 1 else np.concatenate(parts, axis=-1)
            y = y.reshape(len(x), oh, ow, -1)
        else:
            y = x @ w
        if single:
            y = y.astype(np.float64)
            y *= multiplier
        y += bias
        return y

    def run(inputs):
        return _fake(out_fmt, _relu(scaled(inputs), ceiling))

    run.scaled = scaled
    return run, "float32" if single else "float64"


def _single_exact(a_fmt, w_fmt, product_bound):
    """Whether a product of ``a_fmt`` and ``w_fmt`` values is exact in float32: every value
    and every partial sum (at most ``product_bound`` units of 2**(ea + ew)) is a float32
    integer multiple of its unit, far from float32's subnormals and overflow."""
    exponents = (a_fmt.int_exponent, w_fmt.int_exponent,
                 a_fmt.int_exponent + w_fmt.int_exponent)
    return (product_bound < _EXACT_SINGLE and a_fmt.max_abs_int < _EXACT_SINGLE
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
    if exact:
        if window * in_fmt.max_abs_int * step.M >= _EXACT:
            return None
        factor = float(step.M) * 2.0 ** -int(step.shift)
    else:
        factor = 1.0 / window

    def run(inputs):
        if "kernel" in node.attrs:
            total = _windows(inputs[0], node["kernel"], node["stride"], np.add)
        else:
            total = inputs[0].sum(axis=(1, 2), keepdims=True)
        return _fake(step.out_fmt, total * factor)

    return run


def _add_step(node, step, in_fmts, exact):
    if exact:
        finest = min(f.int_exponent for f in in_fmts)
        if sum(f.max_abs_int * 2.0 ** (f.int_exponent - finest) for f in in_fmts) >= _EXACT:
            return None
    ceiling = relu_ceiling(node)

    def run(inputs):
        return _fake(step.out_fmt, _relu(inputs[0] + inputs[1], ceiling))

    return run
