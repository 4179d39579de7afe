"""Argument validation shared by the golden model and the hardware generators.

Every message names the parameter and its legal range, in the style of Amaranth's own
checks ("Width must be a positive integer, not 0").
"""

import numbers

import numpy as np

__all__ = ["check_int", "check_choice", "check_bool", "real_array"]


def check_int(name, value, low, high):
    """Return ``value`` if it is an integer with ``low <= value <= high``.

    Raises
    ------
    TypeError
        If ``value`` is not an integer (``bool`` is rejected too).
    ValueError
        If ``value`` lies outside ``[low, high]``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer from {low} to {high}, not {value!r}")
    value = int(value)
    if not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, not {value!r}")
    return value


def check_bool(name, value):
    """Return ``value`` as a bool if it is one (or a NumPy bool, or the integer 0 or 1), else
    raise ``TypeError``: a string such as ``"no"`` is not taken for true."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    raise TypeError(f"{name} must be True or False, not {value!r}")


def real_array(name, values):
    """``values`` as a float64 array if they are real numbers (integers or floats), else a
    ``TypeError``: booleans, complex numbers (whose imaginary part would be dropped), strings
    and objects are refused."""
    array = np.asarray(values)
    if array.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be real numbers, not {array.dtype}")
    return array.astype(np.float64, copy=False)


def check_choice(name, value, choices):
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError``."""
    if value not in choices:
        listed = ", ".join(repr(choice) for choice in choices)
        raise ValueError(f"{name} must be one of {listed}, not {value!r}")
    return value
