"""Fixed-point hardware: decoding is sign extension; the scaling stage's encoder."""

from amaranth.hdl import Module, Mux, Signal

from golden.family import FXPFamily
from . import Encoder, drive_operand, register, staged
from .rounding import clamp_position, shift_bits

__all__ = ["decode", "FXPEncoder"]


def decode(m, decoder):
    """The operand of an FXP :class:`hdl.decoder.Decoder`: the code sign-extended
    (zero-extended if unsigned), no logic; in the ses form its sign and n-bit magnitude."""
    family, code = decoder.family, decoder.code
    if decoder.form == "int":
        m.d.comb += decoder.operand.value.eq(code.as_signed() if family.signed else code)
        return
    negative = code[family.n - 1] if family.signed else 0
    magnitude = Signal(family.n)
    m.d.comb += magnitude.eq(Mux(negative, -code.as_signed(), code))
    drive_operand(m, decoder, sign=negative, exponent=0, significand=magnitude, nar=0)


class FXPEncoder(Encoder):
    """Round ``(-1)**negative * magnitude * 2**Z`` (Z = exponent + F) to an FXP code.

    Round half to even on the integer ``q``, saturate to ``[q_min, q_max]`` (unsigned: negative
    values give 0). ``pipelined=True``: latency 2, registers after the clamped shift and after
    the shift (floor, guard and sticky bits), before the round and saturate.
    """

    family_type = FXPFamily
    LATENCY = 0
    PIPELINED_LATENCY = 2

    def elaborate(self, platform):
        m = Module()
        n, signed_ = self._family.n, self._family.signed
        low = -(n + 1)
        clamped = clamp_position(m, -self.exponent, low, self._width + 1)
        magnitude, negative = self.magnitude, self.negative
        if not self._pipelined:
            grid, guard, sticky = shift_bits(m, magnitude, clamped, low)
            q = Signal(len(grid) + 1)
            m.d.comb += q.eq(grid + (guard & (sticky | grid[0])))
        else:
            clamped, magnitude, negative = staged(m, "clamped", clamped, magnitude, negative)
            floor, guard, sticky = shift_bits(m, magnitude, clamped, low)
            # Beyond n + 1 bits every floor saturates alike: n + 1 of them and whether any
            # above was set are enough.
            grid, above = Signal(n + 1), Signal()
            m.d.comb += [grid.eq(floor), above.eq(floor[n + 1:].any())]
            grid, above, guard, sticky, negative = staged(m, "shifted", grid, above, guard,
                                                          sticky, negative)
            q = Signal(n + 3)
            m.d.comb += q.eq(Mux(above, 1 << (n + 1), grid + (guard & (sticky | grid[0]))))
        limit_positive = (1 << (n - 1)) - 1 if signed_ else (1 << n) - 1
        limit_negative = 1 << (n - 1) if signed_ else 0
        limited = Signal(n + 1)
        with m.If(negative):
            m.d.comb += limited.eq(Mux(q > limit_negative, limit_negative, q))
        with m.Else():
            m.d.comb += limited.eq(Mux(q > limit_positive, limit_positive, q))
        m.d.comb += self.code.eq(Mux(negative, -limited, limited))
        return m


def ordinal(family, code):
    """Signed fixed point orders as two's complement, unsigned as the code."""
    return code.as_signed() if family.signed else code.as_unsigned()


register(FXPFamily, decode=decode, encoder=FXPEncoder, ordinal=ordinal)
