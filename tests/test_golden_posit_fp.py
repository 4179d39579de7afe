"""Posit and minifloat formats: exhaustive against the Fraction reference for n <= 10, SoftPosit
and ml_dtypes as external oracles, Posit(n, 0) = TFX(n, n - 1), every invalid parameter."""

import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
import softposit
from hypothesis import given, settings, strategies as st

from golden import FP, FXP, TFX, NumberFormat, Posit, parse_format
from golden.search import search_fp, search_posit
from reference import fp_value, nearest_code, posit_value, value_table
from test_golden_formats import check_quantize

POSIT_CASES = [(n, es, SC) for n in range(3, 11) for es in range(0, 4) for SC in (-5, 3)]
FP_CASES = [(n, E, SC) for n in range(3, 11) for E in range(1, n - 1) for SC in (-5, 3)]
FXP_UNSIGNED = FXP(5, 1, signed=False)
OCP = [(8, 4, "float8_e4m3fn"), (8, 5, "float8_e5m2"), (6, 2, "float6_e2m3fn"),
       (6, 3, "float6_e3m2fn"), (4, 2, "float4_e2m1fn")]


def check_decode(fmt, reference):
    codes = fmt.codes()
    ints = fmt.to_int(codes, nar="zero")
    for code, got, x in zip(codes, fmt.decode(codes), ints, strict=True):
        value = reference(int(code))
        if value is None:
            assert np.isnan(got) and fmt.is_nar(code), (fmt, code)
        else:
            assert Fraction(got) == value, (fmt, code)
            assert Fraction(int(x)) * Fraction(2) ** fmt.int_exponent == value, (fmt, code)
    real = np.abs(np.array([int(x) for x in ints], dtype=object))
    assert max(real).bit_length() + 1 == fmt.operand_width  # the signed operand, tight


@pytest.mark.parametrize("n,es,SC", POSIT_CASES)
def test_posit_exhaustive(n, es, SC):
    fmt = Posit(n, es, SC)
    check_decode(fmt, lambda c: posit_value(c, n, es, SC))
    check_quantize(fmt, value_table("posit", n, es, SC))
    assert fmt.nar_codes == (1 << (n - 1),)
    assert fmt.minpos == 2.0 ** (SC - (n - 2) * 2 ** es)
    assert fmt.maxpos == 2.0 ** (SC + (n - 2) * 2 ** es)


@pytest.mark.parametrize("n,E,SC", FP_CASES)
def test_fp_exhaustive(n, E, SC):
    fmt = FP(n, E, SC)
    check_decode(fmt, lambda c: fp_value(c, n, E, SC))
    check_quantize(fmt, value_table("fp", n, E, SC))
    # -0 decodes to 0 and is never produced; the smallest subnormal is minpos.
    assert fmt.decode(1 << (n - 1)) == 0 and fmt.quantize(-0.0) == 0
    assert fmt.minpos == 2.0 ** (SC + 2 - 2 ** (E - 1) - (n - 1 - E))


@pytest.mark.parametrize("n", range(3, 11))
def test_posit_es0_is_tfx_with_uncapped_regime(n):
    for SC in (-4, 0, 5):
        posit, tfx = Posit(n, 0, SC), TFX(n, n - 1, SC)
        codes = posit.codes()
        assert np.array_equal(posit.decode(codes), tfx.decode(codes), equal_nan=True)
        values = posit.values()
        probes = np.concatenate([values, (values[:-1] + values[1:]) / 2, values * 1.01])
        assert np.array_equal(posit.quantize(probes), tfx.quantize(probes))


def test_worked_examples():
    # Posit(8, 1): useed 4; 0b01011000 = regime 10 (k 0), e 1, fraction 1000 -> 2 * 1.5.
    assert Posit(8, 1).decode(0b01011000) == 3.0
    assert Posit(8, 1).maxpos == 4.0 ** 6 and Posit(8, 2).minpos == 2.0 ** -24
    # A cut-off exponent bit counts as 0: Posit(6, 2) 0b000011 = regime 0001 (k -3), e = 10.
    assert Posit(6, 2).fields(0b000011)["exponent"] == 2
    assert Posit(6, 2).decode(0b000011) == 2.0 ** (-12 + 2)
    e4m3, e5m2 = FP(8, 4), FP(8, 5)
    assert e4m3.maxpos == 448 and e4m3.minpos == 2.0 ** -9 and e4m3.nar_codes == (0x7F, 0xFF)
    assert e5m2.maxpos == 57344 and e5m2.minpos == 2.0 ** -16
    assert e5m2.nar_codes == (0x7C, 0x7D, 0x7E, 0x7F, 0xFC, 0xFD, 0xFE, 0xFF)
    assert FP(4, 2).values().tolist() == [-6, -4, -3, -2, -1.5, -1, -0.5, 0,
                                          0.5, 1, 1.5, 2, 3, 4, 6]
    assert FP(6, 3).nar_code is None and e4m3.nar_code == e5m2.nar_code == 0x7F
    assert list(e4m3.quantize([1e9, -1e9, np.inf, 464.0, 2.0 ** -10])) == [0x7E, 0xFE, 0x7E,
                                                                           0x7E, 0]


