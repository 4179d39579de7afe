"""Run-time format registers: the shapes and port names of each tensor's member.

A member of a family is named by register values (:class:`golden.family.Family`): its fields
(TFX: IS; fixed point: none) and its scale (SC or F). Hardware carries them as ports and
payload fields named ``<prefix><field>`` (``IS``, ``a_IS``, ``out_IS``, ...) and
``<prefix>scale``; everything here asks the family which fields there are.
"""

from amaranth.hdl import signed, unsigned
from amaranth.lib.wiring import In

__all__ = ["EXPONENT_SHAPE", "SCALE_SHAPE", "field_shapes", "field_ports", "field_values",
           "drive_fields"]

#: Shape of the run-time accumulator exponent E (``Family.accumulator_exponent``).
EXPONENT_SHAPE = signed(8)
#: Shape of a run-time scale register (TFX: SC; FXP: F), -32 to 32.
SCALE_SHAPE = signed(7)


def field_shapes(family, prefix=""):
    """``{prefix + name: shape}`` of the family's run-time fields (unsigned, up to its high
    bound)."""
    return {f"{prefix}{name}": unsigned(high.bit_length())
            for name, (low, high) in family.fields.items()}


def field_ports(family, *prefixes):
    """Input ports of the run-time fields of one tensor per prefix, prefix by prefix."""
    return {name: In(shape) for prefix in prefixes
            for name, shape in field_shapes(family, prefix).items()}


def field_values(source, family, prefix=""):
    """``{name: source.<prefix><name>}`` for every run-time field of the family."""
    return {name: getattr(source, f"{prefix}{name}") for name in family.fields}


def drive_fields(m, target, source, family, *prefixes):
    """Drive ``target.<prefix><field>`` from ``source.<prefix><field>`` (combinationally)
    for every run-time field of the family and every prefix."""
    for prefix in prefixes:
        for name, value in field_values(source, family, prefix).items():
            m.d.comb += getattr(target, f"{prefix}{name}").eq(value)
