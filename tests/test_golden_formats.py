"""TFX and FXP formats against the independent Fraction reference: exhaustive for n <= 10."""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
import softposit
from hypothesis import given, settings, strategies as st

from golden import FXP, TFX, NumberFormat, parse_format
from reference import fxp_value, nearest_code, tfx_value, value_table

TFX_CASES = [(n, IS, SC) for n in range(3, 11) for IS in range(1, n) for SC in (-5, 0, 3)]
FXP_CASES = [(n, F, signed) for n in range(2, 11) for F in (-3, 0, 4, n) for signed in (True, False)]


def probe_points(table):
    """Every value, every midpoint and its two float neighbours, both saturation ends."""
    values = [v for v, _ in table]
    points = list(values)
    for lo, hi in itertools.pairwise(values):
        mid = (lo + hi) / 2
        points.append(mid)
        points.append(Fraction(math.nextafter(float(mid), math.inf)))
        points.append(Fraction(math.nextafter(float(mid), -math.inf)))
    points += [values[-1] * 3, values[0] * 3, Fraction(math.nextafter(float(values[-1]), math.inf)),
               Fraction(math.nextafter(float(values[0]), -math.inf))]
    return points


def check_quantize(fmt, table):
    points = probe_points(table)
    floats = np.array([float(p) for p in points])
    assert all(Fraction(f) == p for f, p in zip(floats, points, strict=True))  # every probe is exact
    expected = [nearest_code(p, table) for p in points]
    got = fmt.quantize(floats)
    mismatches = [(p, e, g) for p, e, g in zip(points, expected, got, strict=True) if e != g]
    assert not mismatches, f"{fmt!r}: {len(mismatches)} wrong, first {mismatches[:3]}"
    specials = np.array([np.inf, -np.inf, 0.0, -0.0])
    assert list(fmt.quantize(specials)) == [table[-1][1], table[0][1], 0, 0]
    assert list(NumberFormat.quantize(fmt, floats)) == expected  # the exact generic path too


@pytest.mark.parametrize("n,IS,SC", TFX_CASES)
def test_tfx_exhaustive(n, IS, SC):
    fmt = TFX(n, IS, SC)
    codes = fmt.codes()
    expected = [tfx_value(c, n, IS, SC) for c in range(1 << n)]
    decoded = fmt.decode(codes)
    for code, value, got in zip(codes, expected, decoded, strict=True):
        if value is None:
            assert np.isnan(got) and code == 1 << (n - 1)
        else:
            assert Fraction(got) == value, (fmt, code)
    ints = fmt.to_int(codes, nar="zero")
    for code, value, x in zip(codes, expected, ints, strict=True):
        if value is not None:
            assert Fraction(int(x)) * Fraction(2) ** (SC - (n - 1)) == value
    check_quantize(fmt, value_table("tfx", n, IS, SC))


@pytest.mark.parametrize("n,F,signed", FXP_CASES)
def test_fxp_exhaustive(n, F, signed):
    fmt = FXP(n, F, signed=signed)
    for code, got in zip(fmt.codes(), fmt.decode(fmt.codes()), strict=True):
        assert Fraction(got) == fxp_value(int(code), n, F, signed)
    check_quantize(fmt, value_table("fxp", n, F, 0, signed))


def test_worked_examples():
    fmt = TFX(8, 3, 0)
    examples = {0b01000000: 1, 0b01010101: 1.65625, 0b00100000: 0.5, 0b01110011: 4.75,
                0b01111111: 7.75, 0b00011010: 0.40625, 0b00000001: 17 / 128,
                0b10110101: -1.34375, 0b11111111: -17 / 128}
    for code, value in examples.items():
        assert fmt.decode(code) == value
    assert np.isnan(fmt.decode(0b10000000))
    assert fmt.maxpos == 7.75 and fmt.minpos == 17 / 128
    positives = TFX(5, 2, 0).values()
    assert list(positives[positives > 0] * 16) == [5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32,
                                                   40, 48, 56]


@pytest.mark.parametrize("n,IS,SC", [c for c in TFX_CASES if c[2] == 0])
def test_minpos_traps(n, IS, SC):
    """(minpos/2, minpos) rounds to minpos; minpos/2 itself and below flush to zero."""
    fmt = TFX(n, IS, SC)
    minpos, half = fmt.minpos, fmt.minpos / 2
    inside = [math.nextafter(half, 1), (half + minpos) / 2, math.nextafter(minpos, 0)]
    if IS < n - 1:  # 2**(SC-IS) has no code; its slot is zero's, so it rounds up to minpos
        assert half < 2.0 ** (SC - IS) < minpos
        inside.append(2.0 ** (SC - IS))
    inside = np.array(inside)
    assert list(fmt.quantize(inside)) == [1] * len(inside)
    assert list(fmt.quantize(-inside)) == [(1 << n) - 1] * len(inside)
    assert list(fmt.quantize(np.array([half, -half, math.nextafter(half, 0), 1e-300]))) == [0] * 4


