"""The one rounding every encoder shares: floor, guard and sticky bits of a scaled magnitude."""

from amaranth.hdl import Cat, Signal, signed

__all__ = ["clamp_position", "shift_bits", "EXPONENT_WIDE"]

#: Shape of the encoders' exponent arithmetic: |values| stay below 2**10.
EXPONENT_WIDE = signed(14)


def clamp_position(m, position, low, high):
    """``position`` clamped to ``[low, high]``, less ``low`` (the shift of :func:`shift_bits`).

    Callers choose the range so that clamping never changes the result (below ``low`` nothing
    is lost; above ``high`` everything is shifted out).
    """
    clamped = Signal(range(0, high - low + 1))
    with m.If(position < low):
        m.d.comb += clamped.eq(0)
    with m.Elif(position > high):
        m.d.comb += clamped.eq(high - low)
    with m.Else():
        m.d.comb += clamped.eq(position - low)
    return clamped


def shift_bits(m, magnitude, clamped, low):
    """``floor(magnitude / 2**(clamped + low))``, its guard bit and sticky bit (below the
    guard), for a ``clamped`` position from :func:`clamp_position`: the one barrel shifter."""
    extended = magnitude << (1 - low)  # one spare bit below for the guard
    width = len(extended)
    shifted = Signal(width)
    m.d.comb += shifted.eq(extended >> clamped)
    floor, guard = shifted[1:], shifted[0]
    # Sticky: any bit below the guard, i.e. below position `clamped` (a thermometer mask).
    sticky = Signal()
    m.d.comb += sticky.eq(Cat(extended[i] & (clamped > i) for i in range(width)).any())
    return floor, guard, sticky
