"""cocotb on Icarus: layers through the whole accelerator (streams, K-tile accumulators,
scaling stages) bit-exact against the golden model, over array sizes, formats and forms."""

from dataclasses import replace

import pytest

from golden.arith import ScalingLimits
from golden.family import FPFamily, FXPFamily, PositFamily, TFXFamily, WithUnsigned
from hdl.accelerator import Accelerator
from sim.array_driver import accelerator_params
from sim.runner import export_verilog, run_cocotb
from sim.toolchain import ice40_cell_models

pytestmark = [pytest.mark.sim, pytest.mark.cocotb]

LIMITS = ScalingLimits(bias_bits=24, m_bits=8, shift_max=15)
# A minifloat's accumulator unit is its smallest subnormal squared (2**-18 for E4M3, 2**-32 for
# E5M2, at SC 0), a posit's minpos squared (2**-24 for es = 1): a trained layer's bias needs
# far more bits in those units (E5M2's digits layer 65), the price of the wide exponent range:
# their family's bias (64 bits, 72 for E5M2, whose biases are then Python integers).
WIDE_LIMITS = ScalingLimits(bias_bits=64, m_bits=8, shift_max=15)


def limits_for(family):
    if family.kind in ("fp", "posit"):
        return replace(WIDE_LIMITS, bias_bits=family.default_limits().bias_bits)
    return LIMITS


def run(family, form, rows, cols, *, max_K, depth, testcase=None, dsp_pes=None,
        scaling="per_column", dsp_split=None, pipelined=False, scaling_multiplier=None,
        shared_weight_decoder=False, hold_idle=True, mx_block=None, mx_spread=15, **extra):
    array = Accelerator(family=family, form=form, rows=rows, cols=cols, max_K=max_K,
                        mx_block=mx_block, mx_spread=mx_spread,
                        depth=depth, limits=limits_for(family), dsp_pes=dsp_pes, scaling=scaling,
                        dsp_split=dsp_split, pipelined=pipelined,
                        scaling_multiplier=scaling_multiplier,
                        shared_weight_decoder=shared_weight_decoder, hold_idle=hold_idle)
    cells = [ice40_cell_models()] if dsp_split == "sb_mac16" else []
    return run_cocotb(verilog_text=export_verilog(array, "accelerator"), toplevel="accelerator",
                      test_module="sim.tb_accelerator", extra_sources=cells,
                      params={**accelerator_params(array), **extra}, testcase=testcase)


# dsp_pes: the first PEs keep inferred multipliers, the rest and the scaling stages get fabric
# (shift-and-add) ones, as in the FPGA builds; "shared": one scaling stage for all columns.
@pytest.mark.parametrize("family,form,rows,cols,max_K,depth,dsp_pes,scaling", [
    (TFXFamily(8, 3), "int", 2, 2, 64, 8, None, "per_column"),
    (TFXFamily(8, 3), "ses", 4, 4, 64, 16, 5, "per_column"),
    (FXPFamily(8), "int", 4, 4, 64, 16, 5, "shared"),
    (TFXFamily(6, 5), "ses", 8, 8, 64, 8, None, "per_column"),
    (FXPFamily(6), "int", 8, 8, 64, 8, None, "per_column"),
    (TFXFamily(5, 2, IS_min=2), "int", 3, 5, 16, 4, 0, "shared"),
    (TFXFamily(8, 3), "int", 2, 1, 64, 8, 1, "shared"),
    (FPFamily(8, 4), "ses", 4, 4, 64, 16, 5, "per_column"),
    (FPFamily(8, 5), "int", 3, 2, 64, 8, None, "shared"),
    (PositFamily(8, 1), "ses", 3, 3, 64, 8, 4, "per_column"),
    (PositFamily(6, 0), "int", 2, 3, 64, 8, None, "shared"),
    (WithUnsigned(FPFamily(6, 3)), "int", 2, 2, 64, 8, None, "per_column"),
], ids=lambda v: getattr(v, "spec", v))
def test_layers_bit_exact(family, form, rows, cols, max_K, depth, dsp_pes, scaling):
    result = run(family, form, rows, cols, max_K=max_K, depth=depth, dsp_pes=dsp_pes,
                 scaling=scaling)
    assert result.passed, result