@pytest.mark.parametrize("n,IS", [(n, IS) for n in range(3, 11) for IS in range(1, n)])
def test_spec_properties(n, IS):
    fmt = TFX(n, IS, 2)
    codes = fmt.codes()
    real = codes[codes != fmt.nar_code]
    # Negation symmetry.
    assert np.array_equal(fmt.decode((-real) % (1 << n)), -fmt.decode(real))
    # Codes compare like signed integers.
    signed = np.where(real >= 1 << (n - 1), real - (1 << n), real)
    order = np.argsort(signed)
    assert np.all(np.diff(fmt.decode(real[order])) > 0)
    # Operand bound: exact integers of n + IS bits, and the bound is tight.
    ints = fmt.to_int(real)
    assert np.array_equal(ints * 2.0 ** fmt.int_exponent, fmt.decode(real))
    assert fmt.operand_width == n + IS
    assert np.abs(ints).max() < 2 ** (n + IS - 1) and np.abs(ints).max() >= 2 ** (n + IS - 2)
    # The integer does not depend on SC.
    assert np.array_equal(TFX(n, IS, -7).to_int(real), ints)
    # Every value is a multiple of 2**(SC-(n-1)) below 2**(IS+SC).
    assert np.all(np.abs(fmt.decode(real)) < 2.0 ** (IS + 2))


def test_posit8_equals_softposit():
    fmt = TFX(8, 7, 0)
    for code in range(256):
        p = softposit.posit8(bits=code)
        if code == 0x80:
            assert np.isnan(fmt.decode(code))
        else:
            assert fmt.decode(code) == float(p), code
    values = fmt.values()
    inside = values[(values >= fmt.minpos) | (values <= -fmt.minpos)]
    mids = (inside[:-1] + inside[1:]) / 2
    mids = mids[np.abs(mids) > fmt.minpos]
    rng = np.random.default_rng(1)
    x = np.concatenate([mids, rng.uniform(-fmt.maxpos, fmt.maxpos, 20000),
                        rng.uniform(-1, 1, 20000) * 2.0 ** rng.integers(-6, 6, 20000)])
    x = x[(np.abs(x) >= fmt.minpos) & (np.abs(x) <= fmt.maxpos)]
    ours = fmt.quantize(x)
    theirs = np.array([softposit.posit8(float(v)).v.v for v in x])
    assert np.array_equal(ours, theirs)


formats = st.one_of(
    st.integers(3, 16).flatmap(lambda n: st.builds(TFX, st.just(n), st.integers(1, n - 1),
                                                    st.integers(-32, 32))),
    st.builds(FXP, st.integers(2, 16), st.integers(-32, 32), signed=st.booleans()),
)


@settings(max_examples=300, deadline=None)
@given(formats, st.data())
def test_quantize_decode_roundtrip(fmt, data):
    code = data.draw(st.integers(0, fmt.code_count - 1))
    if code == fmt.nar_code:
        return
    assert fmt.quantize(fmt.decode(code)) == code


