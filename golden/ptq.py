"""Post-training quantization of a folded :class:`golden.network.Network`, and its execution.

Quantization points are the input, every weight tensor and the output of every conv, dense,
add and average-pool node (max-pool and flatten keep their input's codes and format). Formats
are chosen on the float network's activations over calibration images (a deterministic sample
of at most ``sample`` values per tensor), by one of the :data:`SCHEMES`:

``tfx``
    TENT: every tensor its own ``TFX(n, IS, SC)``, searched (MSE) over the hardware family
    ``TFXFamily(n, default_is_max(n))``.
``tfx-channel``
    TENT with per-output-channel weight scales: each channel's weights divided by its scale
    ``max|W_c| / max_c max|W_c|`` (so every channel's largest weight meets the tensor's), the
    scale carried by the scaling stage's ``M`` and ``shift``, the (IS, SC) of the scaled
    weights searched as for ``tfx``. Activations as ``tfx``.
``fxp-channel``
    The strongest practical fixed-point baseline: activations with their own F, unsigned where
    they cannot be negative (after ReLU, and pools or flattening of such tensors); weights
    quantized per output channel with the symmetric scale ``max|W_c| / (2**(n-1) - 1)``, the
    channel's scale carried by the scaling stage's ``M`` and ``shift`` (like TFLite's int8).
``fxp-channel-signed``
    ``fxp-channel`` with every activation signed: what the per-channel scales alone give.
``fxp-layer``
    Every tensor its own signed ``FXP(n, F)`` (F searched, MSE).
``fxp-global``
    A single-format design without per-tensor scales: one signed ``FXP(n, F_w)`` for every
    weight tensor and one ``FXP(n, F_a)`` for every activation (the input included), each F
    minimising the sum over its tensors of the MSE divided by the tensor's mean square (so
    that no tensor's magnitude outweighs the others).
``posit``, ``posit-channel``
    As ``tfx`` and ``tfx-channel`` with ``Posit(n, 1, SC)``, SC searched per tensor
    (:func:`golden.family.default_posit_es`).
``fp``, ``fp-channel``
    As ``tfx`` and ``tfx-channel`` with the minifloat ``FP(n, E, SC)``, SC searched per
    tensor, E the OCP type's at its width (E4M3, E2M3, E2M1; :func:`golden.family.default_fp_E`).
``tfx-channel-unsigned``, ``posit-channel-unsigned``, ``fp-channel-unsigned``
    The ``-channel`` schemes with the unsigned variant of their kind (:mod:`golden.unsigned`:
    ``UTFX(n, IS, SC)``, ``UPosit``, ``UFP``) for every activation that cannot be negative,
    as ``fxp-channel`` does for fixed point; its (IS,) SC searched as for the signed member
    one bit wider (:func:`unsigned_choice`). The accelerator runs them (and ``fxp-channel``)
    built for the family with its unsigned variants (:attr:`QuantizedNetwork.hardware_family`).

``tfx-mx``, ``tfx-mx16``, ``fxp-mx``, ``fxp-mx16``, ``posit-mx``, ``fp-mx``
    Weight-only block scaling (W-MX, :mod:`golden.mx`): weights block-scaled along K in
    blocks of 32 (16), elements the family's widest member at scale 0 (MXINT(n) for fixed
    point, :func:`mx_format`), the OCP floor rule; activations per tensor as ``tfx`` or
    ``fxp-layer``.
``tfx-mx-full``, ``fxp-mx-full``, ``posit-mx-full``, ``fp-mx-full``
    Full MX (:mod:`golden.fullmx`): weights as W-MX (blocks of 32) and every matrix
    product's activations block-scaled at its input in the same MX format, FP32 between
    matrix products. Golden model only: :meth:`QuantizedNetwork.logits` runs them, the
    accelerator does not (:func:`check_runnable`).

The searched schemes (``tfx``, ``posit``, ``fp`` and their ``-channel`` variants) pick from
the project's family of their kind unless given another of the same kind and width
(:func:`scheme_family`): posit with es = 0, FP8 E5M2, TFX with another regime cap.

In every channel scheme a channel whose scale would fall below the smallest ``M * 2**-shift``
(``2**-shift_max``) takes that smallest scale; a channel of zeros takes scale 1.

**Bias correction** (on by default, every scheme): the expected shift of each conv or dense
output that weight quantization causes, ``E[x] @ (W_q - W)`` with ``E[x]`` the mean of the
layer's float input (its im2col columns for a convolution) over the calibration images, is
subtracted from the bias before the bias is rounded (Nagel et al., "Data-free quantization
through weight equalization and bias correction", ICCV 2019, the empirical form).

Two ways to run the result:

- :meth:`QuantizedNetwork.run_integer`: the hardware's arithmetic, bit for bit: codes in, exact
  :func:`golden.arith.matmul` (im2col for convolutions), the bias in accumulator units, one
  rounding in :func:`golden.arith.scale`; max-pool on codes; residual addition of two tensors of
  different scales as an exact sum aligned to the finer scale, rounded once; average pooling as
  an exact sum times ``M * 2**-shift`` (``M / 2**shift`` the closest to ``1 / window``); a
  clipped ReLU (ReLU6) as the codes clipped at the ceiling's code (:func:`clip_codes`).
- :meth:`QuantizedNetwork.run_fake`: the usual simulated ("fake") quantization in float64: the
  same formats for weights and activations, but an unrounded bias, exact channel scales and an
  exact mean.
"""

