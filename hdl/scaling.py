"""Scaling (normalization) stage: accumulator to output code with exactly one rounding."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden._checks import check_choice, check_int
from golden.arith import DEFAULT_LIMITS, ScalingLimits
from golden.family import TFXFamily
from .decoder import is_shape
from .multiply import MULTIPLIERS, multiply
from .operand import check_family

__all__ = ["ScalingStage", "TFXEncoder", "FXPEncoder", "EXPONENT_SHAPE", "SCALE_SHAPE",
           "accumulator_exponent"]

#: Shape of the run-time accumulator exponent E (TFX: SCa + SCw - 2(n-1); FXP: -(Fa + Fw)).
EXPONENT_SHAPE = signed(8)
#: Shape of a run-time scale register (TFX: SC; FXP: F), -32 to 32.
SCALE_SHAPE = signed(7)
_WIDE = signed(14)  # exponent arithmetic: |values| stay below 2**10


def accumulator_exponent(family, a_scale, w_scale):
    """Run-time E of an accumulator of products of two operand tensors of ``family``, from
    their scales: ``SCa + SCw - 2(n-1)`` (TFX) or ``-(Fa + Fw)`` (FXP); the hardware form of
    ``a_fmt.int_exponent + w_fmt.int_exponent``."""
    operand_scales = a_scale + w_scale
    if isinstance(family, TFXFamily):
        return operand_scales - 2 * (family.n - 1)
    return -operand_scales


def _round_bits(m, magnitude, position, low, high):
    """``floor(magnitude / 2**position)``, its guard bit and sticky bit (below the guard).

    ``position`` is clamped to ``[low, high]``; callers choose the range so that clamping never
    changes the result (below ``low`` nothing is lost; above ``high`` everything is shifted out).
    """
    clamped = Signal(range(0, high - low + 1))
    with m.If(position < low):
        m.d.comb += clamped.eq(0)
    with m.Elif(position > high):
        m.d.comb += clamped.eq(high - low)
    with m.Else():
        m.d.comb += clamped.eq(position - low)
    extended = magnitude << (1 - low)  # one spare bit below for the guard
    width = len(extended)
    shifted = Signal(width)
    m.d.comb += shifted.eq(extended >> clamped)  # the one barrel shifter
    floor, guard = shifted[1:], shifted[0]
    # Sticky: any bit below the guard, i.e. below position `clamped` (a thermometer mask).
    sticky = Signal()
    m.d.comb += sticky.eq(Cat(extended[i] & (clamped > i) for i in range(width)).any())
    return floor, guard, sticky


class TFXEncoder(wiring.Component):
    """Round ``(-1)**negative * magnitude * 2**(Z + SC)`` to a TFX(n, IS, SC) code. Combinational.

    Inputs: ``negative``, ``magnitude`` (unsigned), ``leading`` (index of its leading one),
    ``exponent`` (``Z``, signed), ``IS`` (run-time). Nearest value with zero included, ties to the
    even code, saturating to ±maxpos; magnitudes up to minpos/2 give 0 and those in
    (minpos/2, minpos) give ±minpos (the slot of 2**(SC-IS) is zero's, so the bit string is not
    rounded there: the two candidates are compared directly).

    ``registered=True`` puts a register between the binade arithmetic (which binade, how many
    fraction bits, where to cut) and the shift, round and encode: latency 1 instead of 0.
    """

    def __init__(self, *, family, magnitude_width, registered=False):
        if not isinstance(family, TFXFamily):
            raise TypeError(f"family must be a TFXFamily, not {family!r}")
        self._family = family
        self._registered = bool(registered)
        self._width = check_int("magnitude_width", magnitude_width, 1, 256)
        super().__init__({
            "negative": In(1), "magnitude": In(magnitude_width),
            "leading": In(range(magnitude_width)), "exponent": In(_WIDE),
            "IS": In(is_shape(family)), "code": Out(family.n),
        })

    def elaborate(self, platform):
        m = Module()
        n, IS, Z = self._family.n, self.IS, self.exponent
        top = 1 << (n - 1)

        k_true = Signal(_WIDE)
        k = Signal(_WIDE)  # the binade whose grid rounds: k_true, or the lowest one below it
        m.d.comb += [k_true.eq(self.leading + Z), k.eq(Mux(k_true < -IS, -IS, k_true))]
        run = Signal(range(n + 1))
        m.d.comb += run.eq(Mux(k >= 0, k + 1, -k))
        regime_length = Signal(range(n + 1))
        m.d.comb += regime_length.eq(Mux(run < IS, run + 1, run))
        nf = Signal(range(n))
        m.d.comb += nf.eq(n - 1 - regime_length)

        # The body of the binade's first value, minus 2**nf: the body is then start + grid.
        ones_end = Signal(range(n))  # k >= 0: regime 1...1(0) then zeros from this bit down
        terminator = Signal(range(n))  # k < 0, run < IS: regime 0...01 with its 1 at this bit
        m.d.comb += [ones_end.eq(n - 1 - run), terminator.eq(n - 2 - run)]
        start = Signal(signed(n + 2))
        with m.If(k >= 0):
            m.d.comb += start.eq(top - (Const(1, n) << ones_end))
        with m.Elif(run < IS):
            m.d.comb += start.eq(Const(1, n) << terminator)
        with m.Else():
            m.d.comb += start.eq(0)
        position = Signal(_WIDE)
        lowest, saturated = Signal(), Signal()
        m.d.comb += [position.eq(k - nf - Z), lowest.eq(k == -IS), saturated.eq(k_true >= IS)]
        magnitude, negative = self.magnitude, self.negative
        if self._registered:
            staged = []
            for value in (position, lowest, saturated, start, nf, IS, magnitude, negative):
                register = Signal.like(value, name=f"{value.name}_staged")
                m.d.sync += register.eq(value)
                staged.append(register)
            position, lowest, saturated, start, nf, IS, magnitude, negative = staged

        grid, guard, sticky = _round_bits(m, magnitude, position,
                                          low=-(n - 2), high=self._width + 1)
        truncated = Signal(signed(n + 3))
        m.d.comb += truncated.eq(start - (Const(1, n) << nf) + grid[:n + 1])
        rounded = Signal(signed(n + 3))
        # Ties go to the even code: the body's last bit, which is a regime bit when nf = 0.
        m.d.comb += rounded.eq(truncated + (guard & (sticky | truncated[0])))

        # Below minpos: only 0 and minpos compete (minpos/2 itself ties to 0, the even code).
        half = Signal(n)
        tiny = Signal()
        tiny_up = Signal()
        with m.If(IS == n - 1):  # no fraction in the lowest binade: minpos = 2 grid units
            m.d.comb += [
                tiny.eq(lowest & (grid < 2)),
                tiny_up.eq((grid > 1) | ((grid == 1) & (guard | sticky))),
            ]
        with m.Else():  # minpos = 2**nf + 1 grid units, minpos/2 = 2**(nf-1) + 1/2
            m.d.comb += [
                half.eq((Const(1, n + 1) << nf) >> 1),
                tiny.eq(lowest & (grid <= (Const(1, n + 1) << nf))),
                tiny_up.eq((grid > half) | ((grid == half) & guard & sticky)),
            ]

        body = Signal(n - 1)
        with m.If(magnitude == 0):
            m.d.comb += body.eq(0)
        with m.Elif(saturated | (rounded >= top)):
            m.d.comb += body.eq(top - 1)
        with m.Elif(tiny):
            m.d.comb += body.eq(tiny_up)
        with m.Else():
            m.d.comb += body.eq(rounded)
        m.d.comb += self.code.eq(Mux(negative, -body, body))
        return m


class FXPEncoder(wiring.Component):
    """Round ``(-1)**negative * magnitude * 2**Z`` (Z = exponent + F) to an FXP code. Combinational.

    Round half to even on the integer ``q``, saturate to ``[q_min, q_max]`` (unsigned: negative
    values give 0).
    """

    def __init__(self, *, family, magnitude_width):
        self._family = check_family(family)
        if isinstance(family, TFXFamily):
            raise TypeError(f"family must be an FXPFamily, not {family!r}")
        self._width = check_int("magnitude_width", magnitude_width, 1, 256)
        super().__init__({
            "negative": In(1), "magnitude": In(magnitude_width),
            "leading": In(range(magnitude_width)), "exponent": In(_WIDE),
            "code": Out(family.n),
        })

    def elaborate(self, platform):
        m = Module()
        n, signed_ = self._family.n, self._family.signed
        grid, guard, sticky = _round_bits(m, self.magnitude, -self.exponent,
                                          low=-(n + 1), high=self._width + 1)
        q = Signal(len(grid) + 1)
        m.d.comb += q.eq(grid + (guard & (sticky | grid[0])))
        limit_positive = (1 << (n - 1)) - 1 if signed_ else (1 << n) - 1
        limit_negative = 1 << (n - 1) if signed_ else 0
        limited = Signal(n + 1)
        with m.If(self.negative):
            m.d.comb += limited.eq(Mux(q > limit_negative, limit_negative, q))
        with m.Else():
            m.d.comb += limited.eq(Mux(q > limit_positive, limit_positive, q))
        m.d.comb += self.code.eq(Mux(self.negative, -limited, limited))
        return m


class ScalingStage(wiring.Component):
    """Accumulator to output code: ``Q_out(relu?(acc * M * 2**(exponent - shift)))``.

    Exactly one rounding, straight into the run-time output format (nearest, ties to the even
    code, saturating), with guard and sticky bits; never a shift-and-round before encoding.

    Parameters
    ----------
    acc_width : int
        Width of the signed accumulator input (2 to 128).
    out_family : TFXFamily or FXPFamily
        Output format family; the member (IS, scale) is a run-time input.
    limits : golden.arith.ScalingLimits
        Sizes of the per-channel registers: ``1 <= M < 2**m_bits``, ``0 <= shift <= shift_max``.
    multiplier : {"infer", "fabric"}
        Whether the multiply by M may map to DSP blocks (see :mod:`hdl.multiply`).

    Attributes
    ----------
    valid_in : In(1)
    acc : In(signed(acc_width))
        Exact accumulator, bias included; its value is ``acc * 2**exponent``.
    nar_in : In(1)
        Travels with the result to ``nar``.
    exponent : In(EXPONENT_SHAPE)
        Run-time E: ``SCa + SCw - 2(n-1)`` (TFX operands) or ``-(Fa + Fw)`` (FXP).
    M : In(m_bits)
        Per-channel multiplier (values below 1 are outside the contract).
    shift : In(range(shift_max + 1))
    relu : In(1)
    out_IS : In(is_shape(out_family))
        TFX output only.
    out_scale : In(SCALE_SHAPE)
        Output SC (TFX) or F (FXP), -32 to 32.
    valid_out, code, nar : Out
        The output code ``LATENCY`` cycles after its inputs.

    Notes
    -----
    Latency 4 cycles (multiply; magnitude and leading one; binade and cut; shift, round and
    encode), one result per cycle. Every input, the run-time formats included, travels with its data, so they may
    change on any cycle.
    """

    LATENCY = 4

    def __init__(self, *, acc_width, out_family, limits=DEFAULT_LIMITS, multiplier="infer"):
        self._acc_width = check_int("acc_width", acc_width, 2, 128)
        self._family = check_family(out_family)
        if not isinstance(limits, ScalingLimits):
            raise TypeError(f"limits must be a golden.arith.ScalingLimits, not {limits!r}")
        self._limits = limits
        self._multiplier = check_choice("multiplier", multiplier, MULTIPLIERS)
        members = {
            "valid_in": In(1), "acc": In(signed(acc_width)), "nar_in": In(1),
            "exponent": In(EXPONENT_SHAPE), "M": In(limits.m_bits),
            "shift": In(range(limits.shift_max + 1)), "relu": In(1),
            "out_scale": In(SCALE_SHAPE),
            "valid_out": Out(1), "code": Out(out_family.n), "nar": Out(1),
        }
        if isinstance(out_family, TFXFamily):
            members["out_IS"] = In(is_shape(out_family))
        super().__init__(members)

    @property
    def out_family(self):
        return self._family

    @property
    def limits(self):
        return self._limits

    def elaborate(self, platform):
        m = Module()
        tfx = isinstance(self._family, TFXFamily)
        magnitude_width = self._acc_width + self._limits.m_bits

        # Stage 1: exact product with M, ReLU, total exponent Z.
        scaled_acc = multiply(m, self.acc, self.M, kind=self._multiplier, name="acc_times_M")
        product = Signal(signed(magnitude_width + 1))
        z1 = Signal(_WIDE)
        valid1, nar1 = Signal(), Signal()
        is1 = Signal(is_shape(self._family)) if tfx else None
        # The encoders take value / 2**SC (TFX) or value * 2**F (FXP) as magnitude * 2**Z.
        scaled = -self.out_scale if tfx else self.out_scale
        m.d.sync += [
            product.eq(Mux(self.relu & (self.acc < 0), 0, scaled_acc)),
            z1.eq(self.exponent - self.shift + scaled),
            valid1.eq(self.valid_in), nar1.eq(self.nar_in),
        ]
        if tfx:
            m.d.sync += is1.eq(self.out_IS)

        # Stage 2: sign, magnitude, leading one.
        negative = Signal()
        magnitude = Signal(magnitude_width)
        leading = Signal(range(magnitude_width))
        z2 = Signal(_WIDE)
        valid2, nar2 = Signal(), Signal()
        is2 = Signal(is_shape(self._family)) if tfx else None
        absolute = Mux(product < 0, -product, product)[:magnitude_width]
        leading_comb = Signal(range(magnitude_width))
        for i in range(magnitude_width):
            with m.If(absolute[i]):
                m.d.comb += leading_comb.eq(i)
        m.d.sync += [
            negative.eq(product < 0), magnitude.eq(absolute), leading.eq(leading_comb),
            z2.eq(z1), valid2.eq(valid1), nar2.eq(nar1),
        ]
        if tfx:
            m.d.sync += is2.eq(is1)

        # Stages 3 and 4: the binade (TFX) and the cut, then shift, round once, encode. FXP has
        # no binade arithmetic; its inputs wait one cycle so both take the same cycles.
        if tfx:
            m.submodules.encoder = encoder = TFXEncoder(
                family=self._family, magnitude_width=magnitude_width, registered=True)
            m.d.comb += [
                encoder.negative.eq(negative), encoder.magnitude.eq(magnitude),
                encoder.leading.eq(leading), encoder.exponent.eq(z2), encoder.IS.eq(is2),
            ]
        else:
            m.submodules.encoder = encoder = FXPEncoder(family=self._family,
                                                        magnitude_width=magnitude_width)
            for port, value in ((encoder.negative, negative), (encoder.magnitude, magnitude),
                                (encoder.leading, leading), (encoder.exponent, z2)):
                m.d.sync += port.eq(value)
        valid3, nar3 = Signal(), Signal()
        m.d.sync += [valid3.eq(valid2), nar3.eq(nar2)]
        m.d.sync += [self.code.eq(encoder.code), self.valid_out.eq(valid3), self.nar.eq(nar3)]
        return m
