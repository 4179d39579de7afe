"""Format-specific hardware, chosen through the family: decoding and encoding.

Everything else in :mod:`hdl` is generic over the family. Each family type registers here the
two pieces that know its bit layout:

- ``decode(m, decoder)``: the combinational logic of a :class:`hdl.decoder.Decoder` (code and
  run-time fields in, pre-decoded operand out);
- ``encoder(family, magnitude_width, pipelined)``: the encoder of the scaling stage, a
  component that rounds ``(-1)**negative * magnitude * 2**Z`` once into a run-time member
  (ports ``negative``, ``magnitude``, ``leading``, ``exponent``, the family's fields, ``code``)
  with a ``latency`` of at most 1 cycle, or at most 3 when ``pipelined`` (for fast clocks).

A new format adds a module here and one :func:`register` call.
"""

from dataclasses import dataclass
from typing import Callable

from amaranth.hdl import Signal

__all__ = ["FormatHardware", "register", "hardware_for", "staged"]


@dataclass(frozen=True)
class FormatHardware:
    decode: Callable
    encoder: Callable


_REGISTRY = {}


def register(family_type, *, decode, encoder):
    """Register the decoder logic and encoder factory of a family type."""
    _REGISTRY[family_type] = FormatHardware(decode, encoder)


def hardware_for(family):
    """The :class:`FormatHardware` of ``family``'s type."""
    try:
        return _REGISTRY[type(family)]
    except KeyError:
        raise TypeError(f"no hardware is registered for {family!r} "
                        f"(known: {', '.join(t.__name__ for t in _REGISTRY)})") from None


def staged(m, stage, *values):
    """Each value through a register of its own, named ``<stage>_<name>`` (``<name>_staged``
    when ``stage`` is None)."""
    registers = []
    for i, value in enumerate(values):
        name = getattr(value, "name", f"value{i}")
        register = Signal.like(value, name=f"{name}_staged" if stage is None
                               else f"{stage}_{name}")
        m.d.sync += register.eq(value)
        registers.append(register)
    return registers


from . import fxp, tfx  # noqa: E402  (they register themselves)