import math
from dataclasses import dataclass, replace

import numpy as np

from .arith import DEFAULT_LIMITS, Accumulators, ScalingLimits, matmul, scale
from .conv import conv2d, conv_output_size, group_slices, padding_sides
from .engine import compile_plan
from . import fullmx
from .family import Family, FXPFamily, WithUnsigned, default_family
from .fxp import FXP, MAX_F, MIN_F
from .layers import Layer, accumulator_bias, choose_format
from .mx import MX, mxint
from .network import Network, average_count, float_op, pool_windows, relu_ceiling
from .search import search_fxp
from .unsigned import unsigned
from ._checks import check_bool, check_choice, check_int

__all__ = ["SCHEMES", "TFX_SCHEMES", "FXP_SCHEMES", "POSIT_SCHEMES", "FP_SCHEMES",
           "UNSIGNED_SCHEMES", "MX_SCHEMES", "FULL_MX_SCHEMES", "MX_SPREAD", "unsigned_choice",
           "mx_format", "Calibration",
           "Step", "QuantizedNetwork",
           "quantize_network", "calibration_samples", "signed_codes", "code_words",
           "clip_codes", "scheme_kind", "scheme_family", "check_runnable"]

TFX_SCHEMES = ("tfx", "tfx-channel", "tfx-channel-unsigned", "tfx-mx", "tfx-mx16",
               "tfx-mx-full")
FXP_SCHEMES = ("fxp-channel", "fxp-channel-signed", "fxp-layer", "fxp-global", "fxp-mx",
               "fxp-mx16", "fxp-mx-full")
POSIT_SCHEMES = ("posit", "posit-channel", "posit-channel-unsigned", "posit-mx",
                 "posit-mx-full")
FP_SCHEMES = ("fp", "fp-channel", "fp-channel-unsigned", "fp-mx", "fp-mx-full")
#: Weight-only block scaling (W-MX, :mod:`golden.mx`): weights block-scaled along K in blocks
#: of 32 (16 for the ``16`` schemes), activations per tensor.
MX_SCHEMES = ("tfx-mx", "tfx-mx16", "fxp-mx", "fxp-mx16", "posit-mx", "fp-mx")
#: Full MX (:mod:`golden.fullmx`): weights and every matrix product's activations
#: block-scaled in blocks of 32, FP32 between matrix products; the golden model runs them,
#: the accelerator does not.
FULL_MX_SCHEMES = ("tfx-mx-full", "fxp-mx-full", "posit-mx-full", "fp-mx-full")
#: The largest difference of one layer's block exponents that the W-MX schemes allow by
#: default (the study's; a 4-bit shift in hardware). ``quantize_network(mx_spread=)`` takes
#: another, down to 1, for a build with narrower accumulators.
MX_SPREAD = 15
#: The schemes that give nonnegative activations their kind's unsigned variant.
UNSIGNED_SCHEMES = ("tfx-channel-unsigned", "fxp-channel", "posit-channel-unsigned",
                    "fp-channel-unsigned")
SCHEMES = TFX_SCHEMES + FXP_SCHEMES + POSIT_SCHEMES + FP_SCHEMES
# Schemes whose every tensor takes its member of the scheme's family by the per-tensor search.
_SEARCHED = TFX_SCHEMES + POSIT_SCHEMES + FP_SCHEMES
_QUANTIZED_OPS = ("conv", "dense", "add", "avgpool")


def scheme_kind(scheme):
    """The format kind a scheme quantizes to (``"tfx"``, ``"fxp"``, ``"posit"``, ``"fp"``)."""
    check_choice("scheme", scheme, SCHEMES)
    return scheme.split("-")[0]


def scheme_family(scheme, n, family=None):
    """The format family whose members a scheme picks from (weights and signed tensors) at
    width ``n``: ``family`` when given, which must be of the scheme's kind and width and only
    for a searched scheme (another exponent size or regime cap, e.g. ``FPFamily(8, 5)`` for
    ``fp``), else the project's (:func:`golden.family.default_family`)."""
    kind = scheme_kind(scheme)
    default = default_family(kind, n)
    if family is None:
        return default
    if not isinstance(family, Family):
        raise TypeError(f"family must be a golden.family.Family, not {family!r}")
    if family == default:
        return default
    if family.kind != kind or family.n != n:
        raise ValueError(f"scheme {scheme} at n = {n} picks formats of a {kind} family of "
                         f"width {n}, not {family.label}")
    if scheme not in _SEARCHED:
        raise ValueError(f"scheme {scheme} picks formats of {default.label} only (another "
                         f"family: {', '.join(_SEARCHED)}), not {family.label}")
    return family


