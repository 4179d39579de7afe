"""Minifloat hardware: the decoder's field split and the scaling stage's encoder."""

from amaranth.hdl import Cat, Module, Mux, Signal

from golden.family import FPFamily
from . import Encoder, drive_operand, register, staged
from .rounding import EXPONENT_WIDE, clamp_position, shift_bits

__all__ = ["decode", "FPEncoder"]


def _nar_bodies(family):
    """The code bodies (sign dropped) of the NaN and infinity codes: NaR for either sign."""
    mask = (1 << (family.n - 1)) - 1
    return sorted({code & mask for code in family.widest().nar_codes})


def decode(m, decoder):
    """The decoding logic of a minifloat :class:`hdl.decoder.Decoder`, into module ``m``.

    Sign-magnitude: no negation. A subnormal (exponent field 0) has no hidden bit and the
    exponent of the field 1, so the exponent field of the ses form is ``max(e, 1) - 1`` and
    ``X = significand << exponent`` (X in units of the smallest subnormal). NaN and infinity
    codes are NaR with a zero significand; -0 is zero.
    """
    family = decoder.family
    n, M = family.n, family.M
    sign = decoder.code[n - 1]
    body = decoder.code[:n - 1]
    field, mantissa = body[M:], body[:M]
    nar = Signal()
    m.d.comb += nar.eq(Cat(body == value for value in _nar_bodies(family)).any())
    normal = field != 0
    exponent = Signal(range(family.exponent_count))
    m.d.comb += exponent.eq(Mux(normal, field - 1, 0))
    significand = Signal(family.significand_width)
    m.d.comb += significand.eq(Mux(nar, 0, Cat(mantissa, normal)))
    drive_operand(m, decoder, sign=sign, exponent=exponent, significand=significand, nar=nar)


class FPEncoder(Encoder):
    """Round ``(-1)**negative * magnitude * 2**Z`` to a minifloat FP(n, E, SC) code.

    Inputs: ``negative``, ``magnitude`` (unsigned), ``leading`` (index of its leading one),
    ``exponent`` (``Z``, signed; the value is in units of 2**SC). The grid is the binade's
    (``2**(max(k, 1 - bias) - M)``, subnormals sharing the lowest normal binade's), so one
    round-half-to-even of the body ``(binade << M) + significand`` gives the nearest value,
    ties to the even code, and a carry into the next binade for free; values above the largest
    finite one saturate to it (OCP's saturating conversion), and up to half the smallest
    subnormal flush to zero. NaN and infinity codes are never produced.

    Latency 0; ``pipelined=True``: latency 2, registers after the binade and its clamped shift
    and after the shift (floor, guard and sticky bits), before the round and saturate.
    """

    family_type = FPFamily
    LATENCY = 0
    PIPELINED_LATENCY = 2

    def elaborate(self, platform):
        m = Module()
        family = self._family
        n, M = family.n, family.M
        widest = family.widest()
        lowest = 1 - family.bias  # the lowest normal binade's exponent
        top_body = int(widest.quantize(widest.maxpos))  # the largest finite value's
        top_binade = (top_body >> M) - family.bias

        binade = Signal(EXPONENT_WIDE)  # whose grid rounds: the value's, or the lowest normal
        k_true = Signal(EXPONENT_WIDE)
        m.d.comb += [k_true.eq(self.leading + self.exponent),
                     binade.eq(Mux(k_true < lowest, lowest, k_true))]
        saturated = Signal()
        m.d.comb += saturated.eq(k_true > top_binade)
        # The floor's position: never below -M, since binade >= k_true = leading + Z.
        low, high = -M, self._width + 1
        clamped = clamp_position(m, binade - M - self.exponent, low, high)
        # The binade's first body less its hidden bit (garbage only where saturated decides).
        start = Signal(n + 1)
        m.d.comb += start.eq((binade - lowest) << M)
        magnitude, negative, zero = self.magnitude, self.negative, Signal()
        m.d.comb += zero.eq(self.magnitude == 0)
        if self._pipelined:
            clamped, start, saturated, zero, magnitude, negative = staged(
                m, "binade", clamped, start, saturated, zero, magnitude, negative)
        floor, guard, sticky = shift_bits(m, magnitude, clamped, low)
        grid = Signal(M + 2)  # the significand on the binade's grid, hidden bit included
        m.d.comb += grid.eq(floor)
        if self._pipelined:
            grid, guard, sticky, start, saturated, zero, negative = staged(
                m, "shifted", grid, guard, sticky, start, saturated, zero, negative)
        truncated = Signal(n + 1)
        m.d.comb += truncated.eq(start + grid)
        rounded = Signal(n + 2)
        m.d.comb += rounded.eq(truncated + (guard & (sticky | truncated[0])))

        body = Signal(n - 1)
        with m.If(zero):
            m.d.comb += body.eq(0)
        with m.Elif(saturated | (rounded > top_body)):
            m.d.comb += body.eq(top_body)
        with m.Else():
            m.d.comb += body.eq(rounded)
        m.d.comb += self.code.eq(Cat(body, negative & (body != 0)))
        return m


def ordinal(family, code):
    """Sign and magnitude: ``±(code without its sign)``."""
    magnitude = code[:family.n - 1]
    return Mux(code[family.n - 1], -magnitude, magnitude)


register(FPFamily, decode=decode, encoder=FPEncoder, ordinal=ordinal)
