"""TFX hardware: the decoder's regime and fraction logic, and the scaling stage's encoder."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed

from golden.family import TFXFamily
from . import Encoder, drive_operand, register, staged, twos_complement_ordinal
from .rounding import EXPONENT_WIDE, clamp_position, shift_bits

__all__ = ["decode", "TFXEncoder"]


def decode(m, decoder):
    """The decoding logic of a TFX :class:`hdl.decoder.Decoder`, into module ``m``.

    The regime run is detected over at most IS_max leading body bits (a small priority chain
    compared against the run-time IS, not a leading-zero counter over the word); the fraction
    is aligned by a left shift of the body by the regime length (IS_max positions).
    """
    family = decoder.family
    n, is_max = family.n, family.IS_max
    sign = decoder.code[n - 1]
    word = Mux(sign, -decoder.code, decoder.code)[:n]
    body = word[:n - 1]
    first = body[n - 2]
    zero = decoder.code == 0
    nar = decoder.code == (1 << (n - 1))

    # Run length m of bits equal to the first, capped at IS: a priority chain over IS_max bits.
    run = Signal(range(is_max + 1))
    m.d.comb += run.eq(decoder.IS)
    for i in reversed(range(1, is_max)):
        with m.If((body[n - 2 - i] != first) & (i < decoder.IS)):
            m.d.comb += run.eq(i)
    regime_length = Mux(run < decoder.IS, run + 1, run)
    # k = m-1 (first bit 1) or -m (first bit 0); the exponent field is k + IS_max >= 0.
    exponent = Signal(range(family.exponent_count))
    m.d.comb += exponent.eq(Mux(first, run - 1 + is_max, is_max - run))

    fraction = Signal(family.fraction_width)
    aligned = (body << regime_length)[:n - 1]
    m.d.comb += fraction.eq(aligned[n - 1 - family.fraction_width:])
    significand = Cat(fraction, ~zero & ~nar)

    drive_operand(m, decoder, sign=sign, exponent=exponent, significand=significand, nar=nar)


class TFXEncoder(Encoder):
    """Round ``(-1)**negative * magnitude * 2**(Z + SC)`` to a TFX(n, IS, SC) code.

    Inputs: ``negative``, ``magnitude`` (unsigned), ``leading`` (index of its leading one),
    ``exponent`` (``Z``, signed), ``IS`` (run-time). Nearest value with zero included, ties to the
    even code, saturating to ±maxpos; magnitudes up to minpos/2 give 0 and those in
    (minpos/2, minpos) give ±minpos (the slot of 2**(SC-IS) is zero's, so the bit string is not
    rounded there: the two candidates are compared directly).

    Latency 1: a register between the binade arithmetic (which binade, how many fraction bits,
    where to cut) and the shift, round and encode. ``pipelined=True``: latency 3, registers
    after the binade arithmetic (which binade, how many fraction bits), after the cut (the
    binade's first code, the clamped shift) and after the shift (floor, guard and sticky
    bits), before the round and encode.
    """

    family_type = TFXFamily
    LATENCY = 1
    PIPELINED_LATENCY = 3

    def elaborate(self, platform):
        m = Module()
        n, IS, Z = self._family.n, self.IS, self.exponent
        top = 1 << (n - 1)

        k_true = Signal(EXPONENT_WIDE)
        k = Signal(EXPONENT_WIDE)  # the binade whose grid rounds: k_true, or the lowest one below it
        m.d.comb += [k_true.eq(self.leading + Z), k.eq(Mux(k_true < -IS, -IS, k_true))]
        run = Signal(range(n + 1))
        m.d.comb += run.eq(Mux(k >= 0, k + 1, -k))
        regime_length = Signal(range(n + 1))
        m.d.comb += regime_length.eq(Mux(run < IS, run + 1, run))
        nf = Signal(range(n))
        m.d.comb += nf.eq(n - 1 - regime_length)
        magnitude, negative = self.magnitude, self.negative
        if self._pipelined:
            lowest, saturated, zero = Signal(), Signal(), Signal()
            m.d.comb += [lowest.eq(k == -IS), saturated.eq(k_true >= IS),
                         zero.eq(magnitude == 0)]
            k, run, nf, IS, Z, lowest, saturated, zero, magnitude, negative = staged(
                m, "binade", k, run, nf, IS, Z, lowest, saturated, zero, magnitude, negative)

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
        position = Signal(EXPONENT_WIDE)
        low, high = -(n - 2), self._width + 1
        if self._pipelined:
            m.d.comb += position.eq(k - nf - Z)
            clamped, lowest, saturated, start, nf, IS, magnitude, negative, zero = staged(
                m, "cut", clamp_position(m, position, low, high), lowest, saturated, start, nf,
                IS, magnitude, negative, zero)
            grid, guard, sticky = shift_bits(m, magnitude, clamped, low)
            kept = Signal(n + 1)
            m.d.comb += kept.eq(grid)
            grid, guard, sticky, lowest, saturated, start, nf, IS, negative, zero = staged(
                m, "shifted", kept, guard, sticky, lowest, saturated, start, nf, IS, negative,
                zero)
        else:
            lowest, saturated = Signal(), Signal()
            m.d.comb += [position.eq(k - nf - Z), lowest.eq(k == -IS),
                         saturated.eq(k_true >= IS)]
            position, lowest, saturated, start, nf, IS, magnitude, negative = staged(
                m, None, position, lowest, saturated, start, nf, IS, magnitude, negative)
            grid, guard, sticky = shift_bits(m, magnitude, clamp_position(m, position, low, high),
                                             low)
            zero = magnitude == 0
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
        with m.If(zero):
            m.d.comb += body.eq(0)
        with m.Elif(saturated | (rounded >= top)):
            m.d.comb += body.eq(top - 1)
        with m.Elif(tiny):
            m.d.comb += body.eq(tiny_up)
        with m.Else():
            m.d.comb += body.eq(rounded)
        m.d.comb += self.code.eq(Mux(negative, -body, body))
        return m


register(TFXFamily, decode=decode, encoder=TFXEncoder, ordinal=twos_complement_ordinal)
