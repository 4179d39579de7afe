"""The unsigned variants (golden.unsigned) against their signed parents, exhaustively: every
code of every UTFX, UPosit and UFP up to n = 8 means what the same code means one bit wider,
and quantizing a nonnegative value gives the parent's code."""

import math

import numpy as np
import pytest

from golden import FXP, UFP, UTFX, UPosit, parse_format
from golden.minifloat import FP
from golden.posit import Posit
from golden.tfx import TFX


def _unsigned_formats():
    for n in range(2, 9):
        yield from (UTFX(n, IS, SC) for IS in range(1, n + 1) for SC in (-2, 0, 3))
        if n >= 2:
            yield from (UPosit(n, es, SC) for es in (0, 1, 2) for SC in (0, -3))
        if n >= 3:
            yield from (UFP(n, E, SC) for E in range(1, n) for SC in (0, 2))


FORMATS = list(_unsigned_formats())


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.spec)
def test_every_code_means_what_it_means_in_the_signed_parent(fmt):
    parent = fmt.parent
    assert parent.n == fmt.n + 1 and parent._key()[1:] == fmt._key()[1:]
    codes = fmt.codes()
    assert len(codes) == 2 ** fmt.n
    np.testing.assert_array_equal(fmt.decode(codes), parent.decode(codes))
    np.testing.assert_array_equal(fmt.is_nar(codes), parent.is_nar(codes))
    np.testing.assert_array_equal(fmt.to_int(codes, nar="zero"), parent.to_int(codes, nar="zero"))
    values = fmt.decode(codes)
    real = ~np.isnan(values)
    assert (values[real] >= 0).all()
    # Every nonnegative value of the parent is here.
    parent_values = parent.values()
    np.testing.assert_array_equal(fmt.values(), parent_values[parent_values >= 0])
    assert fmt.int_exponent == parent.int_exponent
    ordinals = fmt.ordinals(codes[real])
    assert (np.diff(values[real][np.argsort(ordinals)]) > 0).all()
    assert parse_format(fmt.spec) == fmt and fmt.label.startswith(f"U{type(parent).__name__}(")


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.spec)
def test_quantizing_nonnegative_values_gives_the_parents_code(fmt):
    rng = np.random.default_rng(fmt.n)
    values = fmt.values()
    mids = (values[1:] + values[:-1]) / 2
    x = np.concatenate([values, mids, np.nextafter(mids, 0), np.nextafter(mids, np.inf),
                        np.abs(rng.normal(0, fmt.maxpos, 500)), [0.0, -0.0, np.inf,
                                                                 2 * fmt.maxpos]])
    codes = fmt.quantize(x)
    np.testing.assert_array_equal(codes, fmt.parent.quantize(x))
    assert (codes < fmt.code_count).all()
    assert not fmt.is_nar(codes).any()
    mantissa = np.arange(0, 4000, 7)
    np.testing.assert_array_equal(fmt.quantize_exact(mantissa, fmt.int_exponent - 3),
                                  fmt.parent.quantize_exact(mantissa, fmt.int_exponent - 3))


def test_negative_values_are_an_error_unless_clamping_is_asked_for():
    fmt = UTFX(7, 3, 0)
    with pytest.raises(ValueError, match=r"UTFX\(7,3,0\) is unsigned: cannot quantize the "
                                         r"negative value -0.5; pass negative='zero'"):
        fmt.quantize([1.0, -0.5])
    np.testing.assert_array_equal(fmt.quantize([1.0, -0.5], negative="zero"),
                                  [fmt.quantize(1.0), 0])
    with pytest.raises(ValueError, match="is unsigned"):
        fmt.quantize_exact(np.array([-3]), 0)
    assert fmt.quantize_exact(np.array([-3]), 0, negative="zero")[0] == 0


@pytest.mark.parametrize("make,parent,message", [
    (lambda: UTFX(7, 8), TFX, "IS must be an integer from 1 to 7"),
    (lambda: UPosit(7, 4), Posit, "es must be an integer from 0 to 3"),
    (lambda: UFP(7, 7), FP, "E must be"),
    (lambda: UTFX(1, 1), TFX, "n must be an integer from 3 to 16"),
])
def test_illegal_parameters_name_the_parent_and_its_range(make, parent, message):
    with pytest.raises(ValueError, match=f"nonnegative half of {parent.__name__}") as error:
        make()
    assert message in str(error.value)


def test_the_parents_special_codes_stay_special_and_are_never_produced():
    e4m3 = UFP(7, 4)  # OCP E4M3 without its sign
    assert e4m3.nar_codes == (0x7F,) and e4m3.maxpos == 448.0
    e5m2 = UFP(7, 5)  # OCP E5M2: +inf and three NaNs
    assert e5m2.nar_codes == (0x7C, 0x7D, 0x7E, 0x7F) and e5m2.maxpos == 57344.0
    assert e5m2.quantize(math.inf) == 0x7B
    # A TFX or posit parent's NaR (100...0) lies outside the unsigned half.
    assert UTFX(7, 3).nar_codes == () and UPosit(7, 1).nar_code is None
    # The unsigned UTFX(n) has one more regime-or-fraction bit than TFX(n): twice the codes
    # for the nonnegative values.
    assert len(UTFX(7, 3).values()) == 2 * len(TFX(7, 3).values()[TFX(7, 3).values() >= 0])


def test_unsigned_fixed_point_is_the_same_definition():
    for n in range(2, 9):
        for F in (-1, 0, 3):
            unsigned = FXP(n, F, signed=False)
            parent = FXP(n + 1, F)
            codes = unsigned.codes()
            np.testing.assert_array_equal(unsigned.decode(codes), parent.decode(codes))


def test_scale_and_parameters_read_through():
    fmt = UPosit(7, 1, 2)
    assert (fmt.es, fmt.SC) == (1, 2) and fmt.with_scale(-1) == UPosit(7, 1, -1)
    assert UFP(7, 4).M == 3 and UTFX(6, 2, 1).IS == 2
    with pytest.raises(AttributeError):
        fmt.F
