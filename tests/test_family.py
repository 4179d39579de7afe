"""The Family protocol: what hdl, sim and the reports ask of a format family."""

import numpy as np
import pytest

from golden import FP, FXP, TFX, Posit
from golden.family import (FAMILY_TYPES, Family, FPFamily, FXPFamily, PositFamily, TFXFamily,
                           WithUnsigned, family_from_protocol, family_of, parse_family)
from hdl.formats import hardware_for
from hdl.protocol import BuildInfo, ProtocolError

FAMILIES = [TFXFamily(8, 3), TFXFamily(6, 5, IS_min=2), TFXFamily(3, 1), FXPFamily(8),
            FXPFamily(5, signed=False), FPFamily(8, 4), FPFamily(4, 2), PositFamily(8, 1),
            PositFamily(16, 3), WithUnsigned(TFXFamily(8, 3)), WithUnsigned(FXPFamily(6)),
            WithUnsigned(PositFamily(8, 1)), WithUnsigned(FPFamily(8, 5))]


@pytest.mark.parametrize("family", FAMILIES, ids=str)
def test_registers_name_every_member(family):
    members = family.members(family.example_scales)
    assert len(members) == len(set(members)) > 0
    for fmt in members:
        registers = family.registers(fmt)
        assert tuple(registers) == family.register_names
        assert family.member_from(registers, registers["scale"]) == fmt
        for name, (low, high) in family.fields.items():
            assert low <= registers[name] <= high
        low, high = family.scale_range
        assert low <= registers["scale"] <= high
        assert family_of(fmt).check_member(fmt) == fmt


@pytest.mark.parametrize("family", FAMILIES, ids=str)
def test_accumulator_exponent_is_the_sum_of_int_exponents(family):
    members = family.members(family.example_scales)
    for a in members:
        for w in members:
            E = family.accumulator_exponent(family.registers(a)["scale"],
                                            family.registers(w)["scale"])
            # In the hardware's units (finer for a family with unsigned variants).
            assert E == a.int_exponent + w.int_exponent - family.accumulator_shift(a, w)
        assert family.int_exponent(family.registers(a)["scale"]) == \
            a.int_exponent - family.operand_shift(a)


@pytest.mark.parametrize("family", FAMILIES, ids=str)
def test_encoder_exponent_undoes_the_scale(family):
    # The encoder sees value / 2**(scale exponent): with one unit of the member at scale s,
    # Z + encoder_exponent(s) is the same for every s.
    for fmt in family.members(family.example_scales):
        scale = family.registers(fmt)["scale"]
        assert family.encoder_exponent(scale) - family.encoder_exponent(0) == \
            -(fmt.int_exponent - family.member_from(family.registers(fmt), 0).int_exponent)


@pytest.mark.parametrize("family", FAMILIES, ids=str)
def test_spec_and_protocol_round_trip(family):
    assert parse_family(family.spec) == family
    assert family_from_protocol(family.protocol_code, family.n, family.protocol_args) == family
    info = BuildInfo(family.spec, "int", 2, 3, 64, 256, 24, 8, 15, 256)
    assert BuildInfo.from_payload(info.to_payload()) == info
    assert hardware_for(family).encoder is not None


def test_scale_only_families():
    posit, fp = PositFamily(8, 1), FPFamily(8, 4)
    assert posit.member(-3) == Posit(8, 1, -3) and fp.member(2) == FP(8, 4, 2)
    assert posit.fields == {} and posit.register_names == ("scale",)
    assert posit.label == "Posit8/es1" and fp.label == "FP8/E4" and fp.spec == "fp:8,4"
    assert posit.has_nar and fp.has_nar and not FPFamily(6, 2).has_nar
    assert family_of(FP(6, 3, 5)) == FPFamily(6, 3) and family_of(Posit(8, 0)) == PositFamily(8, 0)
    assert fp.operand_width == FP(8, 4).operand_width == 19
    x = np.random.default_rng(0).standard_normal(2000) * 0.1
    assert posit.choose(x).with_scale(0) == Posit(8, 1) and fp.choose(x).with_scale(0) == FP(8, 4)
    with pytest.raises(ValueError, match="FP\\(n=8, E=5, SC=0\\) is not a member"):
        fp.check_member(FP(8, 5))
    with pytest.raises(ValueError, match="es must be an integer from 0 to 3, not 4"):
        PositFamily(8, 4)
    with pytest.raises(ValueError, match="E must be an integer from 1 to 6, not 7"):
        parse_family("fp:8,7")


