"""The energy flow end to end on real mapped netlists: Yosys onto the OSU 0.18 µm cells, the
gate netlist simulated by Icarus, toggles read back with pywellen, energy from the Liberty."""

import json

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from golden.family import TFXFamily
from hdl.accelerator import Accelerator
from scripts.asic.activity import dump_module, read_toggles
from scripts.asic.mapping import map_to_cells, simulation_models
from scripts.asic.energy import load_gate_netlist, net_energy
from scripts.asic.measure import gate_level_energy, random_workload
from scripts.asic.liberty import OSU018_LIBERTY, load_library
from sim.common import CLOCK_PERIOD_NS
from sim.runner import export_verilog, run_cocotb

pytestmark = pytest.mark.sim


class Counter(wiring.Component):
    count: Out(8)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.count.eq(self.count + 1)
        return m


@pytest.mark.cocotb
@pytest.mark.flow
def test_counter_toggles_and_area_through_the_flow(tmp_path):
    design = map_to_cells(export_verilog(Counter(), "counter"), "counter", build=tmp_path)
    netlist = load_gate_netlist(design.json, "counter")
    library = load_library(OSU018_LIBERTY)
    report = tmp_path / "report.json"
    result = run_cocotb(
        verilog_text=design.verilog.read_text(), toplevel="counter",
        test_module="sim.tb_clocked", params={"cycles": 100, "report": str(report)},
        extra_sources=[("cells.v", simulation_models(design.liberty)),
                       ("dump.v", dump_module(netlist.scopes, "activity.vcd"))],
        extra_tops=["tent_activity_dump"], waves="vcd")
    assert result.passed, result
    final = json.loads(report.read_text())["count"]
    assert final > 90  # no wrap: 0, 1, ..., final
    activity = read_toggles(result.run_dir / "activity.vcd")
    values = np.arange(final + 1)
    expected = [int((((values[1:] ^ values[:-1]) >> bit) & 1).sum()) for bit in range(8)]
    assert [activity.bit("counter", "count", bit) for bit in range(8)] == expected
    cycles = activity.seconds / (CLOCK_PERIOD_NS * 1e-9)
    estimate = net_energy(netlist, library, activity.of_nets(netlist.names), cycles=cycles)
    blocks = estimate["blocks"]
    assert blocks["clock"]["toggles"] == pytest.approx(2 * cycles, abs=2)
    assert blocks["registers"]["cells"] == 8
    # the flip-flops' Q nets are the count bits (plus the x -> 0 of reset, not counted)
    assert blocks["registers"]["toggles"] == sum(expected)
    # the clock pin's internal energy, twice per cycle, at the stated 0.1 ns slew
    clock_arc = next(a for a in library["DFFPOSX1"].arcs if a.pin == "CLK")
    pin_energy = (clock_arc.rise.lookup(input_transition_time=0.1)
                  + clock_arc.fall.lookup(input_transition_time=0.1)) / 2
    assert blocks["registers"]["internal"] > 8 * 2 * cycles * pin_energy * 0.999
    assert estimate["area_um2"] == pytest.approx(design.yosys_area)


class Sampler(wiring.Component):
    """An 8-bit counter (reset) and a register without reset that samples it every 4th cycle:
    a clock-gating group of 8 flip-flops."""

    count: Out(8)

    def elaborate(self, platform):
        m = Module()
        phase = Signal(8)
        sample = Signal(8, reset_less=True)
        m.d.sync += phase.eq(phase + 1)
        with m.If(phase[:2] == 0):
            m.d.sync += sample.eq(phase)
        m.d.comb += self.count.eq(sample)
        return m


def _run_sampler(tmp_path, *, clock_gating, cycles=100):
    design = map_to_cells(export_verilog(Sampler(), "sampler"), "sampler",
                          build=tmp_path / "map", clock_gating=clock_gating)
    netlist = load_gate_netlist(design.json, "sampler")
    library = load_library(OSU018_LIBERTY)
    report = tmp_path / f"report-{clock_gating}.json"
    result = run_cocotb(
        verilog_text=design.verilog.read_text(), toplevel="sampler",
        test_module="sim.tb_clocked", params={"cycles": cycles, "report": str(report)},
        extra_sources=[("cells.v", simulation_models(design.liberty)),
                       ("dump.v", dump_module(netlist.scopes, "activity.vcd"))],
        extra_tops=["tent_activity_dump"], waves="vcd")
    assert result.passed, result
    activity = read_toggles(result.run_dir / "activity.vcd")
    toggles = activity.of_nets(netlist.names)
    estimate = net_energy(netlist, library, toggles,
                          cycles=activity.seconds / (CLOCK_PERIOD_NS * 1e-9))
    return json.loads(report.read_text())["count"], netlist, library, toggles, estimate


