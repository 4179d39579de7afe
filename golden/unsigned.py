"""Unsigned variants of the signed formats: UTFX, UPosit and UFP.

A tensor that is nonnegative by construction (a ReLU's output, the next layer's input) need
not spend a bit on its sign. The unsigned variant of a family F is

    U-F(n, params): codes 0 <= c < 2**n,  value(U-F(n), c) = value(F(n + 1, params), c)

the nonnegative half of the same format one bit wider, with the same parameters: UTFX(n, IS,
SC) is TFX(n + 1, IS, SC) with its sign bit fixed at 0. A special code of F(n + 1) in that half
(FP(8, 4)'s 0x7F, E5M2's infinity and NaNs) stays NaR and is never produced. Legal parameters
are those of F(n + 1) (UTFX: 1 <= IS <= n). Quantizing a negative value is an error unless the
caller asks for clamping at 0. Unsigned fixed point is ``FXP(n, F, signed=False)``
(:mod:`golden.fxp`), the same definition. Defined in ``docs/formats/unsigned.md``.
"""

import numpy as np

from ._checks import check_choice
from .format import NumberFormat
from .minifloat import FP
from .posit import Posit
from .tfx import TFX

__all__ = ["Unsigned", "UTFX", "UPosit", "UFP", "unsigned"]


class Unsigned(NumberFormat):
    """The unsigned variant of a signed format: the nonnegative codes of ``parent``, one bit
    narrower. Subclasses name the parent type (:attr:`parent_type`) and its spec prefix."""

    parent_type = None
    prefix = None
    signed = False

    def __init__(self, n, *params):
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"n must be an integer, not {n!r}")
        try:
            self._parent = self.parent_type(n + 1, *params)
        except ValueError as error:
            raise ValueError(f"{type(self).__name__}({n}, ...) is the nonnegative half of "
                             f"{self.parent_type.__name__}({n + 1}, ...): {error}") from None

    @classmethod
    def of(cls, parent):
        """The unsigned variant whose codes are ``parent``'s nonnegative ones."""
        return cls(parent.n - 1, *parent._key()[1:])

    @property
    def parent(self):
        """The signed format one bit wider whose nonnegative codes these are."""
        return self._parent

    @property
    def n(self):
        return self._parent.n - 1

    @property
    def int_exponent(self):
        return self._parent.int_exponent

    @property
    def nar_codes(self):
        return tuple(code for code in self._parent.nar_codes if code < self.code_count)

    @property
    def nar_code(self):
        codes = self.nar_codes
        return codes[-1] if codes else None

    def _unproduced_codes(self):
        return tuple(code for code in self._parent._unproduced_codes() if code < self.code_count)

    @property
    def spec(self):
        return f"{self.prefix}:{','.join(map(str, self._key()))}"

    def _key(self):
        return (self.n, *self._parent._key()[1:])

    def __repr__(self):
        return f"{type(self).__name__}{self._key()}"

    def _int_table(self):
        return self._parent._int_table()[:self.code_count]

    def ordinals(self, codes):
        return self._parent.ordinals(self.check_codes(codes))

    def from_ordinals(self, ordinals):
        return self._parent.from_ordinals(ordinals)

    @property
    def field_names(self):
        return self._parent.field_names

    def fields(self, code):
        """The fields of one code, as the parent's (its sign 0)."""
        return self._parent.fields(int(self.check_codes(code)))

    def field_columns(self, code):
        return self._parent.field_columns(int(self.check_codes(code)))

    def with_scale(self, scale):
        """The same width and parameters with another scale."""
        return type(self).of(self._parent.with_scale(scale))

    def __getattr__(self, name):
        # The parent's parameters (IS, es, E, SC, M, bias, ocp_name) read through.
        if name.startswith("_") or name not in ("IS", "es", "E", "SC", "M", "bias"):
            raise AttributeError(name)
        return getattr(self._parent, name)

    # -- quantization: the parent's, after the sign check ------------------------------------

    def _nonnegative(self, x, negative):
        check_choice("negative", negative, ("raise", "zero"))
        below = x < 0
        if np.any(below):
            if negative == "raise":
                raise ValueError(f"{self.label} is unsigned: cannot quantize the negative "
                                 f"value {float(np.asarray(x)[below].flat[0])!r}; pass "
                                 f"negative='zero' to clamp at 0")
            x = np.where(below, 0, x)
        return x

    def quantize(self, x, *, nan="raise", negative="raise"):
        """:meth:`~golden.format.NumberFormat.quantize` for values ``>= 0``; a negative value
        is a ``ValueError``, or 0 with ``negative="zero"``."""
        x = self._nonnegative(self._check_real(x, nan), negative)
        return self._parent.quantize(x)

    def quantize_exact(self, mantissa, exponent, *, negative="raise"):
        """:meth:`~golden.format.NumberFormat.quantize_exact` for values ``>= 0`` (negative:
        as in :meth:`quantize`)."""
        mantissa = np.asarray(mantissa)
        if mantissa.dtype.kind not in "iuO":
            raise TypeError(f"Mantissas must be integers, not {mantissa.dtype}")
        return self._parent.quantize_exact(self._nonnegative(mantissa, negative), exponent)

    def quantize_interval(self, low, high):
        return self._parent.quantize_interval(self._nonnegative(low, "raise"),
                                              self._nonnegative(high, "raise"))


class UTFX(Unsigned):
    """Unsigned tapered fixed point ``UTFX(n, IS, SC)``: the nonnegative codes of
    ``TFX(n + 1, IS, SC)``, n from 2 to 15, IS from 1 to n."""

    parent_type = TFX
    prefix = "utfx"

    def __init__(self, n, IS, SC=0):
        super().__init__(n, IS, SC)


class UPosit(Unsigned):
    """The unsigned posit ``UPosit(n, es, SC)``: the nonnegative codes of
    ``Posit(n + 1, es, SC)``."""

    parent_type = Posit
    prefix = "uposit"

    def __init__(self, n, es=0, SC=0):
        super().__init__(n, es, SC)


class UFP(Unsigned):
    """The unsigned minifloat ``UFP(n, E, SC)``: the nonnegative codes of ``FP(n + 1, E, SC)``
    (``UFP(7, 4)`` is OCP E4M3 without its sign; its code 0x7F is NaN)."""

    parent_type = FP
    prefix = "ufp"

    def __init__(self, n, E, SC=0):
        super().__init__(n, E, SC)


def unsigned(parent):
    """The unsigned variant whose codes are the nonnegative ones of the signed ``parent``
    (``TFX(8, 3, 0)`` gives ``UTFX(7, 3, 0)``; ``FXP(8, F)`` gives ``FXP(7, F,
    signed=False)``)."""
    from .fxp import FXP

    if isinstance(parent, FXP) and parent.signed:
        return FXP(parent.n - 1, parent.F, signed=False)
    for variant in (UTFX, UPosit, UFP):
        if type(parent) is variant.parent_type:
            return variant.of(parent)
    raise TypeError(f"{parent!r} has no unsigned variant (a signed TFX, FXP, Posit or FP "
                    f"format has)")