@settings(max_examples=300, deadline=None)
@given(formats, st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_quantize_picks_a_nearest_value(fmt, x):
    code = int(fmt.quantize(x))
    chosen = Fraction(float(fmt.decode(code)))
    values = fmt.values()
    # Nearest among all values: check against the neighbours of x in the sorted table.
    i = int(np.searchsorted(values, x))
    neighbours = [Fraction(float(v)) for v in values[max(i - 1, 0):i + 1]]
    assert all(abs(chosen - Fraction(x)) <= abs(v - Fraction(x)) for v in neighbours)


def test_large_formats_sampled():
    """n up to 16: random floats against the exact generic quantizer and the reference."""
    rng = np.random.default_rng(7)
    for fmt in [TFX(16, 15, -3), TFX(12, 5, 9), TFX(16, 1, 0), TFX(13, 12, 32), TFX(16, 8, -32)]:
        x = rng.standard_normal(20000) * 2.0 ** rng.integers(-20, 20, 20000) * 2.0 ** fmt.SC
        assert np.array_equal(fmt.quantize(x), NumberFormat.quantize(fmt, x))
        table = value_table("tfx", fmt.n, fmt.IS, fmt.SC)
        sample = x[:300]
        assert list(fmt.quantize(sample)) == [nearest_code(Fraction(v), table) for v in sample]


def test_identity_repr_and_parsing():
    assert TFX(8, 3, 0) == TFX(8, 3, 0) and hash(TFX(8, 3, 0)) == hash(TFX(8, 3, 0))
    assert TFX(8, 3, 0) != TFX(8, 3, 1) and FXP(8, 3) != FXP(8, 3, signed=False)
    assert TFX(8, 3, 0) != FXP(8, 3)
    assert repr(TFX(8, 3, -2)) == "TFX(n=8, IS=3, SC=-2)"
    assert repr(FXP(6, 2, signed=False)) == "FXP(n=6, F=2, signed=False)"
    for fmt in [TFX(8, 3, -2), FXP(6, 2), FXP(4, -1, signed=False)]:
        assert parse_format(fmt.spec) == fmt
    assert FXP(8, 4).operand_width == 8 and FXP(8, 4, signed=False).operand_width == 9
    assert FXP(8, 4).maxpos == 127 / 16 and FXP(8, 4).minpos == 1 / 16
    assert np.array_equal(FXP(3, 0).values(), [-4, -3, -2, -1, 0, 1, 2, 3])


def test_vectorised_shapes():
    fmt = TFX(6, 2, 1)
    x = np.linspace(-9, 9, 24).reshape(2, 3, 4)
    codes = fmt.quantize(x)
    assert codes.shape == (2, 3, 4) and codes.dtype == np.int64
    assert fmt.decode(codes).shape == (2, 3, 4)
    assert fmt.quantize(1.0).shape == ()
    assert fmt.quantize(np.float32(1.5)) == fmt.quantize(1.5)


@pytest.mark.parametrize("make,error,message", [
    (lambda: TFX(2, 1, 0), ValueError, "n must be an integer from 3 to 16, not 2"),
    (lambda: TFX(17, 3, 0), ValueError, "n must be an integer from 3 to 16, not 17"),
    (lambda: TFX(8.0, 3, 0), TypeError, "n must be an integer from 3 to 16, not 8.0"),
    (lambda: TFX(8, 0, 0), ValueError, "IS must be an integer from 1 to 7, not 0"),
    (lambda: TFX(8, 8, 0), ValueError, "IS must be an integer from 1 to 7, not 8"),
    (lambda: TFX(8, True, 0), TypeError, "IS must be an integer from 1 to 7, not True"),
    (lambda: TFX(8, 3, 33), ValueError, "SC must be an integer from -32 to 32, not 33"),
    (lambda: TFX(8, 3, -33), ValueError, "SC must be an integer from -32 to 32, not -33"),
    (lambda: FXP(1, 0), ValueError, "n must be an integer from 2 to 16, not 1"),
    (lambda: FXP(8, 40), ValueError, "F must be an integer from -32 to 32, not 40"),
    (lambda: FXP(8, 0, signed=1), TypeError, "signed must be a bool, not 1"),
    (lambda: TFX(8, 3).decode(256), ValueError, "Codes of TFX(8,3,0) must be integers from 0 to 255, not 256"),
    (lambda: TFX(8, 3).decode(-1), ValueError, "from 0 to 255, not -1"),
    (lambda: TFX(8, 3).decode(1.5), TypeError, "Codes of TFX(8,3,0) must be integers, not float64"),
    (lambda: TFX(8, 3).quantize([1.0, np.nan]), ValueError, "Cannot quantize NaN to TFX(8,3,0)"),
    (lambda: FXP(8, 3).quantize(np.nan), ValueError, "Cannot quantize NaN to FXP(8,3)"),
    (lambda: TFX(8, 3).quantize("1.0"), TypeError, "Values to quantize must be real numbers"),
    (lambda: TFX(8, 3).quantize(1.0, nan="clip"), ValueError, "nan must be one of 'raise', 'zero', not 'clip'"),
    (lambda: TFX(8, 3).to_int(128), ValueError, "NaR code 128 of TFX(8,3,0) has no integer value"),
    (lambda: parse_format("posit:8,0"), ValueError, "Format spec must be 'tfx:N,IS,SC'"),
    (lambda: parse_format("tfx:8,3"), ValueError, "Format spec must be"),
    (lambda: parse_format("tfx:8,9,0"), ValueError, "IS must be an integer from 1 to 7, not 9"),
    (lambda: parse_format(8), TypeError, "Format spec must be a string"),
])
def test_invalid_arguments(make, error, message):
    with pytest.raises(error) as info:
        make()
    assert message in str(info.value)


def test_nan_zero_and_nar_modes():
    fmt = TFX(8, 3)
    assert list(fmt.quantize([np.nan, 1.0], nan="zero")) == [0, 64]
    assert list(fmt.to_int([128, 64], nar="zero")) == [0, 128]
    assert list(fmt.is_nar([128, 64, 0])) == [True, False, False]
    assert not FXP(8, 0).is_nar([128]).any()