# Split SB_MAC16 instances on Yosys's iCE40 cell model: two PEs per block, the halves shared
# across a row boundary (cols 3), one half left unused (5 DSP PEs), fabric PEs after them;
# pipelined scaling stages, as in the fast FPGA builds, on two of them; the multiply by M
# inferred (on the DSPs the PEs leave, in a board build) or in fabric; one weight decoder
# shared by the columns (the board builds') or one per column; data registers that load on
# every cycle (hold_idle off), as in the board builds.
@pytest.mark.parametrize("family,form,rows,cols,dsp_pes,pipelined,scaling_multiplier,shared", [
    (TFXFamily(8, 3), "ses", 3, 3, 5, True, "infer", True),
    (FXPFamily(8), "int", 3, 3, 9, True, "fabric", True),
    (TFXFamily(8, 3, IS_min=2), "ses", 2, 4, 8, False, "infer", False),
    (FPFamily(8, 4), "ses", 3, 3, 9, True, "fabric", True),
    (PositFamily(8, 1), "ses", 2, 3, 6, True, "infer", True),
    # Unsigned activations: the parent's 8-bit significands on the same split blocks.
    (WithUnsigned(TFXFamily(8, 3)), "ses", 3, 3, 5, True, "infer", True),
    # Fixed point's sign and 8-bit magnitude: UFXP8's 0..255 and FXP8's -128..127 alike.
    (WithUnsigned(FXPFamily(8)), "ses", 3, 3, 9, True, "fabric", True),
], ids=lambda v: getattr(v, "spec", v))
def test_layers_bit_exact_on_split_dsps(family, form, rows, cols, dsp_pes, pipelined,
                                        scaling_multiplier, shared):
    result = run(family, form, rows, cols, max_K=64, depth=8, dsp_pes=dsp_pes,
                 scaling="shared", dsp_split="sb_mac16", pipelined=pipelined,
                 scaling_multiplier=scaling_multiplier, shared_weight_decoder=shared,
                 hold_idle=False)
    assert result.passed, result


# Block-scaled weights (W-MX): the random layers' weights are block-scaled on half of them
# (shifts 0 to 15 per block of a column), through the block shifters at the accumulators.
@pytest.mark.parametrize("family,form,rows,cols,mx_block,mx_spread,dsp_split", [
    (TFXFamily(8, 3), "ses", 4, 3, 16, 15, None),
    (FXPFamily(8), "int", 2, 3, 4, 3, "sb_mac16"),
    (PositFamily(6, 1), "ses", 2, 2, 4, 7, None),
    (FPFamily(6, 2), "ses", 2, 2, 8, 15, None),
], ids=lambda v: getattr(v, "spec", v))
def test_block_scaled_weights_bit_exact(family, form, rows, cols, mx_block, mx_spread,
                                        dsp_split):
    result = run(family, form, rows, cols, max_K=64, depth=8, scaling="shared",
                 dsp_split=dsp_split, mx_block=mx_block, mx_spread=mx_spread,
                 testcase="random_layers",
                 dsp_pes=rows * cols if dsp_split else None, shared_weight_decoder=True,
                 pipelined=True)
    assert result.passed, result


def test_tfx_and_fxp_take_the_same_cycles():
    """Cycle counts depend on the shapes only, never on the number format, the operand form,
    unsigned activations or block-scaled weights (one of each build; TFX's int form, whose
    stream is the ses form's, left out to keep it short)."""
    from scripts.bench.perf import measure, variants
    chosen = [v for v in variants(6, 2) if v[0] not in ("TFX int", "FXP +U", "TFX ses W-MX32")]
    assert {label for label, *_ in chosen} >= {"TFX ses +U", "FXP W-MX32"}
    cycles = {label: measure(family, form, 4, 2, (20, 13, 7), depth=8, **options)["cycles"]
              for label, family, form, options in chosen}
    assert len(set(cycles.values())) == 1, cycles
    # 20 rows in 3 passes (8 + 8 + 4) per K tile: 4 K tiles x 4 column tiles of MACs at least.
    assert min(cycles.values()) >= 20 * 4 * 4