def test_posit_oracle_softposit():
    """posit8 (es 0) and posit16 (es 1): every code decodes as SoftPosit decodes it; rounding
    agrees wherever the two rules agree (SoftPosit rounds bit strings and never to zero)."""
    rng = np.random.default_rng(3)
    for fmt, from_bits, convert in [
            (Posit(8, 0), lambda c: float(softposit.posit8(bits=c)),
             lambda x: softposit.posit8(x).v.v),
            (Posit(16, 1), lambda c: float(softposit.posit16(bits=c)),
             lambda x: softposit.posit16(x).v.v)]:
        codes = fmt.codes()
        theirs = np.array([from_bits(int(c)) for c in codes])
        theirs[fmt.nar_code] = np.nan
        assert np.array_equal(fmt.decode(codes), theirs, equal_nan=True)
        x = _samples(fmt, rng)
        _check_rounding(fmt, x, np.array([convert(float(v)) for v in x]), posit_value, fmt.es)


@pytest.mark.parametrize("n", range(3, 11))
def test_posit_es2_oracle_softposit(n):
    """pX2 (es = 2 at any n up to 32): every code and the rounding of random values."""
    lib = softposit._softposit
    fmt = Posit(n, 2)
    codes = fmt.codes()
    theirs = []
    for code in codes:
        bits = softposit.posit_2_t()
        bits.v = int(code) << (32 - n)
        theirs.append(lib.convertPX2ToDouble(bits))
    theirs = np.array(theirs)
    theirs[fmt.nar_code] = np.nan
    assert np.array_equal(fmt.decode(codes), theirs, equal_nan=True)
    x = _samples(fmt, np.random.default_rng(n))
    converted = np.array([lib.convertDoubleToPX2(float(v), n).v >> (32 - n) for v in x])
    _check_rounding(fmt, x, converted, posit_value, 2)


def _samples(fmt, rng):
    """Every midpoint and random values, between minpos and maxpos in magnitude."""
    values = fmt.values()
    mids = (values[:-1] + values[1:]) / 2
    logs = rng.uniform(np.log2(fmt.minpos), np.log2(fmt.maxpos), 20000)
    x = np.concatenate([mids, 2.0 ** logs * rng.choice([-1, 1], logs.size)])
    return x[(np.abs(x) >= fmt.minpos) & (np.abs(x) <= fmt.maxpos)]


def _check_rounding(fmt, x, theirs, reference, es):
    """Ours equals the oracle, except where the posit standard's bit-string rounding differs
    from rounding to the nearest value: there ours is the exact reference's nearest value, and
    one of the two codes has exponent bits cut off by the word's end."""
    ours = fmt.quantize(x)
    differ = np.flatnonzero(ours != theirs)
    table = value_table("posit", fmt.n, es, fmt.SC)
    for i in differ:
        assert ours[i] == nearest_code(Fraction(float(x[i])), table)
        cut = [len(fmt.fields(int(c)).get("fraction", "")) == 0
               and _exponent_bits(fmt, int(c)) < es for c in (ours[i], theirs[i])]
        assert any(cut), (fmt, x[i], ours[i], theirs[i])
    if es == 0:
        assert differ.size == 0  # nothing is ever cut off: the rules agree everywhere


def _exponent_bits(fmt, code):
    fields = fmt.fields(code)
    return fmt.n - 1 - len(fields["regime"]) - len(fields["fraction"])


