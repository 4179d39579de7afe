"""Multipliers whose mapping the generator decides: inferred (``*``) or fabric (shift and add).

Yosys maps an inferred ``$mul`` of at least 11 product bits to an iCE40 DSP block when asked
to (``synth_ice40 -dsp``); a product written as a sum of shifted partial products is never
mapped to one. So the generator, not the tool, says which multipliers get the few DSPs.
"""

from amaranth.hdl import Mux, Shape, Signal

from golden._checks import check_choice

__all__ = ["MULTIPLIERS", "multiply"]

MULTIPLIERS = ("infer", "fabric")


def multiply(m, a, b, *, kind, name):
    """``a * b`` (Amaranth values, either signedness) as a signal of the exact product width."""
    check_choice("multiplier", kind, MULTIPLIERS)
    a_shape, b_shape = a.shape(), b.shape()
    width = a_shape.width + b_shape.width
    product = Signal(Shape(width, a_shape.signed or b_shape.signed), name=name)
    if kind == "infer":
        m.d.comb += product.eq(a * b)
        return product
    terms = []
    for i in range(b_shape.width):
        term = Mux(b[i], a << i, 0)
        # The top bit of a signed multiplier weighs -2**(w-1).
        terms.append(-term if b_shape.signed and i == b_shape.width - 1 else term)
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    m.d.comb += product.eq(total)
    return product
