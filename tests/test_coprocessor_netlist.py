"""The default iCEBreaker build (the coprocessor: TFX8 3 x 3 on split SB_MAC16s, the
pipelined array, shared scaling on DSPs) synthesized by Yosys's ``synth_ice40 -dsp`` and
simulated as that netlist on Yosys's own cell models: random layers over the UART model are
bit-exact with the golden model. The closest check of the bitstream without a board (the PLL
aside: the bench drives the logic's clock; 3 Mbaud keeps the run to minutes). ``make
test-netlist`` runs it."""

import pytest

from scripts.fpga.flow import SynthConfig, host_link

pytestmark = [pytest.mark.netlist, pytest.mark.cocotb, pytest.mark.flow, pytest.mark.sim]


def test_the_default_builds_netlist_runs_layers_bit_exact():
    from sim.hostlink_bench import run_link_netlist_bench

    config = SynthConfig(baud=3_000_000).resolved()
    link = host_link(config)
    result = run_link_netlist_bench(link, max_K=config.max_K)
    assert result.passed, result.log
