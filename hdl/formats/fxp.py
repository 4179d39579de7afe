"""Fixed-point hardware: decoding is sign extension; the scaling stage's encoder."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden._checks import check_int
from golden.family import FXPFamily
from . import register
from .rounding import EXPONENT_WIDE, round_bits

__all__ = ["decode", "FXPEncoder"]


def decode(m, decoder):
    """The operand of an FXP :class:`hdl.decoder.Decoder`: the code sign-extended
    (zero-extended if unsigned). No logic."""
    m.d.comb += decoder.operand.value.eq(decoder.code.as_signed() if decoder.family.signed
                                         else decoder.code)


class FXPEncoder(wiring.Component):
    """Round ``(-1)**negative * magnitude * 2**Z`` (Z = exponent + F) to an FXP code. Combinational.

    Round half to even on the integer ``q``, saturate to ``[q_min, q_max]`` (unsigned: negative
    values give 0).
    """

    latency = 0

    def __init__(self, *, family, magnitude_width):
        if not isinstance(family, FXPFamily):
            raise TypeError(f"family must be an FXPFamily, not {family!r}")
        self._family = family
        self._width = check_int("magnitude_width", magnitude_width, 1, 256)
        super().__init__({
            "negative": In(1), "magnitude": In(magnitude_width),
            "leading": In(range(magnitude_width)), "exponent": In(EXPONENT_WIDE),
            "code": Out(family.n),
        })

    def elaborate(self, platform):
        m = Module()
        n, signed_ = self._family.n, self._family.signed
        grid, guard, sticky = round_bits(m, self.magnitude, -self.exponent,
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


register(FXPFamily, decode=decode, encoder=FXPEncoder)
