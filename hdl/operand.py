"""Pre-decoded operand forms: what a decoder produces and a MAC consumes.

Two forms of the same exact operand ``X`` (``value = X * 2**int_exponent``):

- ``"int"``: ``X`` itself, a signed integer of ``family.operand_width`` bits. Any family.
- ``"ses"``: sign, exponent field and significand, ``|X| = significand * 2**(exponent -
  family.exponent_offset)``, the significand carrying its hidden bit (0 for zero and NaR).
  Families that list it in ``family.forms`` (all four; fixed point's is sign and magnitude, one
  exponent value): the MAC then multiplies short
  significands and shifts.

Both carry ``nar``, set for a NaR code (whose operand is zero).
"""

from amaranth.hdl import signed, unsigned
from amaranth.lib import data

from golden._checks import check_choice
from golden.family import Family

__all__ = ["FORMS", "operand_layout", "factor_shape", "check_family", "check_form"]

FORMS = ("int", "ses")
_DESCRIPTIONS = {"int": "integer", "ses": "sign, exponent, significand"}


def check_family(family):
    if not isinstance(family, Family):
        raise TypeError(f"family must be a golden.family.Family (TFXFamily, FXPFamily, ...), "
                        f"not {family!r}")
    return family


def check_form(family, form):
    check_choice("form", form, FORMS)
    if form not in family.forms:
        raise ValueError(f"form {form!r} ({_DESCRIPTIONS[form]}) is not an operand form of "
                         f"{family!r}; use one of {', '.join(map(repr, family.forms))}")
    return form


def operand_layout(family, form):
    """The ``data.StructLayout`` of a pre-decoded operand of ``family`` in ``form``."""
    check_family(family)
    check_form(family, form)
    if form == "int":
        return data.StructLayout({"value": signed(family.operand_width), "nar": unsigned(1)})
    return data.StructLayout({
        "sign": unsigned(1),
        "exponent": unsigned((family.exponent_count - 1).bit_length()),
        "significand": unsigned(family.significand_width),
        "nar": unsigned(1),
    })


def factor_shape(family, form):
    """The shape of what a PE's multiplier multiplies: the integer (``"int"``) or the unsigned
    significand (``"ses"``)."""
    layout = operand_layout(family, form)
    return layout["value"].shape if form == "int" else layout["significand"].shape
