"""cocotb on Icarus: a dot-product unit whose operand and output formats change between dot
products without a rebuild; the MAC's two micro-architectures and FXP; one gate-level run."""

import pytest

from golden.arith import ScalingLimits
from golden.family import FXPFamily, TFXFamily
from hdl.dot import DotProductUnit
from sim.runner import export_verilog, run_cocotb

pytestmark = [pytest.mark.sim, pytest.mark.cocotb]

LIMITS = ScalingLimits(bias_bits=24, m_bits=8, shift_max=15)
K = 32


def run(family, form, gate_level=False, jobs=150):
    unit = DotProductUnit(family=family, K=K, form=form, limits=LIMITS)
    return run_cocotb(verilog_text=export_verilog(unit, "dot"), toplevel="dot",
                      test_module="sim.tb_dot", gate_level=gate_level,
                      params={"family": family.spec, "K": K, "jobs": jobs,
                              "limits": {"bias_bits": LIMITS.bias_bits, "m_bits": LIMITS.m_bits,
                                         "shift_max": LIMITS.shift_max}})


@pytest.mark.parametrize("family,form", [(TFXFamily(8, 3), "int"), (TFXFamily(8, 3), "ses"),
                                         (TFXFamily(6, 5), "ses"), (FXPFamily(8), "int")],
                         ids=lambda v: getattr(v, "spec", v))
def test_formats_change_between_dot_products(family, form):
    result = run(family, form)
    assert result.passed, result


@pytest.mark.flow  # Yosys synthesizes the gates (when they are not cached)
def test_dot_product_unit_gate_level():
    """The whole unit (decoders, ses MAC, scaling) as a Yosys gate netlist, same bench."""
    result = run(TFXFamily(8, 3), "ses", gate_level=True, jobs=60)
    assert result.passed, result