def signed_codes(codes, fmt):
    """Codes as signed integers that compare like the values (``fmt.ordinals``)."""
    return fmt.ordinals(codes)


def code_words(values, fmt):
    """The inverse of :func:`signed_codes`: n-bit code words (``fmt.from_ordinals``)."""
    return fmt.from_ordinals(values)


def clip_codes(codes, fmt, ceiling):
    """``fmt`` codes clipped at the code nearest ``ceiling``, the top of a clipped ReLU
    (``None`` or ``math.inf``: unchanged). Rounding is monotone, so clipping the rounded value
    at the rounded ceiling is the rounding of the clipped value: exact, and done on the
    accelerator's result codes by the host. NaR stays NaR."""
    if ceiling is None or ceiling == math.inf:
        return codes
    top = signed_codes(fmt.quantize(np.array([float(ceiling)])), fmt)[0]
    return code_words(np.minimum(signed_codes(codes, fmt), top), fmt)


@dataclass(frozen=True)
class Step:
    """How one node runs quantized: its output format and, for conv and dense, the weight codes
    (a (K, N) matrix), formats and per-channel scaling parameters; for avgpool, M and shift."""

    node: object
    out_fmt: object
    w_fmt: object = None
    w_codes: np.ndarray = None
    bias: np.ndarray = None  # accumulator units
    M: np.ndarray = None
    shift: np.ndarray = None
    channel_scale: np.ndarray = None  # the float multiplier M and shift stand for
    a_fmt: object = None
    float_bias: np.ndarray = None  # the real bias (bias-corrected) that ``bias`` rounds
    # Block-scaled weights (W-MX, golden.mx): each weight's block exponent above the layer's
    # smallest (K, N), and that smallest exponent; None and 0 for every other scheme.
    w_shift: np.ndarray = None
    w_block_exponent: int = 0

    @property
    def w_exponent(self):
        """The exponent of the weights' integer operands :attr:`w_ints`."""
        return self.w_fmt.int_exponent + int(self.w_block_exponent)

    @property
    def w_ints(self):
        """The weights' exact integer operands (K, N) at :attr:`w_exponent` (int64)."""
        ints = np.asarray(self.w_fmt.to_int(self.w_codes), dtype=np.int64)
        return ints if self.w_shift is None else ints << np.asarray(self.w_shift)

    @property
    def w_values(self):
        """The weights' real values (K, N), exact in float64."""
        values = self.w_fmt.decode(self.w_codes)
        if self.w_shift is None:
            return values
        return np.ldexp(values, np.asarray(self.w_shift) + int(self.w_block_exponent))

    def layer(self, family, limits=DEFAULT_LIMITS, columns=slice(None)):
        """A conv or dense step (its output ``columns``: one group of a grouped convolution)
        as the :class:`golden.layers.Layer` an accelerator built for ``family`` runs (an
        error if a format is not a member)."""
        if self.w_fmt is None:
            raise ValueError(f"node {self.node.name!r} ({self.node.op}) is not a matrix product")
        bias, M, shift = (np.asarray(v)[columns] for v in (self.bias, self.M, self.shift))
        w_fmt, w_shift = self.w_fmt, None
        if self.w_shift is not None:  # W-MX: the smallest block exponent in w_fmt's scale
            w_fmt = _scaled_member(family, self.w_fmt, int(self.w_block_exponent))
            w_shift = np.asarray(self.w_shift)[:, columns]
        return Layer.make(family=family, a_fmt=self.a_fmt, w_fmt=w_fmt,
                          out_fmt=self.out_fmt, N=len(bias), bias=bias, M=M, shift=shift,
                          relu=bool(self.node["relu"]), w_shift=w_shift, limits=limits)


def _scaled_member(family, fmt, exponent):
    """The member of ``family`` with ``fmt``'s codes and values times ``2**exponent`` (its
    scale register moved by ``exponent``); a ``ValueError`` beyond the scale's range."""
    family.check_member(fmt)
    registers = family.registers(fmt)
    step = family.int_exponent(1) - family.int_exponent(0)  # +1 (SC) or -1 (F)
    scale = registers["scale"] + step * exponent
    low, high = family.scale_range
    if not low <= scale <= high:
        raise ValueError(f"the weights' smallest block exponent {exponent} takes "
                         f"{family.scale_name} to {scale}, beyond {low} to {high}")
    fields = {name: value for name, value in registers.items() if name != "scale"}
    return family.member_from(fields, scale)