@pytest.mark.cocotb
@pytest.mark.flow
def test_clock_gating_in_the_mapping_and_the_energy_of_gated_flops(tmp_path):
    """The sampling register gets one clock gate; its flip-flops' clock pins switch only on
    the sampling cycles, and the gate's cells and nets are charged to the clock."""
    count, netlist, library, toggles, gated = _run_sampler(tmp_path, clock_gating=True)
    assert count % 4 == 0 and count > 90  # the gated register sampled the right values
    gates = [cell for cell in netlist.cells if ".clock_gate_" in f".{cell.path}"]
    assert sorted(cell.type for cell in gates) == ["AND2X1", "INVX1", "LATCH"]
    (and_gate,) = [cell for cell in gates if cell.type == "AND2X1"]
    gated_clock = and_gate.pins["Y"]
    flops = [cell for cell in netlist.cells if cell.pins.get("CLK") == gated_clock]
    assert len(flops) == 8
    sampled = count // 4 + 1  # phase 0, 4, ..., count: the enabled cycles
    assert toggles(gated_clock) == 2 * sampled
    blocks = gated["blocks"]
    assert blocks["clock"]["cells"] == 3
    clock_input = next(net for net in netlist.inputs
                       if ("sampler", "clk", 0) in netlist.names[net])
    assert all(toggles(cell.pins["CLK"]) == toggles(clock_input) for cell in netlist.cells
               if cell.type == "DFFPOSX1" and cell not in flops)

    count_free, _, _, _, free = _run_sampler(tmp_path, clock_gating=False)
    assert count_free == count
    assert free["blocks"]["clock"]["cells"] == 0
    # ungated, the 8 flops' clock pins switch on every cycle; gated, on 2 cycles in 8. Their D
    # pins switch more when gated (no enable multiplexer in front), so not all of it is saved.
    clock_arc = next(a for a in library["DFFPOSX1"].arcs if a.pin == "CLK")
    pin_energy = (clock_arc.rise.lookup(input_transition_time=0.1)
                  + clock_arc.fall.lookup(input_transition_time=0.1)) / 2
    clock_pins_saved = 8 * pin_energy * (toggles(clock_input) - toggles(gated_clock))
    saved = free["blocks"]["registers"]["internal"] - blocks["registers"]["internal"]
    assert 0.7 * clock_pins_saved < saved < clock_pins_saved
    assert gated["total_pj"] < free["total_pj"]


@pytest.mark.cocotb
@pytest.mark.flow  # Yosys synthesizes the gates (when they are not cached)
def test_accelerator_gate_netlist_is_bit_exact_and_every_net_is_seen(tmp_path):
    family = TFXFamily(4, 2)
    array = Accelerator(family=family, form="ses", rows=2, cols=2, max_K=6, depth=4)
    a, w, layer = random_workload(family)
    entry = gate_level_energy(array, a[:3, :6], w[:6, :3], _narrow(layer, 3), "tiny",
                              cache=tmp_path, log=lambda text: None)
    blocks = entry["energy"]["blocks"]
    assert entry["macs"] == 3 * 6 * 3
    for block in ("decoders", "multipliers", "accumulators", "scaling", "registers",
                  "buffers", "control"):
        assert blocks[block]["cells"] > 0 and blocks[block]["total"] > 0, block
    assert entry["energy"]["area_um2"] == pytest.approx(entry["yosys_area_um2"])
    again = gate_level_energy(array, a[:3, :6], w[:6, :3], _narrow(layer, 3), "tiny",
                              cache=tmp_path, log=lambda text: None)
    assert again == entry  # reused, not recomputed


@pytest.mark.cocotb
@pytest.mark.flow
def test_timed_gate_level_run_is_bit_exact_and_counts_glitches(tmp_path):
    """The same tiny accelerator with the cells' delays (an SDF from OpenSTA): still bit-exact,
    flip-flops toggle as often as without delays, the adders and multipliers more."""
    family = TFXFamily(4, 2)
    array = Accelerator(family=family, form="ses", rows=2, cols=2, max_K=6, depth=4)
    a, w, layer = random_workload(family)
    args = (array, a[:3, :6], w[:6, :3], _narrow(layer, 3), "tiny")
    zero = gate_level_energy(*args, cache=tmp_path, log=lambda text: None)
    timed = gate_level_energy(*args, cache=tmp_path, timed=True, log=lambda text: None)
    assert (zero["timing"], timed["timing"]) == ("zero-delay", "timed")
    assert timed["slack"]["setup_ns"] >= 0 and timed["slack"]["hold_ns"] >= 0
    toggles = lambda entry, block: entry["energy"]["blocks"][block]["toggles"]
    assert toggles(timed, "registers") == toggles(zero, "registers")
    for block in ("multipliers", "accumulators", "control"):
        assert toggles(timed, block) > toggles(zero, block), block


def _narrow(layer, columns):
    from golden.layers import Layer
    return Layer.make(family=layer.family, a_fmt=layer.a_fmt, w_fmt=layer.w_fmt,
                      out_fmt=layer.out_fmt, N=columns, relu=layer.relu)


@pytest.mark.flow
def test_mapping_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Liberty file .*missing.lib not found"):
        map_to_cells("module m(); endmodule", "m", liberty=tmp_path / "missing.lib")
    with pytest.raises(RuntimeError, match="Yosys mapping of m onto"):
        map_to_cells("module m(; endmodule", "m", build=tmp_path)


def test_waves_must_be_a_known_format():
    with pytest.raises(ValueError, match="waves must be None, 'vcd' or 'fst', not 'lxt'"):
        run_cocotb(verilog_text="module m(); endmodule", toplevel="m", test_module="x",
                   params={}, waves="lxt")
