# amaranth: UnusedElaboratable=no
"""The split SB_MAC16: the instance on Yosys's iCE40 cell model (Icarus) and the Amaranth
model, both exact on every factor pair; bad shapes refused."""

import numpy as np
import pytest
from amaranth.hdl import Shape, signed, unsigned
from amaranth.sim import Simulator

from hdl.dsp import SplitMultiplier
from sim.runner import export_verilog, run_cocotb
from sim.toolchain import ice40_cell_models

SHAPES = [signed(8), unsigned(8), unsigned(7), signed(5)]


@pytest.mark.cocotb
@pytest.mark.sim
@pytest.mark.parametrize("shape", SHAPES, ids=repr)
def test_the_instance_on_the_cell_model_multiplies_every_pair(shape):
    text = export_verilog(SplitMultiplier(shape=shape), "split_dsp")
    assert "SB_MAC16" in text and "MODE_8x8" in text
    result = run_cocotb(verilog_text=text, toplevel="split_dsp", test_module="sim.tb_split_dsp",
                        testcase="every_factor_pair", extra_sources=[ice40_cell_models()],
                        params={"width": shape.width, "signed": shape.signed})
    assert result.passed, result


@pytest.mark.parametrize("shape", [signed(8), unsigned(7)], ids=repr)
def test_the_model_multiplies_every_pair(shape):
    dut = SplitMultiplier(shape=shape, implementation="model")
    width = shape.width
    values = np.arange(1 << width) - ((1 << width) * (np.arange(1 << width) >= 1 << (width - 1))
                                      if shape.signed else 0)
    a, b = np.repeat(values, values.size), np.tile(values, values.size)
    step = 37  # a stride through the pairs keeps the run short; the cell-model test is exhaustive
    picks = list(range(0, a.size, step)) + [0, a.size - 1]

    async def bench(ctx):
        for i in picks:
            j = a.size - 1 - i
            ctx.set(dut.a0, int(a[i])), ctx.set(dut.b0, int(b[i]))
            ctx.set(dut.a1, int(a[j])), ctx.set(dut.b1, int(b[j]))
            assert ctx.get(dut.p0) == a[i] * b[i]
            assert ctx.get(dut.p1) == a[j] * b[j]

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("shape,message", [
    (signed(9), "a split SB_MAC16 multiplies factors of 1 to 8 bits, not 9"),
    (unsigned(0), "a split SB_MAC16 multiplies factors of 1 to 8 bits, not 0"),
])
def test_a_factor_too_wide_is_refused(shape, message):
    with pytest.raises(ValueError, match=message):
        SplitMultiplier(shape=shape)
    with pytest.raises(ValueError, match="implementation must be one of"):
        SplitMultiplier(shape=Shape(8), implementation="dsp")


@pytest.mark.flow
def test_synthesis_keeps_every_split_block_split(tmp_path):
    """Yosys's ice40_dsp takes a split SB_MAC16 for a 16 x 16 multiplier and rewrites it
    (MODE_8x8 to 0: all five of the default iCEBreaker build's blocks were); hidden from it
    (hdl.dsp), every block of that build stays split through DSP inference (synth_ice40 up
    to its RAM mapping, which is all that touches them)."""
    from amaranth.back import verilog

    from scripts.fpga.flow import SynthConfig, host_link
    from sim.toolchain import ice40_synthesis, run_yosys

    text = verilog.convert(host_link(SynthConfig().resolved()), name="link", emit_src=False)
    split = text.count("MODE_8x8(32'd1)")
    assert split >= 4
    (tmp_path / "link.v").write_text(text)
    synth = ice40_synthesis(tmp_path, "synth_ice40 -dsp -top link -run :map_ram")
    run_yosys(cwd=tmp_path, script=f"read_verilog -sv link.v; {synth}; "
              "write_verilog -noattr coarse.v")
    assert (tmp_path / "coarse.v").read_text().count("MODE_8x8(32'd1)") == split
