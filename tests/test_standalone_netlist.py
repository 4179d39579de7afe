"""The resident device as the iCEBreaker build makes it (:func:`scripts.fpga.flow
.resident_device`: SPRAM code memory, split SB_MAC16 PEs, the pipelined array), synthesized
by Yosys's ``synth_ice40`` and simulated as that netlist on Yosys's own iCE40 cell models:
a program loaded over the UART model classifies an image bit-exact. Without a board, this is
the closest check of what the bitstream does (the PLL aside: the bench drives the logic's
clock). ``make test-netlist`` runs these (minutes each)."""

import numpy as np
import pytest

from golden.compiler import compile_network
from golden.ptq import quantize_network
from scripts.fpga.flow import SynthConfig, resident_device
from tests.test_program import every_kind_net

pytestmark = [pytest.mark.netlist, pytest.mark.cocotb, pytest.mark.flow, pytest.mark.sim]


@pytest.mark.parametrize("kind,scheme", [("fxp", "fxp-layer"), ("tfx", "tfx")])
def test_the_ice40_netlist_classifies_an_image_bit_exact(kind, scheme):
    from sim.hostlink_bench import run_resident_bench

    config = SynthConfig(mode="resident", format=kind, rows=2, cols=2, max_K=64,
                         baud=3_000_000).resolved()
    device = resident_device(config)
    rng = np.random.default_rng(41)
    qnet = quantize_network(every_kind_net(4), scheme, 8, rng.normal(0, 1, (32, 2, 9, 9)),
                            family=config.family, limits=config.limits)
    program = compile_network(qnet, rows=2, cols=2, memory_codes=1 << 17)
    codes = program.input_codes(rng.normal(0, 1.5, (1, 2, 9, 9)))
    result = run_resident_bench(program, codes, device=device, netlist=True, fuzz=False,
                                simulator="icarus")
    assert result.passed, result.log
