"""Argument validation shared by the golden model and the hardware generators.

Every message names the parameter and its legal range, in the style of Amaranth's own
checks ("Width must be a positive integer, not 0").
"""

import numbers

__all__ = ["check_int", "check_choice"]


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


def check_choice(name, value, choices):
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError``."""
    if value not in choices:
        listed = ", ".join(repr(choice) for choice in choices)
        raise ValueError(f"{name} must be one of {listed}, not {value!r}")
    return value
