"""Format-specific hardware, chosen through the family: decoding and encoding.

Everything else in :mod:`hdl` is generic over the family. Each family type registers here the
two pieces that know its bit layout:

- ``decode(m, decoder)``: the combinational logic of a :class:`hdl.decoder.Decoder` (code and
  run-time fields in, pre-decoded operand out);
- ``ordinal(family, code)``: the code as a signed value that compares like the code's value
  (``golden.format.NumberFormat.ordinals``): what max-pooling compares;
- ``encoder``: the scaling stage's encoder, an :class:`Encoder` subclass (built with
  ``family=``, ``magnitude_width=``, ``pipelined=``) that rounds
  ``(-1)**negative * magnitude * 2**Z`` once into a run-time member (ports ``negative``,
  ``magnitude``, ``leading``, ``exponent``, the family's fields, ``code``) with a ``latency``
  of at most 1 cycle, or at most 3 when ``pipelined`` (for fast clocks).

A new format adds a module here and one :func:`register` call.
"""

from dataclasses import dataclass
from typing import Callable

from amaranth.hdl import Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden._checks import check_bool, check_int
from ..runtime import field_ports
from .rounding import EXPONENT_WIDE

__all__ = ["FormatHardware", "register", "hardware_for", "staged", "Encoder",
           "drive_operand", "twos_complement_ordinal"]


@dataclass(frozen=True)
class FormatHardware:
    decode: Callable
    encoder: Callable
    ordinal: Callable


_REGISTRY = {}


def register(family_type, *, decode, encoder, ordinal):
    """Register the decoder logic, encoder factory and ordinal of a family type."""
    _REGISTRY[family_type] = FormatHardware(decode, encoder, ordinal)


def twos_complement_ordinal(family, code):
    """The ordinal of formats ordered like their two's-complement codes (TFX, posit)."""
    return code.as_signed()


def hardware_for(family):
    """The :class:`FormatHardware` of ``family``'s type."""
    try:
        return _REGISTRY[type(family)]
    except KeyError:
        raise TypeError(f"no hardware is registered for {family!r} "
                        f"(known: {', '.join(t.__name__ for t in _REGISTRY)})") from None


def drive_operand(m, decoder, *, sign, exponent, significand, nar):
    """A decoder's output from a decoded sign, exponent field and significand (hidden bit
    included, 0 for zero and NaR): the ses form as they are, the int form as
    ``X = ±(significand << exponent) >> exponent_offset``."""
    operand = decoder.operand
    if decoder.form == "ses":
        m.d.comb += [operand.sign.eq(sign), operand.exponent.eq(exponent),
                     operand.significand.eq(significand)]
    else:
        magnitude = (significand << exponent)[decoder.family.exponent_offset:]
        m.d.comb += operand.value.eq(Mux(sign, -magnitude, magnitude))
    m.d.comb += operand.nar.eq(nar)


class Encoder(wiring.Component):
    """What every format's encoder shares: its checked parameters and its ports.

    Subclasses set :attr:`family_type`, :attr:`LATENCY` and :attr:`PIPELINED_LATENCY` and
    write ``elaborate``. Members: ``negative``, ``magnitude`` (unsigned, ``magnitude_width``
    bits), ``leading`` (index of its leading one), ``exponent`` (``Z``, signed), the family's
    run-time fields, and ``code``; the value to round is
    ``(-1)**negative * magnitude * 2**Z`` in units of the output's scale.
    """

    family_type = None
    LATENCY = 0
    PIPELINED_LATENCY = 0

    def __init__(self, *, family, magnitude_width, pipelined=False):
        if not isinstance(family, self.family_type):
            raise TypeError(f"family must be a {self.family_type.__name__}, not {family!r}")
        self._family = family
        self._pipelined = check_bool("pipelined", pipelined)
        self.latency = self.PIPELINED_LATENCY if pipelined else self.LATENCY
        self._width = check_int("magnitude_width", magnitude_width, 1, 256)
        super().__init__({
            "negative": In(1), "magnitude": In(magnitude_width),
            "leading": In(range(magnitude_width)), "exponent": In(EXPONENT_WIDE),
            **field_ports(family, ""), "code": Out(family.n),
        })


def staged(m, stage, *values):
    """Each value through a register of its own, named ``<stage>_<name>`` (``<name>_staged``
    when ``stage`` is None). The registers carry data and have no reset."""
    registers = []
    for i, value in enumerate(values):
        name = getattr(value, "name", f"value{i}")
        register = Signal.like(value, name=f"{name}_staged" if stage is None
                               else f"{stage}_{name}", reset_less=True)
        m.d.sync += register.eq(value)
        registers.append(register)
    return registers


from . import fp, fxp, posit, tfx, unsigned  # noqa: E402, F401  (they register themselves)
