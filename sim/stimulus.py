"""Stimulus shared by the benches: random run-time formats and codes, and the scaling stage's
groups of accumulators sharing their run-time parameters.

A group is ``(accumulators, E, M, shift, relu, out_format)``. The generators cover what the
spec names as traps: every accumulator value of a small width, every value of the output
format and its neighbours, every midpoint (rounding tie) and its neighbours (so the values in
(minpos/2, minpos) and every binade boundary), saturation at both ends, ReLU, M and shift
extremes, every run-time output IS, and random wide accumulators.
"""

import numpy as np

__all__ = ["scaling_groups", "random_member", "member_with_scale", "random_codes",
           "fitting_output"]


def _fits(values, acc_width):
    limit = 1 << (acc_width - 1)
    return values[(values >= -limit) & (values < limit)]


def scaling_groups(family, acc_width, limits, seed=1):
    """Every group of the scaling stage's verification plan for one build."""
    rng = np.random.default_rng(seed)
    groups = []
    m_max = (1 << limits.m_bits) - 1
    small = np.arange(-(1 << min(acc_width, 12) - 1), 1 << min(acc_width, 12) - 1)
    for out in family.members(family.example_scales):
        # Every accumulator value of a small width, at exponents around the output's range.
        for E, shift, relu in [(out.int_exponent - 3, 0, False), (out.int_exponent + 2, 5, True),
                               (out.int_exponent - 9, 0, False)]:
            groups.append((small, E, 1, min(shift, limits.shift_max), relu, out))
        # Each value and midpoint of the output format, and their neighbours at 1/4 unit.
        ints = out._sorted[1]
        mids2 = ints[:-1] + ints[1:]
        points = np.unique(np.concatenate([4 * ints + d for d in (-1, 0, 1)]
                                          + [2 * mids2 + d for d in (-1, 0, 1)]))
        groups.append((_fits(points, acc_width), out.int_exponent - 2, 1, 0, False, out))
        # The same through M and shift: acc * M * 2**-shift hits the same points.
        if limits.shift_max >= 3 and m_max >= 3:
            groups.append((_fits(points * 8, acc_width), out.int_exponent - 2, 3, 3, False, out))
        # Saturation at both ends, with and without ReLU; M and shift extremes.
        top = (1 << (acc_width - 1)) - 1
        extremes = np.array([top, -top - 1, top // 3, -(top // 5), 1, -1, 0])
        for M, shift, relu in [(m_max, 0, False), (1, limits.shift_max, False), (m_max, 0, True),
                               (m_max, limits.shift_max, False)]:
            groups.append((extremes, out.int_exponent, M, shift, relu, out))
        # Random wide accumulators with random parameters.
        for _ in range(4):
            values = rng.integers(-(1 << (acc_width - 1)), 1 << (acc_width - 1), 200, dtype=np.int64)
            values >>= rng.integers(0, acc_width, values.size)
            groups.append((values, int(rng.integers(out.int_exponent - acc_width, out.int_exponent + 4)),
                           int(rng.integers(1, m_max + 1)), int(rng.integers(0, limits.shift_max + 1)),
                           bool(rng.integers(0, 2)), out))
    return groups


def random_member(family, rng, scales=range(-4, 5)):
    """A random run-time format of ``family``: any IS, a scale from ``scales``."""
    return member_with_scale(family, rng, int(rng.choice(list(scales))))


def member_with_scale(family, rng, scale):
    """The member of ``family`` with this scale (SC or F) and random run-time fields (TFX: IS)."""
    fields = {name: int(rng.integers(low, high + 1))
              for name, (low, high) in family.fields.items()}
    return family.member_from(fields, scale)


def random_codes(fmt, shape, rng, nar_rate=0.0):
    """Random codes of ``fmt``; NaR (every NaR code: TFX's, a minifloat's NaN and infinities)
    only at rate ``nar_rate``, as its :attr:`nar_code`."""
    codes = rng.integers(0, fmt.code_count, shape)
    if fmt.nar_code is not None:
        codes[fmt.is_nar(codes)] = 0
        codes[rng.random(shape) < nar_rate] = fmt.nar_code
    return codes


def fitting_output(family, acc, M, shift, rng):
    """An output format whose range holds most of ``acc * M * 2**-shift`` (so that results
    are not all saturated or zero), with a little random slack."""
    values = np.abs(acc.values.astype(np.float64) * M * 2.0 ** (acc.exponent - shift))
    nonzero = values[values > 0]
    if not nonzero.size:
        return random_member(family, rng)
    scale = family.fitting_scale(nonzero) + int(rng.integers(-1, 2))
    low, high = family.scale_range
    return random_member(family, rng, [max(low, min(high, scale))])
