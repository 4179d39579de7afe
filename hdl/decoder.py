"""Decoder: an n-bit code and the run-time IS to a pre-decoded operand."""

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.family import TFXFamily
from .operand import check_family, check_form, operand_layout

__all__ = ["Decoder", "is_shape", "add_decoder"]


def is_shape(family):
    """Shape of a run-time IS register of a TFX family (holds IS_min .. IS_max)."""
    return unsigned(family.IS_max.bit_length())


class Decoder(wiring.Component):
    """Decode a code of the run-time format into its exact operand. Combinational.

    Parameters
    ----------
    family : TFXFamily or FXPFamily
        What the hardware is built for; the member (IS) is a run-time input.
    form : {"int", "ses"}
        Operand form (see :mod:`hdl.operand`); "ses" needs a TFX family.

    Attributes
    ----------
    code : In(n)
        The code.
    IS : In(is_shape(family))
        TFX only: the tensor's IS, ``IS_min <= IS <= IS_max`` (other values: undefined output).
    operand : Out(operand_layout(family, form))
        ``X`` (``value * 2**(n-1-SC)``, which does not depend on SC) or its sign, exponent and
        significand; ``nar`` set for the NaR code, whose operand is zero.

    Notes
    -----
    Latency 0 (combinational). TFX: the regime run is detected over at most IS_max leading body
    bits (a small priority chain compared against the run-time IS, not a leading-zero counter
    over the word); the fraction is aligned by a left shift of the body by the regime length
    (IS_max positions). FXP: the operand is the code sign-extended (zero-extended if unsigned).
    """

    def __init__(self, *, family, form="int"):
        self._family = check_family(family)
        self._form = check_form(family, form)
        members = {"code": In(family.n), "operand": Out(operand_layout(family, form))}
        if isinstance(family, TFXFamily):
            members["IS"] = In(is_shape(family))
        super().__init__(members)

    @property
    def family(self):
        return self._family

    @property
    def form(self):
        return self._form

    def elaborate(self, platform):
        m = Module()
        family = self._family
        if not isinstance(family, TFXFamily):
            m.d.comb += self.operand.value.eq(self.code.as_signed() if family.signed else self.code)
            return m

        n, is_max = family.n, family.IS_max
        sign = self.code[n - 1]
        word = Mux(sign, -self.code, self.code)[:n]
        body = word[:n - 1]
        first = body[n - 2]
        zero = self.code == 0
        nar = self.code == (1 << (n - 1))

        # Run length m of bits equal to the first, capped at IS: a priority chain over IS_max bits.
        run = Signal(range(is_max + 1))
        m.d.comb += run.eq(self.IS)
        for i in reversed(range(1, is_max)):
            with m.If((body[n - 2 - i] != first) & (i < self.IS)):
                m.d.comb += run.eq(i)
        regime_length = Mux(run < self.IS, run + 1, run)
        # k = m-1 (first bit 1) or -m (first bit 0); the exponent field is k + IS_max >= 0.
        exponent = Signal(range(family.exponent_count))
        m.d.comb += exponent.eq(Mux(first, run - 1 + is_max, is_max - run))

        fraction = Signal(family.fraction_width)
        aligned = (body << regime_length)[:n - 1]
        m.d.comb += fraction.eq(aligned[n - 1 - family.fraction_width:])
        significand = Cat(fraction, ~zero & ~nar)

        if self._form == "ses":
            m.d.comb += [
                self.operand.sign.eq(sign),
                self.operand.exponent.eq(exponent),
                self.operand.significand.eq(significand),
            ]
        else:
            magnitude = (significand << exponent)[family.exponent_offset:]
            m.d.comb += self.operand.value.eq(Mux(sign, -magnitude, magnitude))
        m.d.comb += self.operand.nar.eq(nar)
        return m


def add_decoder(m, name, *, family, form, code, IS=None):
    """Add a :class:`Decoder` of ``code`` (with run-time ``IS`` for TFX) to module ``m`` as
    submodule ``name``; return its operand."""
    decoder = Decoder(family=family, form=form)
    m.submodules[name] = decoder
    m.d.comb += decoder.code.eq(code)
    if isinstance(family, TFXFamily):
        m.d.comb += decoder.IS.eq(IS)
    return decoder.operand
