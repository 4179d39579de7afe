"""A signed family with its unsigned variants (:class:`golden.family.WithUnsigned`): the
parent family's decoder behind a code widener, and two encoders.

Every operand is held in the units of the family one bit wider (the parent): an unsigned
code is the parent's code with sign 0; a signed code becomes the parent's code of the same
value (``code << 1`` for TFX, posit and the minifloats, sign extension for fixed point). So
one parent decoder serves both, and the multipliers and the accumulator are the parent's.
Where a signed special code has no special twin in the parent (FP(8, 4)'s NaN ``0x7F`` widens
to a finite code of FP(9, 4)), a comparator on the n-bit code flags it NaR and zeroes it.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal

from golden.family import WithUnsigned
from . import Encoder, hardware_for, register, staged

__all__ = ["decode", "WithUnsignedEncoder"]


def _widened(family, code):
    """The parent's code of the same value as the signed n-bit ``code``."""
    if family.widening == "shift":
        return Cat(Const(0, 1), code)
    return code.as_signed()  # assigned to n + 1 bits: sign extension


def _lost_nar_codes(family):
    """The signed NaR codes whose widened code (as :func:`_widened` makes it) is not NaR in
    the parent (every member shares its family's NaR codes, so the widest ones stand for
    all)."""
    signed, parent = family.signed_family.widest(), family.parent.widest()
    top = 1 << (signed.n - 1)
    widened = ((lambda code: code << 1) if family.widening == "shift"  # sign extension:
               else (lambda code: ((code ^ top) - top) % parent.code_count))
    return [code for code in signed.nar_codes if not parent.is_nar(widened(code))]


def decode(m, decoder):
    """The operand of a :class:`hdl.decoder.Decoder` of a :class:`~golden.family.WithUnsigned`
    family: the parent's decoder on the widened code (zero-extended if unsigned), and a NaR
    comparator for signed special codes the widening loses."""
    from ..decoder import Decoder

    family = decoder.family
    m.submodules.parent = parent = Decoder(family=family.parent, form=decoder.form)
    wide = Signal(family.n + 1)
    m.d.comb += wide.eq(Mux(decoder.unsigned, decoder.code, _widened(family, decoder.code)))
    m.d.comb += parent.code.eq(wide)
    for name in family.parent.fields:
        m.d.comb += getattr(parent, name).eq(getattr(decoder, name))
    # Field by field: fixed point's magnitude is a bit narrower than its parent's.
    fields = [getattr(decoder.operand, name).eq(getattr(parent.operand, name))
              for name in decoder.operand.shape().members]
    lost = _lost_nar_codes(family)
    if not lost:
        m.d.comb += fields
        return
    special = Signal()
    m.d.comb += special.eq(~decoder.unsigned
                           & Cat(*(decoder.code == code for code in lost)).any())
    with m.If(special):
        m.d.comb += decoder.operand.nar.eq(1)  # the rest of the operand stays zero
    with m.Else():
        m.d.comb += fields


class WithUnsignedEncoder(Encoder):
    """Round ``(-1)**negative * magnitude * 2**Z`` into a signed member (the signed family's
    encoder) or an unsigned one (the parent's encoder, its sign bit dropped; a negative value
    gives 0, the code of zero). Latency: the two encoders' (the same type's)."""

    family_type = WithUnsigned

    def __init__(self, *, family, magnitude_width, pipelined=False):
        super().__init__(family=family, magnitude_width=magnitude_width, pipelined=pipelined)
        make = lambda inner: hardware_for(inner).encoder(
            family=inner, magnitude_width=magnitude_width, pipelined=pipelined)
        self._signed_encoder = make(family.signed_family)
        self._unsigned_encoder = make(family.parent)
        self.latency = self._signed_encoder.latency
        assert self._unsigned_encoder.latency == self.latency

    def elaborate(self, platform):
        m = Module()
        family = self._family
        # (not "signed" and "unsigned": Verilog keywords as instance names)
        m.submodules.signed_encoder = signed = self._signed_encoder
        m.submodules.unsigned_encoder = unsigned = self._unsigned_encoder
        clamp = self.negative & self.unsigned
        for encoder in (signed, unsigned):
            m.d.comb += [encoder.negative.eq(self.negative & ~clamp),
                         encoder.magnitude.eq(Mux(clamp, 0, self.magnitude)),
                         encoder.leading.eq(Mux(clamp, 0, self.leading)),
                         encoder.exponent.eq(self.exponent)]
        for name in family.signed_family.fields:
            m.d.comb += [getattr(signed, name).eq(getattr(self, name)),
                         getattr(unsigned, name).eq(getattr(self, name))]
        select = self.unsigned
        for _ in range(self.latency):
            (select,) = staged(m, "unsigned", select)
        m.d.comb += self.code.eq(Mux(select, unsigned.code[:family.n], signed.code))
        return m


def ordinal(family, code):
    raise TypeError(f"{family.label}: comparing codes needs the tensor's unsigned field; "
                    f"max-pooling and the class choice are not built for it")


register(WithUnsigned, decode=decode, encoder=WithUnsignedEncoder, ordinal=ordinal)
