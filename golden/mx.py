"""Block scaling (MX, after OCP Microscaling v1.0): one power-of-two scale per block of k
elements along a dot product's reduction axis K.

A block-scaled tensor keeps, for every block of ``k`` consecutive elements along its K axis
(the last block may be shorter), a shared scale ``X = 2**s`` (``s`` an integer in [-127, 127],
stored as OCP E8M0 whose NaN code 0xFF is never produced) and one element code per value, in
an element format at scale 0: MXINT(n) (``FXP(n, n - 2)``, its most negative code unused), a
minifloat (E4M3, E5M2, E2M3, E3M2, E2M1), TFX or posit. Value ``v_hat = X * decode(P)``.

- **Shared scale**, rule ``"floor"`` (the OCP spec's): ``s = floor(log2(amax)) - emax`` with
  ``amax`` the block's largest magnitude and ``emax = floor(log2(maxpos))`` of the element
  format; it may clip the block's largest values (an E2M1 block whose amax is 7 stores 6).
  Rule ``"ceil"``: the smallest ``s`` with ``amax / 2**s <= maxpos`` (never clips). An
  all-zero block has ``s = -127``; ``s`` is clamped to [-127, 127].
- **Elements**: ``P_i = quantize(v_i / X)``, the element format's rounding (nearest, ties to
  even, saturating at +-maxpos).
- **Spread**: hardware bounds how far a tensor's block exponents may lie apart; with
  ``spread`` given, blocks whose ``s`` lies more than ``spread`` below the tensor's largest
  are raised to ``max(s) - spread`` before their elements are quantized (a coarser scale,
  never a wrapped accumulator), and the tensor records it.
- **Dot products, exact** (:func:`matmul`): ``sum_blocks X_a * X_w * sum_i P_a,i * P_w,i``,
  each block's integer partial sum shifted by ``s_a + s_w`` minus the smallest such sum, as
  exact integers (the OCP spec leaves accumulation open; here it is exact, like every other
  format's). Weight-only MX (W-MX) multiplies a per-tensor activation format by block-scaled
  weights; full MX block-scales both.

Defined in ``docs/formats/mx.md``.
"""

import functools
import math
from dataclasses import dataclass

import numpy as np

from ._checks import check_choice, check_int
from .arith import Accumulators
from .format import NumberFormat
from .fxp import FXP

__all__ = ["MX", "BlockTensor", "matmul", "E8M0_MIN", "E8M0_MAX", "e8m0_codes",
           "mxint", "RULES", "significand_bits", "table_quantize", "DecodedBlocks"]

E8M0_MIN, E8M0_MAX = -127, 127
RULES = ("floor", "ceil")


def mxint(n):
    """The element format of MXINT(n): n-bit two's complement read as ``FXP(n, n - 2)``."""
    return FXP(check_int("n", n, 2, 16), n - 2)


def e8m0_codes(exponents):
    """The OCP E8M0 codes of scale exponents ``s`` (``s + 127``; 0xFF, NaN, never)."""
    exponents = np.asarray(exponents, dtype=np.int64)
    if exponents.size and (exponents.min() < E8M0_MIN or exponents.max() > E8M0_MAX):
        raise ValueError(f"E8M0 exponents lie from {E8M0_MIN} to {E8M0_MAX}")
    return exponents + 127


