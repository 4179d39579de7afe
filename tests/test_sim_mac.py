"""cocotb on Icarus: the decoding MAC's Verilog, all operand pairs and random dot products."""

import time

import pytest

from golden.family import FPFamily, FXPFamily, PositFamily, TFXFamily
from hdl.mac import DecodingMAC
from sim.runner import export_verilog, run_cocotb

pytestmark = [pytest.mark.sim, pytest.mark.cocotb]

K, BIAS_BITS = 64, 24

CASES = [
    # family, form, run-time members under test
    (TFXFamily(8, 7), "int", [TFXFamily(8, 7).member(IS) for IS in (2, 3, 7)]),
    (TFXFamily(8, 7), "ses", [TFXFamily(8, 7).member(IS) for IS in (2, 3, 7)]),
    (TFXFamily(8, 3), "ses", [TFXFamily(8, 3).member(IS) for IS in (2, 3)]),
    (FXPFamily(8), "int", [FXPFamily(8).member(0)]),
    (FPFamily(8, 4), "ses", [FPFamily(8, 4).member(0)]),
    (FPFamily(8, 5), "ses", [FPFamily(8, 5).member(0)]),
    (PositFamily(8, 0), "ses", [PositFamily(8, 0).member(0)]),
    (PositFamily(8, 1), "ses", [PositFamily(8, 1).member(0)]),
    (PositFamily(8, 2), "int", [PositFamily(8, 2).member(0)]),
]


def _run(family, form, members, testcase):
    text = export_verilog(DecodingMAC(family=family, K=K, form=form, bias_bits=BIAS_BITS), "mac")
    return run_cocotb(verilog_text=text, toplevel="mac", test_module="sim.tb_mac",
                      testcase=testcase, params={"family": family.spec, "form": form, "K": K,
                                                 "bias_bits": BIAS_BITS,
                                                 "members": [fmt.spec for fmt in members]})


def _id(value):
    return "+".join(fmt.spec for fmt in value) if isinstance(value, list) else \
        getattr(value, "spec", value)


@pytest.mark.parametrize("family,form,values", CASES, ids=_id)
def test_mac_every_operand_pair(family, form, values):
    start = time.perf_counter()
    result = _run(family, form, values, "every_operand_pair")
    assert result.passed, result
    print(f"{family.spec} {form}: {len(values)} x 65,536 pairs in {time.perf_counter() - start:.1f} s")


@pytest.mark.parametrize("family,form,values", CASES, ids=_id)
def test_mac_random_dot_products(family, form, values):
    result = _run(family, form, values, "random_dot_products")
    assert result.passed, result
