"""Decoder: an n-bit code and the run-time fields of its member to a pre-decoded operand."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .formats import hardware_for
from .operand import check_family, check_form, operand_layout
from .runtime import field_ports

__all__ = ["Decoder", "add_decoder"]


class Decoder(wiring.Component):
    """Decode a code of the run-time format into its exact operand. Combinational.

    Parameters
    ----------
    family : golden.family.Family
        What the hardware is built for; the member (e.g. TFX's IS) is a run-time input.
    form : str
        Operand form, one of ``family.forms`` (see :mod:`hdl.operand`).

    Members
    -------
    code : In(n)
        The code.
    <field> : In(...)
        One port per run-time field of the family (TFX: ``IS``, ``IS_min <= IS <= IS_max``;
        other values: undefined output). Fixed point has none.
    operand : Out(operand_layout(family, form))
        ``X`` (``value * 2**(n-1-SC)`` for TFX, which does not depend on SC) or its sign,
        exponent and significand; ``nar`` set for the NaR code, whose operand is zero.

    Notes
    -----
    Latency 0 (combinational). The logic is the family's (:mod:`hdl.formats`): TFX detects
    the regime run over at most IS_max leading body bits (a small priority chain, not a
    leading-zero counter over the word) and aligns the fraction by a shift of IS_max
    positions; FXP sign-extends the code (zero-extends if unsigned), no logic.
    """

    def __init__(self, *, family, form="int"):
        self._family = check_family(family)
        hardware_for(family)  # a family without hardware fails here, not at elaboration
        self._form = check_form(family, form)
        members = {"code": In(family.n), "operand": Out(operand_layout(family, form))}
        members.update(field_ports(family, ""))
        super().__init__(members)

    @property
    def family(self):
        return self._family

    @property
    def form(self):
        return self._form

    def elaborate(self, platform):
        m = Module()
        hardware_for(self._family).decode(m, self)
        return m


def add_decoder(m, name, *, family, form, code, fields=None):
    """Add a :class:`Decoder` of ``code`` (with the run-time ``fields``, a mapping of field
    name to value, for families that have any) to module ``m`` as submodule ``name``;
    return its operand."""
    decoder = Decoder(family=family, form=form)
    m.submodules[name] = decoder
    m.d.comb += decoder.code.eq(code)
    for field, value in (fields or {}).items():
        m.d.comb += getattr(decoder, field).eq(value)
    return decoder.operand
