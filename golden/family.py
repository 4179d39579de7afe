"""Format families: what hardware is built for, with each tensor's format chosen at run time.

TENT picks (IS, SC) per tensor, so one piece of hardware must run every member of a family:
``TFXFamily(n, IS_max)`` holds every ``TFX(n, IS, SC)`` with ``IS_min <= IS <= IS_max`` and any
legal SC; ``FXPFamily(n)`` every ``FXP(n, F)``. The family fixes the widths (operand,
significand, exponent); the member's parameters are register values loaded per layer.
"""

from ._checks import check_int
from .fxp import FXP
from . import fxp as _fxp, tfx as _tfx
from .tfx import TFX

__all__ = ["TFXFamily", "FXPFamily", "parse_family", "family_of", "default_is_max"]


def default_is_max(n):
    """The IS_max this project builds and studies for width ``n``: ``min(3, n - 2)``, every
    run-time IS keeping at least one fraction bit at its longest regime, capped at 3 (the
    paper's hardware range). n = 3 gives 1, n = 4 gives 2, n >= 5 gives 3."""
    n = check_int("n", n, _tfx.MIN_N, _tfx.MAX_N)
    return max(1, min(3, n - 2))


class TFXFamily:
    """Every ``TFX(n, IS, SC)`` with ``IS_min <= IS <= IS_max``; SC from -32 to 32.

    Parameters
    ----------
    n : int
        Word width, 3 to 16.
    IS_max : int
        Largest regime run the hardware supports, 1 to ``n - 1``: operands are ``n + IS_max``
        bits.
    IS_min : int
        Smallest supported IS, 1 to ``IS_max`` (default 1). With ``IS_min >= 2`` every regime is
        at least two bits long, which saves one significand bit.
    """

    kind = "tfx"

    def __init__(self, n, IS_max, *, IS_min=1):
        self.n = check_int("n", n, _tfx.MIN_N, _tfx.MAX_N)
        self.IS_max = check_int("IS_max", IS_max, 1, self.n - 1)
        self.IS_min = check_int("IS_min", IS_min, 1, self.IS_max)

    def __repr__(self):
        extra = f", IS_min={self.IS_min}" if self.IS_min != 1 else ""
        return f"TFXFamily(n={self.n}, IS_max={self.IS_max}{extra})"

    def __eq__(self, other):
        return isinstance(other, TFXFamily) and other._key() == self._key()

    def __hash__(self):
        return hash(self._key())

    def _key(self):
        return ("tfx", self.n, self.IS_max, self.IS_min)

    @property
    def label(self):
        return f"TFX{self.n}/IS<={self.IS_max}"

    @property
    def spec(self):
        extra = f",{self.IS_min}" if self.IS_min != 1 else ""
        return f"tfx:{self.n},{self.IS_max}{extra}"

    @property
    def has_nar(self):
        return True

    def member(self, IS, SC=0):
        """The format ``TFX(n, IS, SC)``, checked to belong to the family."""
        IS = check_int("IS", IS, self.IS_min, self.IS_max)
        return TFX(self.n, IS, SC)

    def members(self, scales=(0,)):
        """Every member with a scale (SC) from ``scales``, IS ascending."""
        return [self.member(IS, SC) for IS in range(self.IS_min, self.IS_max + 1) for SC in scales]

    def widest(self):
        """The member with the largest operands (IS = IS_max)."""
        return TFX(self.n, self.IS_max, 0)

    def check_member(self, fmt):
        if not (isinstance(fmt, TFX) and fmt.n == self.n and self.IS_min <= fmt.IS <= self.IS_max):
            raise ValueError(f"{fmt!r} is not a member of {self!r}")
        return fmt

    @property
    def operand_width(self):
        """Bits of the signed integer operand ``X`` (n + IS_max)."""
        return self.n + self.IS_max

    @property
    def min_regime_length(self):
        return 1 if self.IS_min == 1 else 2

    @property
    def fraction_width(self):
        """Most fraction bits of any member's code."""
        return self.n - 1 - self.min_regime_length

    @property
    def significand_width(self):
        """Bits of the significand ``1.f`` (hidden bit included)."""
        return self.fraction_width + 1

    @property
    def exponent_offset(self):
        """Bias of the decoded exponent field: ``X = significand * 2**(exponent - offset)``."""
        return self.IS_max - self.min_regime_length

    @property
    def exponent_count(self):
        """Number of exponent field values (0 .. exponent_count - 1)."""
        return 2 * self.IS_max


class FXPFamily:
    """Every ``FXP(n, F)`` (F from -32 to 32) of one signedness."""

    kind = "fxp"

    def __init__(self, n, *, signed=True):
        self.n = check_int("n", n, _fxp.MIN_N, _fxp.MAX_N)
        if not isinstance(signed, bool):
            raise TypeError(f"signed must be a bool, not {signed!r}")
        self.signed = signed

    def __repr__(self):
        return f"FXPFamily(n={self.n}{'' if self.signed else ', signed=False'})"

    def __eq__(self, other):
        return isinstance(other, FXPFamily) and other._key() == self._key()

    def __hash__(self):
        return hash(self._key())

    def _key(self):
        return ("fxp", self.n, self.signed)

    @property
    def label(self):
        return f"{'FXP' if self.signed else 'UFXP'}{self.n}"

    @property
    def spec(self):
        return f"{'fxp' if self.signed else 'ufxp'}:{self.n}"

    @property
    def has_nar(self):
        return False

    def member(self, F=0):
        return FXP(self.n, F, signed=self.signed)

    def members(self, scales=(0,)):
        """The members with F from ``scales``."""
        return [self.member(F) for F in scales]

    def widest(self):
        return FXP(self.n, 0, signed=self.signed)

    def check_member(self, fmt):
        if not (isinstance(fmt, FXP) and fmt.n == self.n and fmt.signed == self.signed):
            raise ValueError(f"{fmt!r} is not a member of {self!r}")
        return fmt

    @property
    def operand_width(self):
        return self.n if self.signed else self.n + 1


def family_of(fmt):
    """The smallest family that holds ``fmt``."""
    if isinstance(fmt, TFX):
        return TFXFamily(fmt.n, fmt.IS)
    if isinstance(fmt, FXP):
        return FXPFamily(fmt.n, signed=fmt.signed)
    raise TypeError(f"Expected a TFX or FXP format, not {fmt!r}")


def parse_family(spec):
    """``tfx:N,IS_MAX[,IS_MIN]``, ``fxp:N`` or ``ufxp:N`` to a family."""
    if not isinstance(spec, str):
        raise TypeError(f"Family spec must be a string like 'tfx:8,3' or 'fxp:8', not {spec!r}")
    kind, sep, args = spec.strip().lower().partition(":")
    try:
        numbers = [int(part) for part in args.split(",")] if sep else []
    except ValueError:
        numbers = []
    if kind == "tfx" and len(numbers) in (2, 3):
        return TFXFamily(numbers[0], numbers[1], IS_min=numbers[2] if len(numbers) == 3 else 1)
    if kind in ("fxp", "ufxp") and len(numbers) == 1:
        return FXPFamily(numbers[0], signed=(kind == "fxp"))
    raise ValueError(f"Family spec must be 'tfx:N,IS_MAX[,IS_MIN]', 'fxp:N' or 'ufxp:N', not {spec!r}")
