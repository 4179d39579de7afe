"""cocotb on Icarus: the scaling stage's Verilog against the golden model; teeth; gate level."""

import pytest

from golden.arith import ScalingLimits
from golden.family import FPFamily, FXPFamily, PositFamily, TFXFamily
from hdl.scaling import ScalingStage
from sim.runner import export_verilog, run_cocotb

pytestmark = [pytest.mark.sim, pytest.mark.cocotb]

CASES = [
    (TFXFamily(8, 7), 24, ScalingLimits(bias_bits=24, m_bits=8, shift_max=15)),
    (TFXFamily(8, 3), 40, ScalingLimits(bias_bits=32, m_bits=16, shift_max=31)),
    (TFXFamily(5, 4, IS_min=2), 14, ScalingLimits(bias_bits=14, m_bits=4, shift_max=7)),
    (FXPFamily(8), 24, ScalingLimits(bias_bits=24, m_bits=8, shift_max=15)),
    (FXPFamily(6, signed=False), 20, ScalingLimits(bias_bits=20, m_bits=6, shift_max=9)),
    (FPFamily(8, 4), 40, ScalingLimits(bias_bits=32, m_bits=8, shift_max=15)),
    (FPFamily(8, 5), 48, ScalingLimits(bias_bits=32, m_bits=8, shift_max=15)),
    (FPFamily(6, 3), 24, ScalingLimits(bias_bits=24, m_bits=6, shift_max=9)),
    (PositFamily(8, 1), 40, ScalingLimits(bias_bits=32, m_bits=8, shift_max=15)),
    (PositFamily(8, 2), 56, ScalingLimits(bias_bits=48, m_bits=8, shift_max=15)),
    (PositFamily(6, 0), 20, ScalingLimits(bias_bits=20, m_bits=6, shift_max=9)),
]


def run(family, acc_width, limits, gate_level=False, reference="golden", pipelined=False):
    stage = ScalingStage(acc_width=acc_width, out_family=family, limits=limits,
                         pipelined=pipelined)
    return run_cocotb(
        verilog_text=export_verilog(stage, "scaling"), toplevel="scaling",
        test_module="sim.tb_scaling", gate_level=gate_level,
        params={"family": family.spec, "acc_width": acc_width, "reference": reference,
                "latency": stage.latency,
                "limits": {"bias_bits": limits.bias_bits, "m_bits": limits.m_bits,
                           "shift_max": limits.shift_max}})


@pytest.mark.parametrize("family,acc_width,limits", CASES, ids=lambda v: getattr(v, "spec", v))
def test_scaling_stage(family, acc_width, limits):
    result = run(family, acc_width, limits)
    assert result.passed, result


@pytest.mark.parametrize("family,acc_width,limits", [CASES[1], CASES[2], CASES[4], CASES[5],
                                                     CASES[9]],
                         ids=lambda v: getattr(v, "spec", v))
def test_pipelined_stage(family, acc_width, limits):
    result = run(family, acc_width, limits, pipelined=True)
    assert result.passed, result


def test_bench_has_teeth():
    """Ties away from zero instead of to the even code: the same bench must fail."""
    result = run(*CASES[0], reference="ties_away")
    assert result.tests == 1 and result.failed == 1, result
    assert "differ from the golden model" in result.log.read_text()


@pytest.mark.flow  # Yosys synthesizes the gates (when they are not cached)
def test_scaling_stage_gate_level():
    """The Yosys-synthesized gate netlist passes the same bench."""
    result = run(*CASES[2], gate_level=True)
    assert result.passed, result