class QuantizedNetwork:
    """A folded network with a format for every tensor and the parameters of every step."""

    def __init__(self, network, scheme, n, input_fmt, steps, limits, family=None):
        self.network, self.scheme, self.n = network, scheme, n
        self.input_fmt, self.steps, self.limits = input_fmt, steps, limits
        #: The family the scheme picked from: what an accelerator running it is built for.
        self.family = scheme_family(scheme, n, family)
        self._plans = {}

    def format_of(self, name):
        return self.input_fmt if name == "input" else self.steps[name].out_fmt

    @property
    def mx_block(self):
        """The block size of the block-scaled weights (W-MX schemes: an accelerator runs them
        built with this ``mx_block``), or None."""
        if self.scheme not in MX_SCHEMES:
            return None
        return mx_format(self.scheme, self.family).block

    @property
    def block_spread(self):
        """The largest block shift of any layer's block-scaled weights (0 without): an
        accelerator's ``mx_spread`` must be at least this."""
        return max((int(np.max(step.w_shift, initial=0)) for step in self.steps.values()
                    if step.w_shift is not None), default=0)

    @property
    def hardware_family(self):
        """The family an accelerator that runs this network is built for: :attr:`family`,
        with its unsigned variants (:class:`golden.family.WithUnsigned`) when some tensor is
        unsigned."""
        formats = [f for f in [self.input_fmt] + [f for step in self.steps.values()
                                                  for f in (step.out_fmt, step.w_fmt)]
                   if f is not None]
        if all(fmt.signed for fmt in formats):
            return self.family
        return WithUnsigned(self.family)

    @property
    def full_mx(self):
        """Whether the scheme is full MX (:mod:`golden.fullmx`: golden model only)."""
        return self.scheme in FULL_MX_SCHEMES

    def formats(self):
        """Every quantization point's format label, by tensor name (weights as ``name.w``;
        full MX: every tensor FP32, each matrix product's block-scaled operands as
        ``name.a`` and ``name.w``)."""
        if self.full_mx:
            labels = {"input": fullmx.FP32_LABEL}
            for name, step in self.steps.items():
                if step.node.op in _QUANTIZED_OPS:
                    labels[name] = fullmx.FP32_LABEL
                if step.w_fmt is not None:
                    labels[f"{name}.a"] = labels[f"{name}.w"] = step.a_fmt.label
            return labels
        labels = {"input": self.input_fmt.label}
        for name, step in self.steps.items():
            if step.node.op in _QUANTIZED_OPS:
                labels[name] = step.out_fmt.label
            if step.w_fmt is not None:
                labels[f"{name}.w"] = step.w_fmt.label
        return labels

    def traffic(self):
        """Per inference (one image): ``macs``, and the memory traffic in bits of a design that
        stores every tensor once: ``weight_bits`` (every weight read once, n bits, and for
        W-MX every block's 8-bit scale),
        ``bias_bits`` (every bias read once, ``limits.bias_bits``), ``activation_bits`` (the
        input and every node's output written once and read once by each consumer, n bits;
        a flatten is a view, its consumers read its source). Full MX: biases and
        activations are FP32 (32 bits), weights as W-MX."""
        shapes, n = self.network.shapes, self.n
        source = {}
        reads = {"input": 0}
        macs = weights = biases = scale_bits = 0
        for node in self.network.nodes:
            inputs = [source.get(name, name) for name in node.inputs]
            if node.op == "flatten":
                source[node.name] = inputs[0]
                continue
            reads[node.name] = 0
            for name in inputs:
                reads[name] += 1
            if node.op in ("conv", "dense"):
                rows, columns = _matrix(node).shape
                weights += rows * columns
                biases += columns
                if self.scheme in MX_SCHEMES + FULL_MX_SCHEMES:  # an E8M0 scale per block
                    block = mx_format(self.scheme, self.family).block
                    scale_bits += -(-rows // block) * columns * 8
                macs += rows * int(np.prod(shapes[node.name]))
        elements = sum(int(np.prod(shapes[name])) * (1 + count) for name, count in reads.items())
        stored = 32 if self.full_mx else n
        return {"macs": macs, "weight_bits": weights * n + scale_bits,
                "bias_bits": biases * (32 if self.full_mx else self.limits.bias_bits),
                "activation_bits": elements * stored}

    def _codes_only(self):
        if self.full_mx:
            raise ValueError(f"{self.scheme} is full MX, on FP32 values between matrix "
                             f"products, not codes: run it with logits() or predict()")

    def run_step(self, name, inputs):
        """One node's output codes from its input codes (the hardware's arithmetic)."""
        self._codes_only()
        node = self.steps[name].node
        return self._integer_step(self.steps[name], inputs,
                                  [self.format_of(source) for source in node.inputs])

    def run_integer(self, x, *, keep=False):
        """The hardware's arithmetic on codes; returns the logits' codes (or every tensor's)."""
        self._codes_only()
        codes = {"input": self.input_fmt.quantize(self.network.check_input(x))}
        for node in self.network.nodes:
            codes[node.name] = self.run_step(node.name, [codes[name] for name in node.inputs])
        return codes if keep else codes[self.network.output]

    def _integer_step(self, step, inputs, formats):
        node, x, fmt = step.node, inputs[0], formats[0]
        if node.op in ("conv", "dense"):
            shift = step.w_shift
            if node.op == "conv":
                shape = node["weight"].shape
                acc = conv2d(x, fmt, step.w_codes.T.reshape(shape), step.w_fmt,
                             stride=node["stride"], padding=node["padding"],
                             groups=node.attrs.get("groups", 1), bias=step.bias,
                             limits=self.limits,
                             w_shift=None if shift is None else shift.T.reshape(shape))
            else:
                acc = matmul(x, fmt, step.w_codes, step.w_fmt, bias=step.bias,
                             limits=self.limits, w_shift=shift)
            acc = replace(acc, exponent=acc.exponent + int(step.w_block_exponent))
            y = scale(acc, step.out_fmt, M=step.M, shift=step.shift, relu=bool(node["relu"]),
                      limits=self.limits)
            y = clip_codes(y, step.out_fmt, relu_ceiling(node))
            return y.transpose(0, 3, 1, 2) if node.op == "conv" else y
        if node.op == "maxpool":
            best = pool_windows(signed_codes(x, fmt), node["kernel"], node["stride"]).max(-1)
            return code_words(best, fmt)
        if node.op == "flatten":
            return x.reshape(len(x), -1)
        if node.op == "avgpool":
            total = (pool_windows(fmt.to_int(x), node["kernel"], node["stride"]).sum(-1)
                     if "kernel" in node.attrs else fmt.to_int(x).sum(axis=(2, 3), keepdims=True))
            acc = Accumulators(total, fmt.int_exponent, np.zeros(total.shape, bool))
            return scale(acc, step.out_fmt, M=step.M, shift=step.shift, limits=self.limits)
        # add: both integers aligned to the finer scale, summed exactly, rounded once.
        exponent = min(f.int_exponent for f in formats)
        total = sum(f.to_int(c).astype(object if f.int_exponent - exponent > 40 else np.int64)
                    << (f.int_exponent - exponent) for f, c in zip(formats, inputs))
        acc = Accumulators(np.asarray(total), exponent, np.zeros(np.shape(total), bool))
        y = scale(acc, step.out_fmt, relu=bool(node["relu"]), limits=self.limits)
        return clip_codes(y, step.out_fmt, relu_ceiling(node))

    def run_fake(self, x):
        """Simulated quantization in float64; returns the logits (real values)."""
        if self.full_mx:
            return fullmx.logits(self, x, exact=False)
        values = {"input": _fake(self.input_fmt, self.network.check_input(x))}
        for node in self.network.nodes:
            step = self.steps[node.name]
            inputs = [values[name] for name in node.inputs]
            if node.op in ("conv", "dense"):
                weight = step.w_values * step.channel_scale
                if node.op == "conv":
                    weight = weight.T.reshape(node["weight"].shape)
                node = replace(node, arrays={"weight": weight, "bias": step.float_bias})
            y = float_op(node, inputs)
            values[node.name] = _fake(step.out_fmt, y) if node.op in _QUANTIZED_OPS else y
        return values[self.network.output]

    def plan(self, mode="integer"):
        """The fast engine's compiled plan (:mod:`golden.engine`), or ``None`` when an
        integer step could leave float64's exact range (or the scheme is full MX)."""
        if self.full_mx:
            return None
        if mode not in self._plans:
            self._plans[mode] = compile_plan(self, mode)
        return self._plans[mode]

    def logits(self, x, *, engine="integer", fast=True):
        """Real logits of ``x``: ``engine="integer"`` the hardware's arithmetic (values of
        :meth:`run_integer`'s codes), ``"fake"`` simulated quantization. ``fast`` runs the
        compiled plan of :mod:`golden.engine` (same integer results; the reference when a plan
        cannot be exact), else the reference methods. A full-MX scheme runs
        :func:`golden.fullmx.logits` (FP32 logits; ``"fake"``: its float64 products)."""
        check_choice("engine", engine, ("integer", "fake"))
        check_bool("fast", fast)
        if self.full_mx:
            return fullmx.logits(self, x, exact=engine == "integer")
        plan = self.plan(engine) if fast else None
        if plan is not None:
            return plan.values(x)
        if engine == "fake":
            return self.run_fake(x)
        return self.format_of(self.network.output).decode(self.run_integer(x))

    def predict(self, x, *, engine="integer", fast=True, batch=500):
        return np.concatenate([np.argmax(self.logits(x[i:i + batch], engine=engine, fast=fast),
                                         axis=-1) for i in range(0, len(x), batch)])


def check_runnable(qnet, family):
    """A ``ValueError`` naming the layer when an accelerator built for ``family`` (at the
    network's scaling limits) cannot run one of ``qnet``'s matrix products."""
    if qnet.full_mx:
        raise ValueError(f"the accelerator cannot run {qnet.scheme}: full MX (block-scaled "
                         f"activations) runs in the golden model only; the accelerator runs "
                         f"the W-MX schemes ({', '.join(MX_SCHEMES)})")
    for name, step in qnet.steps.items():
        if step.w_fmt is not None:
            try:
                step.layer(family, qnet.limits)
            except ValueError as error:
                raise ValueError(f"the accelerator cannot run {qnet.scheme} (layer {name!r}): "
                                 f"{error}") from None


def _fake(fmt, x):
    return fmt.decode(fmt.quantize(x))


def _sample(x, size, rng):
    x = np.asarray(x, dtype=np.float64).ravel()
    return x if x.size <= size else rng.choice(x, size, replace=False)


def _matrix(node):
    """The weights as the (K, N) matrix the array multiplies by."""
    w = node["weight"]
    return w.reshape(w.shape[0], -1).T if node.op == "conv" else w


def _scale_parameters(ratio, limits):
    """``M`` and ``shift`` with ``M * 2**-shift`` closest to ``ratio`` (0 < ratio <= 1) for
    the hardware's register sizes: the largest shift whose M still fits."""
    ratio = np.asarray(ratio, dtype=np.float64)
    m_max = (1 << limits.m_bits) - 1
    shift = np.clip(np.floor(np.log2(m_max / ratio)), 0, limits.shift_max).astype(np.int64)
    M = np.rint(np.ldexp(ratio, shift)).astype(np.int64)
    while (M > m_max).any():  # rounding up can overflow M by one
        over = M > m_max
        shift[over] -= 1
        M[over] = np.rint(np.ldexp(ratio[over], shift[over])).astype(np.int64)
    if (M < 1).any():
        raise ValueError(f"a scale of {ratio.min():.3g} is below the smallest M * 2**-shift "
                         f"the hardware has (2**-{limits.shift_max})")
    return M, shift


@dataclass(frozen=True)
class Calibration:
    """What a quantization learns from the calibration images, once for every scheme and
    width: a sample of each quantization point's float values, whether each tensor can be
    negative, and the mean float input of every conv and dense node (per row of its (K, N)
    weight matrix: im2col columns (c, ky, kx) for a convolution, padding zeros included; a
    grouped convolution's means are those of every input channel, group after group)."""

    samples: dict
    nonnegative: dict
    input_means: dict


def calibration_samples(network, calibration_x, *, sample=1 << 20, seed=0, progress=None):
    """The :class:`Calibration` of ``network`` on ``calibration_x``: for the input and every
    conv, dense, add and avgpool output a deterministic sample of at most ``sample`` values,
    the signs, and the mean inputs of the matrix products. ``progress`` (optional) is called
    with the number of images of each batch done."""
    if not isinstance(network, Network):
        raise TypeError(f"network must be a golden.network.Network, not {network!r}")
    check_int("sample", sample, 1, 1 << 30)
    calibration_x = network.check_input(calibration_x)
    rng = np.random.default_rng(seed)
    nonnegative = {"input": bool(np.min(calibration_x) >= 0)}
    for node in network.nodes:
        nonnegative[node.name] = bool(node.attrs.get("relu")) or (
            node.op in ("maxpool", "avgpool", "flatten") and nonnegative[node.inputs[0]])
    points = ["input"] + [node.name for node in network.nodes if node.op in _QUANTIZED_OPS]
    products = [node for node in network.nodes if node.op in ("conv", "dense")]
    samples = {name: [] for name in points}
    sums = {node.name: 0.0 for node in products}
    batch = 250
    for start in range(0, len(calibration_x), batch):
        part = calibration_x[start:start + batch]
        floats = network.forward(part, keep=True)
        share = -(-sample * len(part) // len(calibration_x))
        for name in points:
            samples[name].append(_sample(floats[name], share, rng))
        for node in products:
            sums[node.name] = sums[node.name] + _input_sums(node, floats[node.inputs[0]])
        if progress is not None:
            progress(len(part))
    means = {node.name: sums[node.name] / _input_count(node, network, len(calibration_x))
             for node in products}
    return Calibration({name: np.concatenate(parts) for name, parts in samples.items()},
                       nonnegative, means)


def _input_sums(node, x):
    """Sum over a batch of a product node's input rows (im2col rows for a conv): (K,)."""
    if node.op == "dense":
        return x.sum(axis=0)
    kh, kw = node["weight"].shape[2:]
    stride = node["stride"]
    top, left, bottom, right = padding_sides(node["padding"])
    B, C, H, W = x.shape
    oh = conv_output_size(H, kh, stride, top, bottom)
    ow = conv_output_size(W, kw, stride, left, right)
    padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    sums = np.empty((C, kh, kw))
    for ky in range(kh):
        for kx in range(kw):
            window = padded[:, :, ky:ky + stride * oh:stride, kx:kx + stride * ow:stride]
            sums[:, ky, kx] = window.sum(axis=(0, 2, 3))
    return sums.reshape(-1)


def _input_count(node, network, images):
    if node.op == "dense":
        return images
    return images * int(np.prod(network.shapes[node.name][1:]))


def _global_F(tensors, n):
    """The F whose signed FXP(n, F) has the least sum over ``tensors`` of MSE divided by the
    tensor's mean square (a zero tensor counts 0); ties to the smaller F."""
    totals = {}
    for tensor in tensors:
        power = float(np.mean(np.square(tensor)))
        for spec, error in search_fxp(tensor, n).candidates.items():
            totals[spec] = totals.get(spec, 0.0) + (error / power if power > 0 else 0.0)
    return min(range(MIN_F, MAX_F + 1), key=lambda F: (totals[FXP(n, F).spec], F))


def quantize_network(network, scheme, n, calibration_x=None, *, family=None, limits=None,
                     sample=1 << 20, seed=0, samples=None, bias_correction=True,
                     mx_spread=MX_SPREAD):
    """Quantize a folded ``network`` with ``scheme`` at width ``n``; formats chosen on
    ``calibration_x`` (images of the calibration split), or on the :class:`Calibration`
    ``samples`` from :func:`calibration_samples` computed once for many schemes and widths.
    ``family``: the family a searched scheme picks from (:func:`scheme_family`; default the
    project's); ``bias_correction`` subtracts the expected output shift of the weight
    quantization; ``limits`` (the scaling stage's register sizes) defaults to the family's
    (:meth:`golden.family.Family.default_limits`); ``mx_spread`` (W-MX schemes, 1 to
    :data:`MX_SPREAD`) bounds the spread of each layer's block exponents."""
    if not isinstance(network, Network):
        raise TypeError(f"network must be a golden.network.Network, not {network!r}")
    if any(node.op in ("batchnorm", "relu") for node in network.nodes):
        raise ValueError("quantize a folded network (golden.network.fold): batch norm and "
                         "ReLU nodes must be folded first")
    family = scheme_family(scheme, n, family)
    check_bool("bias_correction", bias_correction)
    mx_spread = check_int("mx_spread", mx_spread, 1, MX_SPREAD)
    limits = family.default_limits() if limits is None else limits
    if not isinstance(limits, ScalingLimits):
        raise TypeError(f"limits must be a golden.arith.ScalingLimits, not {limits!r}")
    if samples is None:
        if calibration_x is None:
            raise ValueError("give calibration_x (calibration images) or samples")
        samples = calibration_samples(network, calibration_x, sample=sample, seed=seed)
    if not isinstance(samples, Calibration):
        raise TypeError(f"samples must be a golden.ptq.Calibration (calibration_samples()), "
                        f"not {type(samples).__name__}")
    calibration = samples
    samples, nonnegative = calibration.samples, calibration.nonnegative
    weights = {node.name: _matrix(node) for node in network.nodes if node.op in ("conv", "dense")}

    if scheme == "fxp-global":
        F_w = _global_F(weights.values(), n)
        F_a = _global_F(samples.values(), n)
        choose = lambda name, tensor: FXP(n, F_w if name.endswith(".w") else F_a)
    elif scheme in _SEARCHED and scheme in UNSIGNED_SCHEMES:
        choose = lambda name, tensor: (unsigned_choice(tensor, family)
                                       if nonnegative.get(name, False)
                                       else choose_format(tensor, family))
    elif scheme in _SEARCHED:
        choose = lambda name, tensor: choose_format(tensor, family)
    else:
        unsigned = scheme == "fxp-channel"
        choose = lambda name, tensor: choose_format(
            tensor, FXPFamily(n, signed=not (unsigned and nonnegative.get(name, False))))

    if scheme in FULL_MX_SCHEMES:
        return _full_mx_network(network, scheme, n, family, limits, weights, calibration,
                                bias_correction, mx_spread)
    input_fmt = choose("input", samples["input"])
    steps = {}
    formats = {"input": input_fmt}
    for node in network.nodes:
        if node.op in ("maxpool", "flatten"):
            steps[node.name] = Step(node, formats[node.inputs[0]])
        elif node.op == "add":
            steps[node.name] = Step(node, choose(node.name, samples[node.name]))
        elif node.op == "avgpool":
            window = average_count(node, network.shapes)
            M, shift = _scale_parameters(np.array([1.0 / window]), limits)
            steps[node.name] = Step(node, choose(node.name, samples[node.name]),
                                    M=M[0], shift=shift[0])
        else:
            mean = calibration.input_means[node.name] if bias_correction else None
            steps[node.name] = _matmul_step(node, weights[node.name], formats[node.inputs[0]],
                                            choose(node.name, samples[node.name]), scheme, n,
                                            choose, limits, mean, family, mx_spread)
        formats[node.name] = steps[node.name].out_fmt
    return QuantizedNetwork(network, scheme, n, input_fmt, steps, limits, family)


def _full_mx_network(network, scheme, n, family, limits, weights, calibration,
                     bias_correction, mx_spread):
    """A full-MX scheme's network (:mod:`golden.fullmx`): block-scaled weights and each
    matrix product's activation MX format (``a_fmt``), FP32 biases; no output formats."""
    mx = mx_format(scheme, family)
    steps = {}
    for node in network.nodes:
        if node.op in ("conv", "dense"):
            mean = calibration.input_means[node.name] if bias_correction else None
            step = _block_weights(node, weights[node.name], mx, mx_spread)
            float_bias = _corrected_bias(node, step, weights[node.name], mean,
                                         np.ones(weights[node.name].shape[1]))
            steps[node.name] = replace(step, a_fmt=mx, float_bias=float_bias,
                                       bias=float_bias.astype(np.float32))
        else:
            steps[node.name] = Step(node, None)
    return QuantizedNetwork(network, scheme, n, None, steps, limits, family)


def unsigned_choice(x, family):
    """The unsigned variant (:mod:`golden.unsigned`) that the per-tensor search picks for the
    nonnegative values ``x``: the member of ``family`` one bit wider
    (:meth:`~golden.family.Family.unsigned_parent`) chosen for ``x``, without its sign bit.
    Its values are the wider member's nonnegative ones, so the MSE is the same."""
    return unsigned(choose_format(x, family.unsigned_parent()))


def _channel_scales(ratio, limits):
    """M, shift and the scale they stand for, for per-channel ratios in (0, 1]; ratios below
    the smallest ``M * 2**-shift`` take it."""
    smallest = 2.0 ** -limits.shift_max
    M, shift = _scale_parameters(np.maximum(ratio, smallest), limits)
    return M, shift, M * np.ldexp(1.0, -shift)


def mx_format(scheme, family):
    """The block-scaled format (:class:`golden.mx.MX`) of a W-MX scheme on ``family``: its
    widest member at scale 0 as the element (MXINT(n) for fixed point), blocks of 32, or 16
    for the ``16`` schemes, the OCP floor rule."""
    element = mxint(family.n) if family.kind == "fxp" else family.widest().with_scale(0)
    return MX(element, block=16 if scheme.endswith("16") else 32)


def _matmul_step(node, w, a_fmt, out_fmt, scheme, n, choose, limits, input_mean, family,
                 mx_spread=MX_SPREAD):
    channels = w.shape[1]
    peak = np.abs(w).max(axis=0)
    peak = np.where(peak > 0, peak, 1.0)
    w_shift, w_block_exponent = None, 0
    if scheme in MX_SCHEMES:
        blocked = _block_weights(node, w, mx_format(scheme, family), mx_spread)
        w_fmt, w_codes = blocked.w_fmt, blocked.w_codes
        w_shift, w_block_exponent = blocked.w_shift, blocked.w_block_exponent
        M, shift = np.ones(channels, np.int64), np.zeros(channels, np.int64)
        channel_scale = np.ones(channels)
    elif scheme in ("fxp-channel", "fxp-channel-signed"):
        channel_step = peak / ((1 << (n - 1)) - 1)
        # Weights FXP(n, F) with 2**-F >= every channel's step: each channel's remaining
        # factor (<= 1) is what M and shift carry.
        F = int(np.clip(np.floor(-np.log2(channel_step.max())), MIN_F, MAX_F))
        w_fmt = FXP(n, F)
        M, shift, channel_scale = _channel_scales(channel_step * 2.0 ** F, limits)
        w_codes = w_fmt.quantize(w / channel_scale)
    elif scheme.removesuffix("-unsigned") in ("tfx-channel", "posit-channel", "fp-channel"):
        M, shift, channel_scale = _channel_scales(peak / peak.max(), limits)
        scaled = w / channel_scale
        w_fmt = choose(f"{node.name}.w", scaled)
        w_codes = w_fmt.quantize(scaled)
    else:
        w_fmt = choose(f"{node.name}.w", w)
        w_codes = w_fmt.quantize(w)
        M, shift = np.ones(channels, np.int64), np.zeros(channels, np.int64)
        channel_scale = np.ones(channels)
    step = Step(node, out_fmt, w_fmt=w_fmt, w_codes=w_codes, w_shift=w_shift,
                w_block_exponent=w_block_exponent)
    float_bias = _corrected_bias(node, step, w, input_mean, channel_scale)
    bias = accumulator_bias(float_bias / channel_scale, a_fmt.int_exponent + step.w_exponent,
                            limits, where=f"node {node.name!r}: ")
    return replace(step, bias=bias, M=M, shift=shift, channel_scale=channel_scale,
                   a_fmt=a_fmt, float_bias=float_bias)


def _block_weights(node, w, mx, spread):
    """A step with ``w`` (K, N) block-scaled along K in ``mx``: element codes, each weight's
    block exponent above the layer's smallest, and that smallest."""
    blocks = mx.quantize(w, axis=0, spread=spread)
    low = int(blocks.exponents.min())
    return Step(node, None, w_fmt=mx.element, w_codes=blocks.codes,
                w_shift=blocks.block_exponent_per_element() - low, w_block_exponent=low)


def _corrected_bias(node, step, w, input_mean, channel_scale):
    """The node's float bias, minus the expected output shift of the weight quantization
    (bias correction) when ``input_mean`` is given."""
    float_bias = np.asarray(node["bias"], dtype=np.float64)
    if input_mean is None:
        return float_bias
    error = step.w_values * channel_scale - w
    # Each group's columns see only its own input rows.
    groups = group_slices(len(input_mean), w.shape[1], node.attrs.get("groups", 1))
    correction = np.concatenate([input_mean[rows] @ error[:, columns]
                                 for rows, columns in groups])
    return float_bias - correction
