# amaranth: UnusedElaboratable=no
"""The standalone design's SPRAM code memory on Yosys's iCE40 cell model (Icarus)."""

import pytest

from hdl.standalone.spram import SPRAMCodeMemory
from sim.runner import export_verilog, run_cocotb
from sim.toolchain import ice40_cell_models


@pytest.mark.cocotb
@pytest.mark.sim
@pytest.mark.parametrize("n,lanes", [(8, 4), (8, 2), (6, 8)])
def test_the_spram_memory_keeps_what_is_written(n, lanes):
    memory = SPRAMCodeMemory(n=n, lanes=lanes)
    text = export_verilog(memory, "spram")
    assert text.count("SB_SPRAM256KA") == 4
    result = run_cocotb(verilog_text=text, toplevel="spram", test_module="sim.tb_spram",
                        testcase="random_accesses", extra_sources=[ice40_cell_models()],
                        params={"n": n, "lanes": lanes, "words": memory.words, "seed": lanes})
    assert result.passed, result


def test_the_spram_memory_refuses_other_shapes():
    with pytest.raises(ValueError, match="holds 2, 4 or 8 lanes a word, not 3"):
        SPRAMCodeMemory(n=8, lanes=3)
    with pytest.raises(ValueError, match="n must be an integer from 1 to 8, not 9"):
        SPRAMCodeMemory(n=9, lanes=4)