class MX:
    """A block-scaled format: an element format, a block size and a shared-scale rule.

    Parameters
    ----------
    element : NumberFormat
        The element format at scale 0: ``TFX(n, IS, 0)``, ``Posit(n, es, 0)``, ``FP(n, E,
        0)`` or MXINT's ``FXP(n, n - 2)`` (:func:`mxint`).
    block : int
        Elements per block along K, 2 to 1024 (OCP: 32).
    rule : {"floor", "ceil"}
        The shared-scale rule (OCP: floor).
    """

    def __init__(self, element, *, block=32, rule="floor"):
        if not isinstance(element, NumberFormat):
            raise TypeError(f"element must be a golden format, not {element!r}")
        scale = getattr(element, "SC", None)
        if isinstance(element, FXP):
            if not element.signed or element.F != element.n - 2:
                raise ValueError(f"an MXINT element is FXP(n, n - 2), not {element.label}")
        elif scale != 0:
            raise ValueError(f"an MX element format has scale 0 (the block scale is the "
                             f"scale), not {element.label}")
        self.element = element
        self.block = check_int("block", block, 2, 1024)
        self.rule = check_choice("rule", rule, RULES)

    @property
    def emax(self):
        """``floor(log2(maxpos))`` of the element format."""
        return math.floor(math.log2(self.element.maxpos))

    @property
    def label(self):
        name = (f"MXINT{self.element.n}" if isinstance(self.element, FXP)
                else f"MX-{self.element.label}")
        return f"{name}/k{self.block}" + ("" if self.rule == "floor" else f"/{self.rule}")

    @property
    def scale_bits_per_element(self):
        """The storage cost of the block scales: 8 bits (E8M0) per block of ``block``."""
        return 8 / self.block

    def __repr__(self):
        return f"MX({self.element!r}, block={self.block}, rule={self.rule!r})"

    def __eq__(self, other):
        return (isinstance(other, MX) and (other.element, other.block, other.rule)
                == (self.element, self.block, self.rule))

    def __hash__(self):
        return hash((self.element, self.block, self.rule))

    # -- scales -----------------------------------------------------------------------------

    def shared_exponents(self, amax):
        """The block exponents ``s`` of blocks whose largest magnitudes are ``amax``, by the
        rule, clamped to [-127, 127]; an all-zero block's is -127."""
        amax = np.asarray(amax, dtype=np.float64)
        if not np.isfinite(amax).all():
            raise ValueError("cannot block-scale NaN or infinite values")
        safe = np.where(amax > 0, amax, 1.0)
        mantissa, exponent = np.frexp(safe)  # amax = mantissa * 2**exponent, 0.5 <= m < 1
        floor_log2 = exponent - 1
        if self.rule == "floor":
            s = floor_log2 - self.emax
        else:
            # Smallest s with amax <= maxpos * 2**s: start one below and step up.
            s = floor_log2 - self.emax - 1
            s = np.where(amax > self.element.maxpos * np.ldexp(1.0, s), s + 1, s)
            s = np.where(amax > self.element.maxpos * np.ldexp(1.0, s), s + 1, s)
        s = np.where(amax > 0, s, E8M0_MIN)
        return np.clip(s, E8M0_MIN, E8M0_MAX).astype(np.int64)

    # -- quantization -----------------------------------------------------------------------

    def quantize(self, x, *, axis=0, spread=None):
        """``x`` (any shape; K along ``axis``) as a :class:`BlockTensor`.

        ``spread``: the largest difference of block exponents the tensor may have (None: no
        bound); smaller ones are raised to the tensor's largest minus ``spread``.
        """
        scaled = self._scaled_blocks(x, axis, spread)
        codes = table_lookup(self.element, scaled.grouped, _element_tables(self)[0])
        return BlockTensor(self, scaled.restore(codes), np.moveaxis(scaled.exponents, -1,
                                                                    scaled.axis),
                           scaled.axis, scaled.spread)

    def quantize_decoded(self, x, *, axis=0, spread=None):
        """What ``quantize(x, axis=axis, spread=spread)`` decodes to, without the codes: a
        :class:`DecodedBlocks` of the values (float64, ``x``'s shape), the block exponents
        and which blocks hold a nonzero input (K's axis last in both)."""
        scaled = self._scaled_blocks(x, axis, spread)
        elements = table_lookup(self.element, scaled.grouped, _element_tables(self)[1])
        values = elements * np.ldexp(1.0, scaled.exponents)[..., None]
        return DecodedBlocks(scaled.restore(values), scaled.exponents, scaled.nonzero)

    def _scaled_blocks(self, x, axis, spread):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 0:
            raise ValueError("block scaling needs at least one axis (K)")
        axis = axis % x.ndim
        moved = np.moveaxis(x, axis, -1)
        K = moved.shape[-1]
        blocks = -(-K // self.block)
        if K % self.block:
            padded = np.zeros((*moved.shape[:-1], blocks * self.block))
            padded[..., :K] = moved
        else:
            padded = moved
        grouped = padded.reshape(*moved.shape[:-1], blocks, self.block)
        amax = np.abs(grouped).max(axis=-1)  # NaN where a block holds NaN
        if np.isnan(amax).any():
            raise ValueError("cannot block-scale NaN")
        exponents = self.shared_exponents(amax)
        if spread is not None:
            spread = check_int("spread", spread, 0, E8M0_MAX - E8M0_MIN)
            if exponents.size:
                exponents = np.maximum(exponents, exponents.max() - spread)
        return _ScaledBlocks(grouped / np.ldexp(1.0, exponents)[..., None], exponents,
                             amax > 0, axis, K, spread)


@dataclass(frozen=True)
class DecodedBlocks:
    """A block-quantized tensor's decoded ``values`` (the input's shape), with the block
    ``exponents`` and which blocks are ``nonzero`` (the input's shape with K, last, replaced
    by the number of blocks)."""

    values: np.ndarray
    exponents: np.ndarray
    nonzero: np.ndarray


@dataclass(frozen=True)
class _ScaledBlocks:
    """A tensor's blocks divided by their scales: ``grouped`` (..., blocks, k; K moved last
    and zero-padded), and how to put elements back in the tensor's shape."""

    grouped: np.ndarray
    exponents: np.ndarray
    nonzero: np.ndarray
    axis: int
    K: int
    spread: int

    def restore(self, elements):
        """Per-element ``elements`` (``grouped``'s shape) in the tensor's shape."""
        flat = elements.reshape(*elements.shape[:-2], -1)[..., :self.K]
        return np.moveaxis(flat, -1, self.axis)


@functools.lru_cache(maxsize=None)
def _element_tables(mx):
    """The element quantizer's table of codes (:func:`_quantize_tables`; MXINT's most
    negative code replaced by the next, as MXINT is symmetric) and the table of their
    values."""
    codes = _quantize_tables(mx.element)[0]
    if isinstance(mx.element, FXP):
        most_negative = 1 << (mx.element.n - 1)
        codes = np.where(codes == most_negative, most_negative + 1, codes)
    return codes, mx.element.decode(codes)


def lowest_set_bits(magnitudes):
    """The exponent of each positive finite float64 magnitude's lowest set bit, and its
    ``frexp`` exponent (``magnitude < 2**exponent``)."""
    mantissa, exponent = np.frexp(magnitudes)
    significand = np.ldexp(mantissa, 53).astype(np.int64)
    lowest = np.frexp((significand & -significand).astype(np.float64))[1] - 1
    return exponent - 53 + lowest, exponent


def _most_bits(values):
    """The most significand bits (the leading one included) of nonzero float64 ``values``."""
    lowest, exponent = lowest_set_bits(np.abs(values[values != 0]))
    return int((exponent - lowest).max(initial=1))


@functools.lru_cache(maxsize=None)
def significand_bits(fmt):
    """The most significand bits (the leading one included) of any value of ``fmt``."""
    values = fmt.decode(fmt.codes())
    return _most_bits(values[np.isfinite(values)])


_ABS_MASK = np.int64(0x7FFF_FFFF_FFFF_FFFF)


@functools.lru_cache(maxsize=None)
def _quantize_tables(fmt):
    """A table of ``fmt.quantize`` over float64 cells fine enough that every value and every
    midpoint of two neighbouring values (the rounding boundaries) lies on a cell edge, none
    inside a cell: indexed by 2 * cell (an edge) or 2 * cell + 1 (inside) for positive
    inputs, and the same plus half the table's length for negative ones. The cells cover four
    binades below the smallest value (everything there rounds alike) to two above the
    largest (everything there saturates)."""
    values = np.unique(fmt.decode(fmt.codes()))
    values = values[np.isfinite(values)]
    midpoints = (values[1:] + values[:-1]) / 2  # exact: these formats are narrow
    cut = 53 - max(_most_bits(values), _most_bits(midpoints))
    values = np.abs(values[values != 0])
    low = np.float64(2.0 ** (math.floor(math.log2(values.min())) - 2)).view(np.int64)
    high = np.float64(2.0 ** (math.floor(math.log2(values.max())) + 2)).view(np.int64)
    cells = np.arange(((high - low) >> cut) + 1, dtype=np.int64)
    edges = low + (cells << cut)
    samples = np.stack([edges, edges + (1 << (cut - 1))], axis=1).reshape(-1).view(np.float64)
    return np.concatenate([fmt.quantize(samples), fmt.quantize(-samples)]), low, high, cut


def table_quantize(fmt, x):
    """``fmt.quantize(x)`` of finite or infinite float64 ``x`` by table lookup
    (:func:`_quantize_tables`): the same codes, several times faster for a narrow format."""
    return table_lookup(fmt, x, _quantize_tables(fmt)[0])


def table_lookup(fmt, x, table):
    """Per element of float64 ``x``, the entry of ``table`` at its index in
    :func:`_quantize_tables`: codes for the table of codes, or anything else made per entry
    from them."""
    low, high, cut = _quantize_tables(fmt)[1:]
    bits = np.ascontiguousarray(x, dtype=np.float64).view(np.int64)
    magnitude = bits & _ABS_MASK
    np.maximum(magnitude, low, out=magnitude)
    np.minimum(magnitude, high, out=magnitude)
    magnitude -= low
    index = magnitude + ((1 << cut) - 1)
    index >>= cut
    magnitude >>= cut
    index += magnitude
    index += (bits >> 63) & (len(table) // 2)  # the negative half for a negative x
    return table[index]


@dataclass(frozen=True)
class BlockTensor:
    """A block-scaled tensor: element ``codes`` (the tensor's shape), the block ``exponents``
    (the shape with K replaced by the number of blocks), K's ``axis``, and the ``spread`` the
    quantizer bounded the exponents by (None: none)."""

    mx: MX
    codes: np.ndarray
    exponents: np.ndarray
    axis: int
    spread: int = None

    def _per_element(self, per_block):
        """An array of one value per block (the shape of :attr:`exponents`) repeated over each
        block's elements, in the tensor's shape."""
        repeated = np.repeat(per_block, self.mx.block, axis=self.axis)
        return repeated[(slice(None),) * self.axis + (slice(0, self.codes.shape[self.axis]),)]

    def block_exponent_per_element(self):
        """Each element's block exponent, in the tensor's shape."""
        return self._per_element(self.exponents)

    def decode(self):
        """The real values ``2**s * decode(P)`` (float64; exact for these formats: a power
        of two with |s| <= 127 times a narrow element)."""
        return (self.mx.element.decode(self.codes)
                * self._per_element(np.ldexp(1.0, self.exponents)))

    def to_fraction_list(self):
        """Exact values as nested lists of :class:`fractions.Fraction` (for tests)."""
        from fractions import Fraction
        ints = self.mx.element.to_int(self.codes).astype(object)
        exponents = self.block_exponent_per_element() + self.mx.element.int_exponent
        return np.vectorize(lambda x, e: Fraction(int(x)) * Fraction(2) ** int(e),
                            otypes=[object])(ints, exponents)


def _per_element_exponents(operand, K, transpose):
    """(integer operands X, exponent per element) of a matmul operand: a BlockTensor or
    (codes, NumberFormat) at a per-tensor scale."""
    if isinstance(operand, BlockTensor):
        if operand.codes.shape[operand.axis] != K or operand.axis != (1 if transpose else 0):
            raise ValueError("a block-scaled operand's K axis must be the product's")
        ints = operand.mx.element.to_int(operand.codes).astype(object)
        return ints, (operand.block_exponent_per_element()
                      + operand.mx.element.int_exponent)
    codes, fmt = operand
    codes = fmt.check_codes(codes)
    return fmt.to_int(codes).astype(object), np.full(codes.shape, fmt.int_exponent)


def matmul(a, w):
    """The exact ``a @ w`` of an (M, K) activation and a (K, N) weight operand, each a
    :class:`BlockTensor` (K on axis 1 for ``a``, axis 0 for ``w``) or ``(codes, format)`` at
    a per-tensor scale: W-MX with block-scaled weights, full MX with both.

    Returns
    -------
    golden.arith.Accumulators
        Python-integer accumulators (an object array) at the exponent of the finest product,
        ready for :func:`golden.arith.scale`.
    """
    K = (a.codes if isinstance(a, BlockTensor) else np.asarray(a[0])).shape[-1]
    xa, ea = _per_element_exponents(a, K, True)
    xw, ew = _per_element_exponents(w, K, False)
    if xw.shape[0] != K or xa.ndim != 2 or xw.ndim != 2:
        raise ValueError(f"shapes do not fit (M, K) @ (K, N): {xa.shape} and {xw.shape}")
    # Product exponents (M, K, N); one common exponent for every accumulator.
    exponents = ea[:, :, None] + ew[None, :, :]
    low = int(exponents.min()) if exponents.size else 0
    shifts = (exponents - low).astype(object)
    terms = xa[:, :, None] * xw[None, :, :] * np.vectorize(lambda s: 1 << int(s),
                                                          otypes=[object])(shifts)
    values = terms.sum(axis=1) if K else np.zeros((xa.shape[0], xw.shape[1]), dtype=object)
    return Accumulators(values, low, np.zeros(values.shape, dtype=bool))
