"""Wide integers in int64 digits (golden.wide) against Python integers, and the float
quantizer by midpoints against the exact quantizer it shortcuts."""

import numpy as np
import pytest

from golden import FP, FXP, TFX, Posit
from golden.wide import WideInt, digit_bounds, split_digits


def _random_wide(rng, shape):
    number, reference = WideInt(shape, 100), np.zeros(shape, dtype=object)
    for _ in range(rng.integers(1, 6)):
        values, offset = rng.integers(-2 ** 61, 2 ** 61, shape), int(rng.integers(0, 90))
        number.add(values, offset)
        reference = reference + values.astype(object) * (1 << offset)
    bias = [int(rng.integers(-2 ** 62, 2 ** 62)) << int(rng.integers(0, 60))
            for _ in range(shape[-1])]
    number.add_integers(bias, 3)
    return number.normalize(), reference + np.array(bias, dtype=object) * 8


def _floor_and_sticky(value, right, cap):
    floor = value >> right if right >= 0 else value << -right
    sticky = right > 0 and value - (floor << right) != 0
    return max(-cap, min(cap, floor)), sticky


@pytest.mark.parametrize("seed", range(4))
def test_sums_products_and_rounding_bits_equal_python_integers(seed):
    rng = np.random.default_rng(seed)
    for _ in range(40):
        shape = (6, 5)
        number, reference = _random_wide(rng, shape)
        assert (number.to_python() == reference).all()
        assert (number.negative() == (reference < 0)).all()
        top = number.digits[-1]
        for digit in number.digits[:-1]:
            assert ((digit >= 0) & (digit < 1 << 30)).all()
        assert ((top >= -(1 << 30)) & (top < 1 << 30)).all()
        factor = rng.integers(1, 2 ** 32, shape[-1])
        number.multiply(factor)
        reference = reference * factor.astype(object)
        assert (number.to_python() == reference).all()
        cap = 2 ** 40
        for right in (rng.integers(-40, 260, shape[-1]), int(rng.integers(-40, 260))):
            floor, sticky = number.floor_and_sticky(right, cap)
            for index in np.ndindex(shape):
                r = int(np.broadcast_to(right, shape[-1:])[index[-1]])
                assert (floor[index], sticky[index]) == _floor_and_sticky(
                    reference[index], r, cap), (index, r)


def test_zeroing_negatives_and_the_edges_of_the_rounding_bits():
    number = WideInt((4,), 64)
    number.add(np.array([-1, 0, 1 << 40, -(1 << 40)]), 70)
    number.add(np.array([0, 5, 0, 1]))
    number.normalize().zero_where(number.negative())
    assert list(number.to_python()) == [0, 5, 1 << 110, 0]
    floor, sticky = number.floor_and_sticky(3, 2 ** 50)
    assert list(floor) == [0, 0, 2 ** 50, 0] and list(sticky) == [False, True, False, False]
    floor, sticky = number.floor_and_sticky(500, 2 ** 50)  # the cut above every digit
    assert list(floor) == [0, 0, 0, 0] and list(sticky) == [False, True, True, False]
    with pytest.raises(ValueError, match="cap must be at most"):
        number.floor_and_sticky(0, 2 ** 51)


def test_digits_of_floats_and_ints_sum_back_and_stay_in_their_bounds():
    rng = np.random.default_rng(7)
    ints = rng.integers(-2 ** 40, 2 ** 40, 500)
    for bits, count in ((17, 3), (21, 2), (41, 1)):
        for values in (ints, ints.astype(np.float64)):
            digits = split_digits(values, bits, count)
            total = sum(np.asarray(d).astype(object) * (1 << (i * bits))
                        for i, d in enumerate(digits))
            assert (total == ints.astype(object)).all()
            bounds = digit_bounds(2 ** 40, bits, count)
            assert all(np.abs(d).max() <= b for d, b in zip(digits, bounds, strict=True))


def _formats():
    yield from (Posit(n, es, sc) for n in (3, 5, 8) for es in (0, 1, 2) for sc in (-3, 0, 5))
    yield from (FP(n, E, sc) for n in (4, 6, 8) for E in range(1, n - 1) if E < 6
                for sc in (-2, 0, 3))
    yield from (TFX(8, 3, 0), FXP(8, 3), FXP(6, 2, signed=False))


@pytest.mark.parametrize("fmt", list(_formats()), ids=lambda f: f.spec)
def test_quantizing_floats_by_midpoints_is_the_exact_quantizer(fmt):
    rng = np.random.default_rng(1)
    mids = np.unique((fmt.values()[1:] + fmt.values()[:-1]) / 2)
    x = np.concatenate([mids, np.nextafter(mids, np.inf), np.nextafter(mids, -np.inf),
                        fmt.values(), rng.normal(0, fmt.maxpos, 2000),
                        rng.normal(0, fmt.minpos, 2000),
                        [np.inf, -np.inf, 0.0, -0.0, 1e300, -1e300, 5e-324]])
    finite = np.nan_to_num(x, posinf=np.finfo(np.float64).max,
                           neginf=-np.finfo(np.float64).max)
    mantissa, exponent = np.frexp(finite)
    exact = fmt.quantize_exact(np.ldexp(mantissa, 53).astype(np.int64),
                               exponent.astype(np.int64) - 53)
    np.testing.assert_array_equal(fmt.quantize(x), exact)
    # Intervals: where no midpoint lies inside, every point gives the interval's code.
    low = np.sort(rng.normal(0, fmt.maxpos / 4, 3000))
    high = low + np.abs(rng.normal(0, fmt.maxpos / 64, 3000))
    codes, split = fmt.quantize_interval(low, high)
    inside = ((mids >= low[:, None]) & (mids <= high[:, None])).any(axis=1)
    np.testing.assert_array_equal(split, inside)
    np.testing.assert_array_equal(codes[~split], fmt.quantize(low)[~split])
    np.testing.assert_array_equal(codes[~split], fmt.quantize(high)[~split])
    assert not split.all() and split.any()


@pytest.mark.parametrize("fmt", [f for f in _formats() if f.n <= 8 and not isinstance(f, FXP)],
                         ids=lambda f: f.spec)
def test_the_bucketed_midpoint_search_counts_as_searchsorted(fmt):
    """The fast search (a table per bucket of float64 bit patterns, then a few comparisons)
    counts the midpoints below every x as ``np.searchsorted`` does: on the midpoints, their
    float64 neighbours, both zeros, infinities, subnormals and values of every binade."""
    assert fmt._midpoint_buckets is not None  # the fast path runs for every n <= 8 format
    mids = fmt._real_midpoints
    rng = np.random.default_rng(3)
    x = np.concatenate([mids, np.nextafter(mids, np.inf), np.nextafter(mids, -np.inf),
                        rng.normal(0, fmt.maxpos, 3000),
                        np.ldexp(rng.uniform(-1, 1, 3000), rng.integers(-1074, 1024, 3000)),
                        [np.inf, -np.inf, 0.0, -0.0, 5e-324, -5e-324, 1e308, -1e308]])
    index, mid = fmt._count_below(x)
    np.testing.assert_array_equal(index, np.searchsorted(mids, x, side="left"))
    np.testing.assert_array_equal(mid, np.append(mids, np.nan)[index])
    grid = x[:600].reshape(20, 30)
    assert fmt._count_below(grid)[0].shape == (20, 30)
    assert fmt.quantize(np.float64(mids[3])).shape == ()
    np.testing.assert_array_equal(fmt.quantize(grid), fmt.quantize(grid.ravel()).reshape(20, 30))