@pytest.mark.parametrize("n,E,name", OCP)
def test_fp_oracle_ml_dtypes(n, E, name):
    """The OCP types: every code decodes as ml_dtypes decodes it (NaN and infinities as NaR);
    quantization is ml_dtypes' round-to-nearest-even cast wherever that does not overflow."""
    dtype = getattr(ml_dtypes, name)
    fmt = FP(n, E)
    codes = fmt.codes()
    theirs = codes.astype(np.uint8).view(dtype).astype(np.float64)
    theirs[np.isinf(theirs)] = np.nan
    assert np.array_equal(fmt.decode(codes), theirs, equal_nan=True)
    assert np.array_equal(np.flatnonzero(np.isnan(theirs)), list(fmt.nar_codes))
    rng = np.random.default_rng(E)
    values = fmt.values()
    x = np.concatenate([values, (values[:-1] + values[1:]) / 2,
                        rng.uniform(-fmt.maxpos, fmt.maxpos, 20000),
                        rng.standard_normal(20000) * fmt.minpos * 4])
    cast = x.astype(dtype)
    back = cast.view(np.uint8).astype(np.int64) & ((1 << n) - 1)
    back[back == 1 << (n - 1)] = 0  # ml_dtypes keeps -0; this project gives 0
    assert np.array_equal(fmt.quantize(x), back)


def test_wide_formats_sampled():
    """Formats whose X needs Python integers: the exact quantizer against the reference."""
    rng = np.random.default_rng(11)
    for fmt, kind, a in [(Posit(16, 3, -7), "posit", 3), (Posit(16, 2, 0), "posit", 2),
                         (FP(16, 8, 2), "fp", 8), (FP(12, 9, -3), "fp", 9)]:
        assert fmt.wide and fmt.to_int(fmt.codes()[:4]).dtype == object
        table = value_table(kind, fmt.n, a, fmt.SC)
        x = rng.standard_normal(300) * 2.0 ** rng.integers(-120, 120, 300)
        x = np.concatenate([x, [fmt.maxpos * 2, fmt.minpos / 2, fmt.minpos * 0.75]])
        assert list(fmt.quantize(x)) == [nearest_code(Fraction(v), table) for v in x]


def test_fp16_matches_numpy_half():
    """FP(16, 5) is IEEE binary16 without infinities or NaN: numpy's float16 as an oracle."""
    fmt = FP(16, 5)
    codes = fmt.codes()
    theirs = codes.astype(np.uint16).view(np.float16).astype(np.float64)
    finite = np.isfinite(theirs)
    assert np.array_equal(fmt.decode(codes)[finite], theirs[finite])
    x = np.random.default_rng(5).standard_normal(50000) * 2.0 ** 8
    assert np.array_equal(fmt.decode(fmt.quantize(x)), x.astype(np.float16).astype(np.float64))


def test_search():
    x = np.random.default_rng(2).standard_normal(5000) * 0.05
    result = search_posit(x, 8, 1)
    assert isinstance(result.format, Posit) and result.format.es == 1
    # The chosen SC is the best of every candidate.
    assert result.error == min(result.candidates.values()) and len(result.candidates) == 65
    assert search_fp(x, 8, 4, SC_range=(-12, -8)).format.SC in range(-12, -7)
    with pytest.raises(ValueError, match="es must be an integer from 0 to 3, not 4"):
        search_posit(x, 8, 4)
    with pytest.raises(ValueError, match="E must be an integer from 1 to 6, not 7"):
        search_fp(x, 8, 7)


