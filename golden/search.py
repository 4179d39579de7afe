"""The TENT per-tensor search: choose TFX's (IS, SC), FXP's F, a posit's or minifloat's SC.

The objective is the quantization error of the tensor in the candidate format: mean squared
error by default, mean absolute error, or any callable ``objective(x, x_quantized) -> float``.
Every legal candidate is evaluated (IS from 1 to n-1, SC and F from -32 to 32). The result is
deterministic: among candidates whose errors agree to a relative 1e-12, the one with the
smaller IS wins, then the smaller scale.

MSE and MAE are computed without quantizing the tensor once per candidate: the sorted tensor
is cut at the midpoints between representable values (every element between two midpoints
rounds to the same value; an element exactly on a midpoint has the same error either way),
and per-segment sums come from prefix sums. A callable objective quantizes the tensor for
every candidate.
"""

from dataclasses import dataclass

import numpy as np

from ._checks import check_choice, check_int
from .fxp import FXP, MAX_F, MIN_F
from .minifloat import FP
from .posit import Posit
from .tfx import MAX_SC, MIN_SC, TFX
from . import fxp as _fxp, minifloat as _minifloat, posit as _posit, tfx as _tfx

__all__ = ["SearchResult", "search_tfx", "search_fxp", "search_posit", "search_fp",
           "quantization_error"]

_REL_TIE = 1e-12
# Squared errors of elements below this stay finite when summed over 2**60 elements.
_LARGEST = 2.0 ** 400


@dataclass(frozen=True)
class SearchResult:
    """The chosen format, its error, and the error of every candidate evaluated."""

    format: object
    error: float
    objective: str
    candidates: dict

    def as_dict(self):
        return {"format": self.format.spec, "label": self.format.label, "error": self.error,
                "objective": self.objective}


class _SortedTensor:
    def __init__(self, x):
        self.x = np.sort(x.reshape(-1))
        zero = np.zeros(1)
        self.s1 = np.concatenate([zero, np.cumsum(self.x)])
        self.s2 = np.concatenate([zero, np.cumsum(self.x * self.x)])

    def error(self, values, objective):
        """Mean error of rounding every element to its nearest value in sorted ``values``."""
        x = self.x
        mids = (values[:-1] + values[1:]) / 2  # exact: values are short dyadic numbers
        bounds = np.concatenate([[0], np.searchsorted(x, mids), [x.size]])
        lo, hi = bounds[:-1], bounds[1:]
        count = hi - lo
        if objective == "mse":
            sum1 = self.s1[hi] - self.s1[lo]
            sum2 = self.s2[hi] - self.s2[lo]
            total = sum2 - 2 * values * sum1 + values * values * count
            return max(float(total.sum()), 0.0) / x.size
        split = np.clip(np.searchsorted(x, values), lo, hi)
        below = values * (split - lo) - (self.s1[split] - self.s1[lo])
        above = (self.s1[hi] - self.s1[split]) - values * (hi - split)
        return float((below + above).sum()) / x.size


def quantization_error(x, fmt, objective="mse"):
    """Error of quantizing ``x`` in ``fmt``: "mse", "mae" or ``objective(x, xq) -> float``."""
    x = _check_tensor(x)
    if callable(objective):
        return float(objective(x, fmt.decode(fmt.quantize(x))))
    check_choice("objective", objective, ("mse", "mae"))
    return _SortedTensor(x).error(fmt.values(), objective)


def _check_tensor(x):
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise TypeError(f"Tensor must hold real numbers, not {x.dtype}")
    x = x.astype(np.float64)
    if x.size == 0:
        raise ValueError("Tensor must not be empty")
    if not np.isfinite(x).all():
        raise ValueError("Tensor must hold finite numbers only (found NaN or inf)")
    largest = float(np.abs(x).max())
    if largest >= _LARGEST:
        raise ValueError(f"Tensor magnitudes must be below 2**400 (about 2.6e120; no format "
                         f"comes near), not {largest:.3g}: its squared error would overflow")
    return x


def _search(x, candidates, objective):
    if not callable(objective):
        check_choice("objective", objective, ("mse", "mae"))
    x = _check_tensor(x)
    sorted_x = None if callable(objective) else _SortedTensor(x)
    errors = {}
    best = None
    for fmt in candidates:  # ordered by (IS, scale): the first of tied errors wins
        if callable(objective):
            error = float(objective(x, fmt.decode(fmt.quantize(x))))
        else:
            error = sorted_x.error(fmt.values(), objective)
        errors[fmt.spec] = error
        if best is None or error < best[1] * (1 - _REL_TIE) - 1e-300:
            best = (fmt, error)
    name = objective if isinstance(objective, str) else getattr(objective, "__name__", "custom")
    return SearchResult(best[0], best[1], name, errors)


def search_tfx(x, n, *, objective="mse", IS_range=None, SC_range=(MIN_SC, MAX_SC)):
    """TENT's per-tensor choice of ``TFX(n, IS, SC)`` minimising ``objective`` on ``x``.

    Parameters
    ----------
    IS_range : (int, int), optional
        Inclusive range of IS to consider (default: all, 1 to n-1; hardware built for IS_max
        passes ``(1, IS_max)``).
    SC_range : (int, int)
        Inclusive range of SC (default: all legal, -32 to 32).
    """
    n = check_int("n", n, _tfx.MIN_N, _tfx.MAX_N)
    lo_is, hi_is = IS_range or (1, n - 1)
    check_int("IS_range low", lo_is, 1, n - 1)
    check_int("IS_range high", hi_is, lo_is, n - 1)
    check_int("SC_range low", SC_range[0], MIN_SC, MAX_SC)
    check_int("SC_range high", SC_range[1], SC_range[0], MAX_SC)
    candidates = (TFX(n, IS, SC) for IS in range(lo_is, hi_is + 1)
                  for SC in range(SC_range[0], SC_range[1] + 1))
    return _search(x, candidates, objective)


def search_fxp(x, n, *, signed=True, objective="mse", F_range=(MIN_F, MAX_F)):
    """The per-tensor choice of ``FXP(n, F)`` minimising ``objective`` on ``x``."""
    n = check_int("n", n, _fxp.MIN_N, _fxp.MAX_N)
    check_int("F_range low", F_range[0], MIN_F, MAX_F)
    check_int("F_range high", F_range[1], F_range[0], MAX_F)
    candidates = (FXP(n, F, signed=signed) for F in range(F_range[0], F_range[1] + 1))
    return _search(x, candidates, objective)


def _scales(SC_range):
    check_int("SC_range low", SC_range[0], MIN_SC, MAX_SC)
    check_int("SC_range high", SC_range[1], SC_range[0], MAX_SC)
    return range(SC_range[0], SC_range[1] + 1)


def search_posit(x, n, es, *, objective="mse", SC_range=(MIN_SC, MAX_SC)):
    """The per-tensor choice of SC for ``Posit(n, es, SC)`` minimising ``objective`` on ``x``."""
    n = check_int("n", n, _posit.MIN_N, _posit.MAX_N)
    es = check_int("es", es, 0, _posit.MAX_ES)
    return _search(x, (Posit(n, es, SC) for SC in _scales(SC_range)), objective)


def search_fp(x, n, E, *, objective="mse", SC_range=(MIN_SC, MAX_SC)):
    """The per-tensor choice of SC for the minifloat ``FP(n, E, SC)`` minimising ``objective``."""
    n = check_int("n", n, _minifloat.MIN_N, _minifloat.MAX_N)
    E = check_int("E", E, 1, n - 2)
    return _search(x, (FP(n, E, SC) for SC in _scales(SC_range)), objective)
