"""Bit-exact golden model of the TFX and fixed-point number formats and their arithmetic.

The golden model is the specification: the hardware agrees with it bit for bit.
"""

from .format import NumberFormat
from .fxp import FXP
from .tfx import TFX

__all__ = ["NumberFormat", "TFX", "FXP", "parse_format"]


def parse_format(spec):
    """Turn a format string into a format object.

    ``tfx:N,IS,SC`` gives ``TFX(N, IS, SC)``; ``fxp:N,F`` gives ``FXP(N, F)``; ``ufxp:N,F`` gives
    the unsigned ``FXP(N, F, signed=False)``. Every format's ``spec`` property round-trips.
    """
    if not isinstance(spec, str):
        raise TypeError(f"Format spec must be a string like 'tfx:8,3,0' or 'fxp:8,4', not {spec!r}")
    kind, sep, args = spec.strip().lower().partition(":")
    arities = {"tfx": 3, "fxp": 2, "ufxp": 2}
    try:
        numbers = [int(part) for part in args.split(",")] if sep else []
    except ValueError:
        numbers = None
    if kind not in arities or numbers is None or len(numbers) != arities[kind]:
        raise ValueError(f"Format spec must be 'tfx:N,IS,SC', 'fxp:N,F' or 'ufxp:N,F' "
                         f"with integers, not {spec!r}")
    if kind == "tfx":
        return TFX(*numbers)
    return FXP(*numbers, signed=(kind == "fxp"))