@pytest.mark.parametrize("call, error, message", [
    (lambda: Posit(2, 0), ValueError, "n must be an integer from 3 to 16, not 2"),
    (lambda: Posit(17, 0), ValueError, "n must be an integer from 3 to 16, not 17"),
    (lambda: Posit(8, 4), ValueError, "es must be an integer from 0 to 3, not 4"),
    (lambda: Posit(8, -1), ValueError, "es must be an integer from 0 to 3, not -1"),
    (lambda: Posit(8, 1, 33), ValueError, "SC must be an integer from -32 to 32, not 33"),
    (lambda: Posit(8, 1.5), TypeError, "es must be an integer"),
    (lambda: FP(8, 0), ValueError, "E must be an integer from 1 to 6, not 0"),
    (lambda: FP(8, 7), ValueError, "E must be an integer from 1 to 6, not 7"),
    (lambda: FP(2, 1), ValueError, "n must be an integer from 3 to 16, not 2"),
    (lambda: FP(8, 4, -33), ValueError, "SC must be an integer from -32 to 32, not -33"),
    (lambda: FP(16, 11).decode(1), ValueError,
     r"FP\(16,11,0\) has values \(2\*\*1024\) beyond float64's exact range"),
    (lambda: FP(8, 4).to_int(0x7F), ValueError, "NaR code 127 of FP"),
    (lambda: FP(8, 4).quantize(np.nan), ValueError, "Cannot quantize NaN to FP"),
    (lambda: parse_format("posit:8,1"), ValueError, "'posit:N,ES,SC'"),
    (lambda: parse_format("fp:8,x,0"), ValueError, "'fp:N,E,SC'"),
])
def test_invalid_parameters(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_identity_and_parsing():
    for fmt in [Posit(8, 1, -3), FP(8, 4, 2), FP(4, 2, 0), Posit(16, 3, 32)]:
        assert parse_format(fmt.spec) == fmt and hash(parse_format(fmt.spec)) == hash(fmt)
    assert Posit(8, 1) != FP(8, 1) and Posit(8, 0, 0) != TFX(8, 7, 0)
    assert repr(Posit(8, 1, -2)) == "Posit(n=8, es=1, SC=-2)"
    assert repr(FP(8, 4)) == "FP(n=8, E=4, SC=0)" and FP(8, 4).label == "FP(8,4,0)"
    assert FP(8, 4).ocp_name == "float8_e4m3fn" and FP(8, 3).ocp_name is None


def test_cli_table(capsys):
    from golden.__main__ import main
    assert main(["table", "fp:8,4,0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 + 256 and lines[1].split()[2:5] == ["s", "e", "mantissa"]
    assert lines[2 + 0x7E].split()[-1] == "448.0" and lines[2 + 0x7F].split()[-1] == "NaN"
    assert main(["table", "posit:6,2,0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2 + 0b000011].split()[2:6] == ["0", "0001", "-3", "2"]
    assert lines[2 + 32].split()[-1] == "NaR"


formats = st.one_of(
    st.builds(Posit, st.integers(3, 16), st.integers(0, 3), st.integers(-32, 32)),
    st.integers(3, 16).flatmap(lambda n: st.builds(FP, st.just(n),
                                                   st.integers(1, min(n - 2, 10)),
                                                   st.integers(-32, 32))),
)


@settings(max_examples=200, deadline=None)
@given(formats, st.data())
def test_quantize_decode_roundtrip(fmt, data):
    code = data.draw(st.integers(0, fmt.code_count - 1))
    if fmt.is_nar(code):
        return
    expected = 0 if isinstance(fmt, FP) and code == 1 << (fmt.n - 1) else code
    assert fmt.quantize(fmt.decode(code)) == expected


@settings(max_examples=200, deadline=None)
@given(formats, st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_quantize_picks_a_nearest_value(fmt, x):
    chosen = Fraction(float(fmt.decode(fmt.quantize(x))))
    values = fmt.values()
    i = int(np.searchsorted(values, x))
    neighbours = [Fraction(float(v)) for v in values[max(i - 1, 0):i + 1]]
    assert all(abs(chosen - Fraction(x)) <= abs(v - Fraction(x)) for v in neighbours)
    assert NumberFormat.quantize(fmt, x) == fmt.quantize(x)
    assert not math.isnan(float(chosen))


@pytest.mark.parametrize("fmt", [FP(8, 4), FP(6, 3), FP(4, 2), Posit(6, 1), Posit(8, 2),
                                 TFX(6, 3), FXP_UNSIGNED, FXP(5, 2)], ids=repr)
def test_ordinals_order_like_the_values(fmt):
    """Max-pooling and clipping work on ordinals: they must order like the values (a
    minifloat's sign and magnitude, not its two's complement) and give the codes back."""
    codes = fmt.codes()
    codes = codes[~fmt.is_nar(codes)]
    ordinals = fmt.ordinals(codes)
    values = fmt.decode(codes)
    assert all(np.sign(o) == np.sign(v) for o, v in zip(ordinals, values, strict=True))
    order = np.argsort(ordinals, kind="stable")
    assert np.all(np.diff(values[order]) >= 0) and np.all(np.diff(ordinals[order]) >= 0)
    # Every code comes back as itself, but a minifloat's -0, which comes back as 0.
    minus_zero = isinstance(fmt, FP) & (codes == 1 << (fmt.n - 1))
    assert np.array_equal(fmt.from_ordinals(ordinals), np.where(minus_zero, 0, codes))
