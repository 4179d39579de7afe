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
from scripts.asic.mapping import map_to_cells
from scripts.asic.energy import load_gate_netlist, net_energy
from scripts.asic.report import gate_level_energy, random_workload
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


def test_counter_toggles_and_area_through_the_flow(tmp_path):
    design = map_to_cells(export_verilog(Counter(), "counter"), "counter", build=tmp_path)
    netlist = load_gate_netlist(design.json, "counter")
    library = load_library(OSU018_LIBERTY)
    report = tmp_path / "report.json"
    result = run_cocotb(
        verilog_text=design.verilog.read_text(), toplevel="counter",
        test_module="sim.tb_clocked", params={"cycles": 100, "report": str(report)},
        extra_sources=[("cells.v", (OSU018_LIBERTY.parent / "osu018_stdcells.v").read_text()),
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


def _narrow(layer, columns):
    from golden.layers import Layer
    return Layer.make(family=layer.family, a_fmt=layer.a_fmt, w_fmt=layer.w_fmt,
                      out_fmt=layer.out_fmt, N=columns, relu=layer.relu)


def test_mapping_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Liberty file .*missing.lib not found"):
        map_to_cells("module m(); endmodule", "m", liberty=tmp_path / "missing.lib")
    with pytest.raises(RuntimeError, match="Yosys mapping of m onto"):
        map_to_cells("module m(; endmodule", "m", build=tmp_path)


def test_waves_must_be_a_known_format():
    with pytest.raises(ValueError, match="waves must be None, 'vcd' or 'fst', not 'lxt'"):
        run_cocotb(verilog_text="module m(); endmodule", toplevel="m", test_module="x",
                   params={}, waves="lxt")
