"""Posit hardware: the decoder's regime, exponent and fraction, and the scaling stage's encoder."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed

from golden.family import PositFamily
from . import Encoder, drive_operand, register, staged, twos_complement_ordinal
from .rounding import EXPONENT_WIDE, clamp_position, shift_bits

__all__ = ["decode", "PositEncoder"]


def decode(m, decoder):
    """The decoding logic of a posit :class:`hdl.decoder.Decoder`, into module ``m``.

    The regime run is found by a priority chain over the whole body (n - 1 bits: a posit's
    regime is not capped); the body shifted left by the regime's length puts the exponent
    bits on top (bits cut off by the word's end read as 0) and the fraction, left-aligned,
    below them. The ses form's exponent field is the binade ``k * 2**es + e`` less the lowest
    binade, so ``X = significand << exponent >> exponent_offset``.
    """
    family = decoder.family
    n, es = family.n, family.es
    sign = decoder.code[n - 1]
    word = Mux(sign, -decoder.code, decoder.code)[:n]
    body = word[:n - 1]
    first = body[n - 2]
    zero = decoder.code == 0
    nar = decoder.code == (1 << (n - 1))

    run = Signal(range(n))
    m.d.comb += run.eq(n - 1)
    for i in reversed(range(1, n - 1)):
        with m.If(body[n - 2 - i] != first):
            m.d.comb += run.eq(i)
    regime_length = Mux(run < n - 1, run + 1, run)
    aligned = Signal(n - 1 + es)  # zeros below: exponent bits past the word's end read as 0
    m.d.comb += aligned.eq(Cat(Const(0, es), (body << regime_length)[:n - 1]))
    top = len(aligned)
    e = aligned[top - es:] if es else Const(0, 1)
    fraction = aligned[top - es - family.fraction_width:top - es]
    # k * 2**es + e - lowest binade, with k = run - 1 (ones) or -run (zeros).
    exponent = Signal(range(family.exponent_count))
    lowest = family.lowest_binade
    m.d.comb += exponent.eq(Mux(first, ((run - 1) << es) + e - lowest,
                                e - lowest - (run << es)))
    significand = Cat(fraction, ~zero & ~nar)

    drive_operand(m, decoder, sign=sign, exponent=exponent, significand=significand, nar=nar)


class PositEncoder(Encoder):
    """Round ``(-1)**negative * magnitude * 2**Z`` to a Posit(n, es, SC) code.

    Nearest value, ties to the even code, saturating at ±maxpos; up to minpos/2 gives 0 and
    (minpos/2, minpos) gives ±minpos. Where the regime leaves room for every exponent bit, a
    binade's values lie on a grid and one round-half-to-even of the body is the nearest value
    (a carry reaches the next binade's first code, which is 2**(p+1)). Where exponent bits are
    cut off, neighbouring values are powers of two ``2**a`` and ``2**(a+s)`` apart by more
    than one binade: the value is compared with their midpoint ``2**(a-1) * (1 + 2**s)``
    directly, as is the gap between 0 and minpos.

    Latency 1: a register after the binade arithmetic. ``pipelined=True``: latency 3, also
    registers after the cut (the clamped shift) and after the shift (floor, guard, sticky).
    """

    family_type = PositFamily
    LATENCY = 1
    PIPELINED_LATENCY = 3

    def elaborate(self, platform):
        m = Module()
        family = self._family
        n, es = family.n, family.es
        Z = self.exponent
        lowest, highest = family.lowest_binade, -family.lowest_binade

        p = Signal(EXPONENT_WIDE)  # the value's binade
        m.d.comb += p.eq(self.leading + Z)
        k = Signal(signed(EXPONENT_WIDE.width - es))
        m.d.comb += k.eq(p >> es)  # floor: an arithmetic shift
        e = Signal(max(es, 1))
        m.d.comb += e.eq(p[:es] if es else 0)
        run = Signal(range(n + 1))
        m.d.comb += run.eq(Mux(k >= 0, k + 1, -k))
        regime_length = Signal(range(n + 1))
        m.d.comb += regime_length.eq(Mux(run < n - 1, run + 1, n - 1))
        room = Signal(range(n))  # bits after the regime
        m.d.comb += room.eq(n - 1 - regime_length)
        regime = Signal(n - 1)  # the regime's bits, in place
        ones_end = Signal(range(n))  # k >= 0: ones from the top down to this bit
        m.d.comb += ones_end.eq(n - 1 - run)
        with m.If(k >= 0):  # run ones from the top, then the terminator (if room)
            m.d.comb += regime.eq(((Const(1, n) << run) - 1) << ones_end)
        with m.Else():  # run zeros, then the terminating one
            m.d.comb += regime.eq(Const(1, n) << room)
        cut = Signal()  # exponent bits cut off: no fraction, values 2**a, 2**(a + step)
        m.d.comb += cut.eq(room < es)
        nf = Signal(range(n))
        m.d.comb += nf.eq(Mux(cut, 0, room - es))
        dropped = Signal(range(es + 1))  # exponent bits cut off
        m.d.comb += dropped.eq(Mux(cut, es - room, 0))
        e_kept = Signal(max(es, 1))  # the exponent bits that fit, as the code holds them
        m.d.comb += e_kept.eq(e >> dropped)
        start = Signal(n - 1)  # the body of the binade's first value (cut: of 2**a)
        m.d.comb += start.eq(regime | (e_kept << nf))
        a = Signal(EXPONENT_WIDE)  # the lower neighbour's binade: p, or p with cut bits cleared
        m.d.comb += a.eq(p - (e - (e_kept << dropped)))
        position = Signal(EXPONENT_WIDE)  # where the floor's last bit is
        m.d.comb += position.eq(Mux(cut, a, p - nf) - Z)
        saturated, tiny, tiny_up = Signal(), Signal(), Signal()
        m.d.comb += [
            saturated.eq(p >= highest),
            tiny.eq(p < lowest),
            # Below minpos = 2**lowest only 0 and minpos compete: minpos/2 itself ties to 0.
            tiny_up.eq((p == lowest - 1) & (self.magnitude != (Const(1, len(self.magnitude))
                                                                 << self.leading))),
        ]
        magnitude, negative, zero = self.magnitude, self.negative, Signal()
        m.d.comb += zero.eq(self.magnitude == 0)
        stage = "binade" if self._pipelined else None
        (position, start, nf, dropped, cut, saturated, tiny, tiny_up, zero, magnitude,
         negative) = staged(m, stage, position, start, nf, dropped, cut, saturated, tiny,
                            tiny_up, zero, magnitude, negative)
        # The floor's position is at least -nf (a grid) or -(2**es - 1) (a cut binade).
        low, high = -(max(n, 2 ** es) + 1), self._width + 1
        clamped = clamp_position(m, position, low, high)
        if self._pipelined:
            (clamped, start, nf, dropped, cut, saturated, tiny, tiny_up, zero, magnitude,
             negative) = staged(m, "cut", clamped, start, nf, dropped, cut, saturated, tiny,
                                tiny_up, zero, magnitude, negative)
        floor, guard, sticky = shift_bits(m, magnitude, clamped, low)
        # The binade's significand (hidden bit included), or x / 2**a (below 2**step) if cut.
        grid = Signal(max(n, 2 ** es) + 1)
        m.d.comb += grid.eq(floor)
        if self._pipelined:
            grid, guard, sticky, start, nf, dropped, cut, saturated, tiny, tiny_up, zero, \
                negative = staged(m, "shifted", grid, guard, sticky, start, nf, dropped, cut,
                                  saturated, tiny, tiny_up, zero, negative)

        truncated = Signal(n + 1)
        up = Signal()
        with m.If(cut):
            # x / 2**(a-1) = 2 * grid + guard (+ sticky) against the midpoint 1 + 2**step.
            half_units = Cat(guard, grid)
            midpoint = 1 + (Const(1, 2 ** es + 1) << (Const(1, es + 1) << dropped))
            m.d.comb += [
                truncated.eq(start),
                up.eq((half_units > midpoint)
                      | ((half_units == midpoint) & (sticky | start[0]))),
            ]
        with m.Else():
            m.d.comb += [
                truncated.eq(start + grid - (Const(1, n) << nf)),
                up.eq(guard & (sticky | truncated[0])),
            ]
        rounded = Signal(n + 2)
        m.d.comb += rounded.eq(truncated + up)

        top = (1 << (n - 1)) - 1
        body = Signal(n - 1)
        with m.If(zero):
            m.d.comb += body.eq(0)
        with m.Elif(tiny):  # before the rounded body, which is no code's down there
            m.d.comb += body.eq(tiny_up)
        with m.Elif(saturated | (rounded > top)):
            m.d.comb += body.eq(top)
        with m.Else():
            m.d.comb += body.eq(rounded)
        m.d.comb += self.code.eq(Mux(negative, -body, body))
        return m


register(PositFamily, decode=decode, encoder=PositEncoder, ordinal=twos_complement_ordinal)