def test_every_family_type_is_a_family_with_hardware():
    for family_type in FAMILY_TYPES:
        assert issubclass(family_type, Family)
        assert "int" in family_type.forms


def test_errors():
    with pytest.raises(ValueError, match=r"Family spec must be 'tfx:N,IS_MAX\[,IS_MIN\]', "
                                         r"'fxp:N', 'ufxp:N', 'posit:N,ES' or 'fp:N,E', "
                                         r"not 'posit:8'"):
        parse_family("posit:8")
    with pytest.raises(ValueError, match="unknown family code 9"):
        family_from_protocol(9, 8, (0, 0))
    payload = bytearray(BuildInfo("fxp:8", "int", 2, 2, 64, 256, 24, 8, 15, 256).to_payload())
    payload[1] = 9
    with pytest.raises(ProtocolError, match="unknown family code 9"):
        BuildInfo.from_payload(bytes(payload))
    with pytest.raises(TypeError, match="Expected a format of a family"):
        family_of(1.5)

    class Unregistered(FXPFamily):
        pass

    with pytest.raises(TypeError, match="no hardware is registered for"):
        hardware_for(Unregistered(8))


def test_with_unsigned_holds_both_halves():
    family = parse_family("tfx:8,3+u")
    assert family == WithUnsigned(TFXFamily(8, 3)) and family.label == "TFX8/IS<=3+U"
    assert family.parent == TFXFamily(9, 3) and family.fields == {"IS": (1, 3), "unsigned": (0, 1)}
    from golden.unsigned import UTFX, UFP
    assert family.member_from({"IS": 2, "unsigned": 1}, -1) == UTFX(8, 2, -1)
    assert family.registers(TFX(8, 2, 3)) == {"IS": 2, "unsigned": 0, "scale": 3}
    assert family_of(UTFX(8, 3)) == family and family_of(UFP(7, 4)) == parse_family("fp:7,4+u")
    # Signed operands are held in the parent's finer units: TFX one bit, posit es=1 two.
    assert family.operand_shift(TFX(8, 3)) == 1 and family.operand_shift(UTFX(8, 3)) == 0
    assert parse_family("posit:8,1+u").operand_shift(Posit(8, 1)) == 2
    assert parse_family("fxp:8+u").accumulator_shift(FXP(8, 2), FXP(8, 3, signed=False)) == 0
    assert family.protocol_code == 0x10 and parse_family("fp:8,4+u").protocol_code == 0x14
    with pytest.raises(ValueError, match=r"'ufxp:8\+u': UFXP8 is unsigned already"):
        parse_family("ufxp:8+u")
    with pytest.raises(ValueError, match="is not a member of WithUnsigned"):
        family.check_member(UTFX(8, 2, 0).parent)
    with pytest.raises(ValueError, match="is not a member of WithUnsigned"):
        family.check_member(TFX(7, 2))


def test_layers_with_unsigned_outputs_need_a_relu_and_a_bias_that_fits_shifted():
    from golden.arith import ScalingLimits
    from golden.layers import Layer
    from golden.unsigned import UTFX
    family = WithUnsigned(TFXFamily(8, 3))
    limits = ScalingLimits(bias_bits=12, m_bits=8, shift_max=15)
    common = dict(family=family, a_fmt=UTFX(8, 3), w_fmt=TFX(8, 2), N=2, limits=limits)
    with pytest.raises(ValueError, match=r"out_fmt UTFX\(8,3,0\) is unsigned: the layer needs "
                                         r"relu=True"):
        Layer.make(out_fmt=UTFX(8, 3), **common)
    layer = Layer.make(out_fmt=UTFX(8, 3), relu=True, bias=[-1023, 5], **common)
    assert list(layer.hardware_bias) == [-2046, 10]  # the signed weight's extra bit
    assert layer.config(slice(None), 2)["bias"] == [-2046, 10]
    with pytest.raises(ValueError, match="bias must be an integer from -1023 to 1023"):
        Layer.make(out_fmt=UTFX(8, 3), relu=True, bias=1024, **common)
