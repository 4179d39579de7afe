"""Bit-exact golden model of the TFX, fixed-point, posit and minifloat formats and their arithmetic.

The golden model is the specification: the hardware agrees with it bit for bit.
"""

from .format import NumberFormat
from .fxp import FXP
from .minifloat import FP
from .posit import Posit
from .tfx import TFX
from .unsigned import UFP, UPosit, UTFX

__all__ = ["NumberFormat", "TFX", "FXP", "Posit", "FP", "UTFX", "UPosit", "UFP",
           "parse_format"]

_SPECS = ("'tfx:N,IS,SC', 'fxp:N,F', 'posit:N,ES,SC', 'fp:N,E,SC' or an unsigned one "
          "('utfx:N,IS,SC', 'ufxp:N,F', 'uposit:N,ES,SC', 'ufp:N,E,SC')")


def parse_format(spec):
    """Turn a format string into a format object.

    ``tfx:N,IS,SC`` gives ``TFX(N, IS, SC)``; ``fxp:N,F`` gives ``FXP(N, F)``; ``ufxp:N,F`` gives
    the unsigned ``FXP(N, F, signed=False)``; ``posit:N,ES,SC`` gives ``Posit(N, ES, SC)`` and
    ``fp:N,E,SC`` the minifloat ``FP(N, E, SC)`` (``fp:8,4,0`` is OCP E4M3); ``utfx:``,
    ``uposit:`` and ``ufp:`` the unsigned variants (:mod:`golden.unsigned`). Every format's
    ``spec`` property round-trips.
    """
    if not isinstance(spec, str):
        raise TypeError(f"Format spec must be a string like 'tfx:8,3,0' or 'fxp:8,4', not {spec!r}")
    kind, sep, args = spec.strip().lower().partition(":")
    arities = {"tfx": 3, "fxp": 2, "ufxp": 2, "posit": 3, "fp": 3, "utfx": 3, "uposit": 3,
               "ufp": 3}
    try:
        numbers = [int(part) for part in args.split(",")] if sep else []
    except ValueError:
        numbers = None
    if kind not in arities or numbers is None or len(numbers) != arities[kind]:
        raise ValueError(f"Format spec must be {_SPECS} with integers, not {spec!r}")
    unsigned = {"utfx": UTFX, "uposit": UPosit, "ufp": UFP}
    if kind in unsigned:
        return unsigned[kind](*numbers)
    if kind == "tfx":
        return TFX(*numbers)
    if kind == "posit":
        return Posit(*numbers)
    if kind == "fp":
        return FP(*numbers)
    return FXP(*numbers, signed=(kind == "fxp"))
