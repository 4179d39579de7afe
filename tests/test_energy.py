"""The energy model on circuits whose energy is computed here by hand, the netlist reader on a
hand-written hierarchy, and the activity reader on hand-written waveforms."""

import json

import numpy as np
import pytest

from scripts.asic.activity import dump_module, read_toggles
from scripts.asic.energy import (BLOCKS, Conditions, GateNetlist, LeafCell, block_of,
                            load_gate_netlist, net_energy, uniform_toggles, unit_of)
from scripts.asic.liberty import Arc, Cell, Library, Pin, Table


def constant(value):
    """An energy table with one point: the same value at every slew and load."""
    return Table(("input_transition_time",), (np.array([0.1]),), np.array([value]))


@pytest.fixture
def library():
    """Two cells with round numbers: INV (A 0.01 pF; 0.02/0.04 pJ per output rise/fall) and DFF
    (CLK 0.02 pF with 0.1/0.3 pJ per clock rise/fall, D 0.005 pF, Q 0.05/0.07 pJ, 10 nW)."""
    inv = Cell("INV", 10.0, 2.0, {"A": Pin("A", "input", 0.01),
                                  "Y": Pin("Y", "output", 0.0, "(!A)")},
               (Arc("Y", "A", constant(0.02), constant(0.04)),), False)
    dff = Cell("DFF", 50.0, 10.0, {"CLK": Pin("CLK", "input", 0.02, clock=True),
                                   "D": Pin("D", "input", 0.005),
                                   "Q": Pin("Q", "output", 0.0, "IQ")},
               (Arc("CLK", "CLK", constant(0.1), constant(0.3)),
                Arc("Q", "CLK", constant(0.05), constant(0.07))), True)
    return Library("round", {"INV": inv, "DFF": dff}, {}, 2.0)


@pytest.fixture
def inverter_into_flop():
    """Input a -> INV (top) -> n -> DFF (in instance "core") -> y (output); clock clk."""
    a, n, clk, y = range(4)
    cells = [LeafCell("", "u1", "INV", {"A": a, "Y": n}),
             LeafCell("core", "r1", "DFF", {"CLK": clk, "D": n, "Q": y})]
    names = {a: [("top", "a", 0)], n: [("top", "n", 0)], clk: [("top", "clk", 0)],
             y: [("top", "y", 0)]}
    return GateNetlist("top", cells, names, ["top", "top.core"], {a, clk}, {y}, 4)


def test_energy_by_hand(library, inverter_into_flop):
    toggles = {0: 10, 1: 10, 2: 20, 3: 4}  # a, n, clk (10 cycles), y
    result = net_energy(inverter_into_flop, library, toggles.__getitem__, cycles=10,
                        conditions=Conditions(clock_mhz=100, output_load_pf=0.01))
    b = result["blocks"]
    half_cv2 = lambda c: 0.5 * c * 2.0 ** 2
    assert b["inputs"]["switching"] == pytest.approx(half_cv2(0.01) * 10)  # a drives INV.A
    assert b["control"]["switching"] == pytest.approx(half_cv2(0.005) * 10)  # n drives DFF.D
    assert b["control"]["internal"] == pytest.approx(10 * (0.02 + 0.04) / 2)
    assert b["registers"]["switching"] == pytest.approx(half_cv2(0.01) * 4)  # output load
    # the clock pin on every edge (20) and Q on its own transitions (4)
    assert b["registers"]["internal"] == pytest.approx(20 * 0.2 + 4 * 0.06)
    assert b["clock"]["switching"] == pytest.approx(half_cv2(0.02) * 20)
    seconds = 10 / 100e6
    assert b["registers"]["leakage"] == pytest.approx(10e-9 * seconds * 1e12)
    assert b["control"]["leakage"] == pytest.approx(2e-9 * seconds * 1e12)
    assert result["total_pj"] == pytest.approx(sum(e["total"] for e in b.values()))
    assert result["area_um2"] == 60.0 and b["registers"]["cells"] == 1
    assert b["clock"]["toggles"] == 20 and b["registers"]["nets"] == 1
    units = result["units"]  # the INV sits in the top module, the DFF in instance "core"
    assert set(units) == {"top", "core"}
    assert units["top"]["total"] == pytest.approx(b["control"]["total"])
    assert units["core"]["total"] == pytest.approx(b["registers"]["total"])
    assert units["core"]["area_um2"] == 50.0


@pytest.fixture
def gated_library(library):
    """The round library and a clock gate's cells: LATCH (CLK 0.03 pF, 0.2/0.2 pJ per clock
    edge; D 0.004 pF; Q 0.05/0.05 pJ) and AND (A, B 0.006 pF; Y 0.03/0.01 pJ)."""
    latch = Cell("LATCH", 40.0, 8.0, {"CLK": Pin("CLK", "input", 0.03, clock=True),
                                      "D": Pin("D", "input", 0.004),
                                      "Q": Pin("Q", "output", 0.0, "IQ")},
                 (Arc("CLK", "CLK", constant(0.2), constant(0.2)),
                  Arc("Q", "CLK", constant(0.05), constant(0.05))), True)
    gate = Cell("AND", 15.0, 3.0, {"A": Pin("A", "input", 0.006), "B": Pin("B", "input", 0.006),
                                   "Y": Pin("Y", "output", 0.0, "(A&B)")},
                (Arc("Y", "A", constant(0.03), constant(0.01)),
                 Arc("Y", "B", constant(0.03), constant(0.01))), False)
    return Library("round", {**library.cells, "LATCH": latch, "AND": gate}, {}, 2.0)


def test_gated_clock_by_hand(gated_library):
    """clk -> INV -> clk_n -> LATCH.CLK, en -> LATCH.D -> hold -> AND.B, clk -> AND.A, AND.Y =
    gclk -> two DFFs in "core" (the gate in core.clock_gate_0): 10 cycles, 3 of them enabled."""
    clk, en, clk_n, hold, gclk, d, q0, q1 = range(8)
    gate = "core.clock_gate_0"
    cells = [LeafCell(gate, "invert", "INV", {"A": clk, "Y": clk_n}),
             LeafCell(gate, "hold", "LATCH", {"CLK": clk_n, "D": en, "Q": hold}),
             LeafCell(gate, "gate", "AND", {"A": clk, "B": hold, "Y": gclk}),
             LeafCell("core", "r0", "DFF", {"CLK": gclk, "D": d, "Q": q0}),
             LeafCell("core", "r1", "DFF", {"CLK": gclk, "D": d, "Q": q1})]
    names = {net: [("top", f"n{net}", 0)] for net in range(8)}
    names[clk] = [("top", "clk", 0)]  # the clock input, though it drives no clock pin here
    netlist = GateNetlist("top", cells, names, ["top"], {clk, en, d}, set(), 8)
    toggles = {clk: 20, en: 6, clk_n: 20, hold: 6, gclk: 6, d: 0, q0: 2, q1: 1}
    result = net_energy(netlist, gated_library, toggles.__getitem__, cycles=10,
                        conditions=Conditions(output_load_pf=0.0))
    b = result["blocks"]
    half_cv2 = lambda c: 0.5 * c * 2.0 ** 2
    # clock nets: clk (INV.A 0.01 + AND.A 0.006), clk_n (LATCH.CLK), gclk (2 x DFF.CLK); and
    # hold (AND.B), which the gate's latch drives
    assert b["clock"]["switching"] == pytest.approx(
        half_cv2(0.016) * 20 + half_cv2(0.03) * 20 + half_cv2(0.04) * 6 + half_cv2(0.006) * 6)
    # the gate's cells: INV output, latch clock pin and Q, AND output
    assert b["clock"]["internal"] == pytest.approx(
        20 * 0.03 + 20 * 0.2 + 6 * 0.05 + 6 * 0.02)
    # the latch is part of the clock, not of the registers
    assert b["clock"]["cells"] == 3 and b["registers"]["cells"] == 2
    # the flip-flops' clock pins switch only on the 3 enabled cycles, not on all 10
    assert b["registers"]["internal"] == pytest.approx(2 * 6 * 0.2 + 3 * 0.06)
    # the gate and its gated net belong to the unit it gates; the clock input to none
    units = result["units"]
    assert units["core"]["total"] == pytest.approx(
        b["clock"]["total"] + b["registers"]["total"] - half_cv2(0.016) * 20)
    assert b["inputs"]["switching"] == pytest.approx(half_cv2(0.004) * 6)  # en into the latch


def test_voltage_and_clock_scale_as_they_should(library, inverter_into_flop):
    toggles = {0: 10, 1: 10, 2: 20, 3: 4}.__getitem__
    base = net_energy(inverter_into_flop, library, toggles, cycles=10)
    high = net_energy(inverter_into_flop, library, toggles, cycles=10,
                      conditions=Conditions(voltage=4.0))
    slow = net_energy(inverter_into_flop, library, toggles, cycles=10,
                      conditions=Conditions(clock_mhz=50))
    for block in BLOCKS:
        assert high["blocks"][block]["switching"] == pytest.approx(
            4 * base["blocks"][block]["switching"])
        assert slow["blocks"][block]["leakage"] == pytest.approx(
            2 * base["blocks"][block]["leakage"])
        assert slow["blocks"][block]["internal"] == base["blocks"][block]["internal"]


def test_uniform_toggles(library, inverter_into_flop):
    toggles = uniform_toggles(inverter_into_flop, library, activity=0.25, cycles=8)
    assert [toggles(net) for net in range(4)] == [0, 2.0, 16, 2.0]  # a is a quiet input


def test_blocks_from_hierarchy_names():
    assert block_of("core.pe_0_1.product$20", False) == "multipliers"
    assert block_of("core.pe_0_1.product$20", True) == "registers"
    assert block_of("core.pe_2_0", False) == "accumulators"
    assert block_of("core.w_decoder_3", False) == "decoders"
    assert block_of("scaling_1.encoder", False) == "scaling"
    assert block_of("results_fifo", True) == "buffers"
    assert block_of("buffer", False) == "buffers"
    assert block_of("", False) == "control" and block_of("core", True) == "registers"
    assert block_of("core.pe_0_1.clock_gate_3", True) == "clock"
    assert block_of("buffer.clock_gate_0", False) == "clock"
    assert [unit_of(p) for p in ("", "core.pe_0_0", "scaling_3.encoder", "buffer",
                                 "clock_gate_2", "core.clock_gate_0")] == [
        "top", "core", "scaling", "buffer", "top", "core"]


@pytest.mark.parametrize("field,value,message", [
    ("clock_mhz", 0, "clock_mhz must be a finite number > 0"),
    ("input_slew_ns", float("nan"), "input_slew_ns must be a finite number >= 0"),
    ("output_load_pf", -1.0, "output_load_pf must be a finite number >= 0"),
    ("voltage", "1.8", "voltage must be a finite number > 0"),
])
def test_conditions_are_validated(field, value, message):
    with pytest.raises(ValueError, match=message):
        Conditions(**{field: value})


def test_a_library_without_voltage_needs_one_stated(library, inverter_into_flop):
    silent = Library("silent", library.cells, {}, None)
    with pytest.raises(ValueError, match=r"library silent states no nom_voltage; give "
                                         r"Conditions\(voltage=...\)"):
        net_energy(inverter_into_flop, silent, lambda net: 0, cycles=1)
    result = net_energy(inverter_into_flop, silent, lambda net: 0, cycles=1,
                        conditions=Conditions(voltage=2.0))
    assert result["voltage"] == 2.0


def test_unknown_pin_is_an_error(library):
    netlist = GateNetlist("top", [LeafCell("", "u1", "INV", {"B": 0})], {}, ["top"], set(),
                          set(), 1)
    with pytest.raises(ValueError, match=r"cell \.u1 \(INV\) has no pin B"):
        net_energy(netlist, library, lambda net: 0, cycles=1)


def test_hierarchical_netlist_is_flattened(tmp_path):
    """Nets are shared across port boundaries; constants are no net; every name is kept."""
    design = {"modules": {
        "top": {"ports": {"a": {"direction": "input", "bits": [2]},
                          "y": {"direction": "output", "bits": [3]}},
                "netnames": {"a": {"bits": [2]}, "y": {"bits": [3]}, "mid": {"bits": [4, 5]}},
                "cells": {"u0": {"type": "INVX1", "connections": {"A": [2], "Y": [4]}},
                          "sub": {"type": "top.sub", "connections": {"i": [4, "0"], "o": [3]}}}},
        "top.sub": {"ports": {"i": {"direction": "input", "bits": [7, 8]},
                              "o": {"direction": "output", "bits": [9]}},
                    "netnames": {"i": {"bits": [7, 8]}, "o": {"bits": [9]}},
                    "cells": {"g": {"type": "NAND2X1",
                                    "connections": {"A": [7], "B": [8], "Y": [9]}}}}}}
    path = tmp_path / "netlist.json"
    path.write_text(json.dumps(design))
    netlist = load_gate_netlist(path, "top")
    inv, nand = netlist.cells
    assert (inv.path, nand.path) == ("", "sub")
    assert nand.pins["A"] == inv.pins["Y"] and nand.pins["B"] is None  # tied to 0
    assert nand.pins["Y"] in netlist.outputs and inv.pins["A"] in netlist.inputs
    assert netlist.names[inv.pins["Y"]] == [("top", "mid", 0), ("top.sub", "i", 0)]
    assert netlist.scopes == ["top", "top.sub"]
    with pytest.raises(ValueError, match="has no module 'chip'"):
        load_gate_netlist(path, "chip")


VCD = """$timescale 1ns $end
$scope module top $end
$var wire 1 ! a $end
$var wire 3 " bus [2:0] $end
$var wire 70 # wide [69:0] $end
$scope module sub $end
$var wire 1 $ \\esc$name $end
$upscope $end
$upscope $end
$enddefinitions $end
#0
x!
bxxx "
b0 #
0$
#10
0!
b000 "
b{w1} #
1$
#20
1!
b101 "
b{w2} #
0$
#30
0!
b011 "
""".format(w1=bin(1 << 69)[2:], w2=bin(3)[2:])


def test_toggles_per_bit_from_a_waveform(tmp_path):
    path = tmp_path / "t.vcd"
    path.write_text(VCD)
    activity = read_toggles(path)
    assert activity.bit("top", "a", 0) == 2  # x -> 0 is not a transition
    assert [activity.bit("top", "bus", i) for i in range(3)] == [1, 1, 2]
    wide = activity.toggles[("top", "wide")]
    assert wide[69] == 2 and wide[0] == 1 and wide[1] == 1 and wide.sum() == 4
    assert activity.bit("top.sub", "\\esc$name", 0) == 2  # escaped names match either way
    assert activity.bit("top", "missing", 0) is None
    assert activity.end_time == 30 and activity.seconds == pytest.approx(30e-9)
    lookup = activity.of_nets({0: [("top", "nope", 0), ("top", "bus", 2)], 1: []})
    assert lookup(0) == 2
    with pytest.raises(KeyError, match="net 1"):
        lookup(1)


def test_dump_module():
    text = dump_module(["top", "top.core"], "a.vcd")
    assert '$dumpfile("a.vcd");' in text and "$dumpvars(1, top.core);" in text
    assert text.startswith("module tent_activity_dump;")


def _entry(design, n, workload, per_block, macs=100, array=(4, 4)):
    blocks = {b: {"total": per_block.get(b, 0.0) * macs, "area_um2": per_block.get(b, 0.0),
                  "toggles": 0, "switching": 0.0, "internal": 0.0, "leakage": 0.0}
              for b in BLOCKS}
    units = {"core": {"total": blocks["multipliers"]["total"],
                      "area_um2": blocks["multipliers"]["area_um2"]}}
    return {"design": design, "n": n, "workload": workload, "macs": macs, "array": list(array),
            "energy": {"blocks": blocks, "units": units,
                       "total_pj": sum(b["total"] for b in blocks.values())}}


def test_report_rows_and_ratios():
    from scripts.asic.render import markdown
    from scripts.asic.summary import summarise
    rows = summarise([_entry("tfx", 8, "layer", {"multipliers": 6.0, "buffers": 4.0}),
                      _entry("fxp", 8, "layer", {"multipliers": 4.0, "buffers": 4.0}),
                      _entry("tfx", 8, "layer", {"multipliers": 6.0, "buffers": 2.0}, array=(8, 8)),
                      _entry("fxp", 8, "layer", {"multipliers": 3.0, "buffers": 2.0}, array=(8, 8))])
    row, large = rows  # the 4x4 array first, each against its own FXP
    assert row["array"] == [4, 4] and large["array"] == [8, 8]
    assert large["whole"]["energy_ratio"] == pytest.approx(8 / 5)
    assert large["units"]["core"] == {"tfx": 6.0, "fxp": 3.0}
    assert row["whole"]["energy_ratio"] == pytest.approx(10 / 8)
    assert row["datapath"]["energy_ratio"] == pytest.approx(6 / 4)  # buffers left out
    assert row["blocks"]["multipliers"] == {"tfx": 6.0, "fxp": 4.0}
    assert row["core"]["energy_ratio"] == pytest.approx(1.5)
    text = markdown({"conditions": {"clock_mhz": 100, "input_slew_ns": 0.1,
                                    "output_load_pf": 0.01}, "library": "lib", "voltage": 1.8,
                     "yosys": "Yosys", "rows": rows, "fpga": None})
    assert "| 4x4 | 8 | layer | 10.00 | 8.00 | 1.250 | 1.500 |" in text
    assert "| 8x8 | 8 | layer | 8.00 | 5.00 | 1.600 | 2.000 |" in text
    assert "| 8x8 | 8 | layer | 6.00 / 3.00 |" in text  # per unit: the core
    assert "n = 8 layer" in text and text.count("µJ TFX / FXP") == 1
    assert "run `make synth-sweep`" in text


def test_the_fpga_view_shows_every_format_the_sweep_built(tmp_path):
    import json as json_
    from scripts.asic.render import markdown
    from scripts.asic.summary import fpga_figures
    entry = lambda logic, fmax: {"logic": logic, "dsps": 4, "fmax_mhz": fmax, "fits": True}
    sweep = {"board": "icebreaker", "width_size": [2, 2], "widths": [
        {"n": 8, "dsp": True, "tfx": entry(3000, 20.0), "fxp": entry(2500, 25.0),
         "posit": {**entry(4000, None), "fits": False}},
        {"n": 8, "dsp": False, "tfx": entry(1, 1.0), "fxp": entry(1, 1.0)}]}
    path = tmp_path / "sweep" / "sweep.json"
    path.parent.mkdir()
    path.write_text(json_.dumps(sweep))
    figures = fpga_figures(path)
    assert figures["by_n"]["8"]["posit"]["logic"] == 4000 and "fp" not in figures["by_n"]["8"]
    text = markdown({"conditions": {"clock_mhz": 100, "input_slew_ns": 0.1,
                                    "output_load_pf": 0.01}, "library": "lib", "voltage": 1.8,
                     "yosys": "Yosys", "rows": [], "fpga": figures})
    assert "| n | TFX LCs | FXP LCs | POSIT LCs | TFX DSPs |" in text
    assert "| 8 | 3,000 (1.20) | 2,500 | 4,000* (1.60) | 4 | 4 | 4 | 20.00 | 25.00 | – |" in text


def test_every_format_rows_and_their_ratios():
    from scripts.asic.measure import runs
    from scripts.asic.render import formats_section
    from scripts.asic.summary import format_rows
    entries = [_entry("tfx", 8, "layer", {"multipliers": 6.0, "buffers": 4.0}),
               _entry("fxp", 8, "layer", {"multipliers": 4.0, "buffers": 4.0}),
               _entry("posit", 8, "layer", {"multipliers": 7.0, "accumulators": 5.0}),
               _entry("fp", 6, "layer", {"multipliers": 3.0})]
    for e, formats in zip(entries, (["T"] * 3, ["X"] * 3, ["P"] * 3, ["F"] * 3), strict=True):
        e["formats"] = formats
    six, eight = format_rows(entries)
    assert list(eight["designs"]) == ["tfx", "fxp", "posit"]  # the designs' order
    posit = eight["designs"]["posit"]
    assert posit["whole_pj_per_mac"] == 12.0 and posit["core_pj_per_mac"] == 7.0
    assert posit["energy_vs_fxp"] == pytest.approx(12 / 8)
    assert posit["energy_vs_tfx"] == pytest.approx(12 / 10)
    assert posit["core_vs_fxp"] == pytest.approx(7 / 4)
    assert posit["datapath_pj_per_mac"] == 12.0  # the buffers are not in the datapath
    assert six["designs"]["fp"]["whole_pj_per_mac"] == 3.0
    assert "energy_vs_fxp" not in six["designs"]["fp"]  # no FXP at n = 6: no ratio
    text = "\n".join(formats_section([six, eight]))
    assert "| 4x4 | 8 | layer | Posit ses | P, P, P | 12.00 | 1.500 | 1.200 | 7.00 | 1.750 |" \
        in text
    assert "| 4x4 | 6 | layer | FP ses | F, F, F | 3.00 | – | – |" in text
    assert formats_section(format_rows(entries[:2])) == []  # TFX and FXP alone: the main tables
    jobs = runs((4, 8), ("layer", "random"), large=False, glitches=False)
    assert {(d, n, w) for d, n, w, shape, timed in jobs if d in ("posit", "fp")} == {
        (d, n, "layer") for d in ("posit", "fp") for n in (4, 8)}
    assert not any(d in ("posit", "fp") for d, *_ in runs((8,), ("layer",), formats=False))


def test_energy_per_inference_and_its_pareto_front():
    from scripts.asic.inference import SRAM_PJ_PER_BIT, inference_points, pareto_front
    design = lambda pj: {"whole_pj_per_mac": pj}
    energy = {"array": [4, 4],
              "formats": [{"n": 4, "workload": "layer", "array": [4, 4],
                           "designs": {"tfx": design(50.0), "fxp": design(40.0)}},
                          {"n": 4, "workload": "layer", "array": [8, 8],
                           "designs": {"tfx": design(5.0), "fxp": design(4.0)}},
                          {"n": 4, "workload": "random", "array": [4, 4], "designs": {}}]}
    traffic = {"macs": 1000, "weight_bits": 400, "bias_bits": 64, "activation_bits": 536}
    row = {s: {"integer": {"mean": m, "std": 0.0}} for s, m in (("tfx", 0.9), ("fxp-layer", 0.8),
                                                                 ("fxp-channel", 0.95))}
    accuracy = {"schemes": ["tfx", "fxp-layer", "fxp-channel"], "models": [
        {"dataset": "d", "model": "m", "by_width": {"4": row, "5": row},
         "traffic": {"4": traffic, "5": traffic}}]}
    points = inference_points(energy, accuracy)
    assert len(points) == 3  # n = 5 was not measured
    tfx = next(p for p in points if p["scheme"] == "tfx")
    assert tfx["array_nj"] == 50.0 and tfx["bits"] == 1000
    assert tfx["energy_nj"]["stated"] == 50.0 + SRAM_PJ_PER_BIT["stated"]
    # equal memory bits: the cheaper FXP array with the better scheme dominates
    assert [p["scheme"] for p in pareto_front(points)] == ["fxp-channel"]
    every = {"array": [4, 4], "formats": [{"n": 4, "workload": "layer", "array": [4, 4],
                                           "designs": {"tfx": {"whole_pj_per_mac": 50.0},
                                                       "posit": {"whole_pj_per_mac": 70.0}}}]}
    row["posit-channel"] = {"integer": {"mean": 0.93, "std": 0.0}}
    accuracy["schemes"].append("posit-channel")
    points = inference_points(every, accuracy)
    assert sorted(p["scheme"] for p in points) == ["posit-channel", "tfx"]  # FXP not measured
    assert next(p for p in points if p["scheme"] == "posit-channel")["array_nj"] == 70.0


def test_the_answer_picks_each_formats_best_scheme_and_compares_tfx():
    from scripts.asic.inference import answer_rows, answer_section, inference_points
    energy = {"array": [4, 4], "formats": [{"n": 4, "workload": "layer", "array": [4, 4],
              "designs": {"tfx": {"whole_pj_per_mac": 50.0, "area_um2": 2e6},
                          "fxp": {"whole_pj_per_mac": 40.0, "area_um2": 1e6},
                          "posit": {"whole_pj_per_mac": 100.0, "area_um2": 3e6}}}]}
    traffic = {"macs": 1000, "weight_bits": 0, "bias_bits": 0, "activation_bits": 0}
    accuracy = {"schemes": ["tfx", "tfx-channel", "fxp-layer", "fxp-channel", "posit"],
                "models": [{"dataset": "d", "model": "m", "traffic": {"4": traffic},
                            "by_width": {"4": {s: {"integer": {"mean": m, "std": 0.01}}
                                               for s, m in (("tfx", 0.80), ("tfx-channel", 0.85),
                                                            ("fxp-layer", 0.90),
                                                            ("fxp-channel", 0.70),
                                                            ("posit", 0.86))}}}]}
    rows = answer_rows(inference_points(energy, accuracy), energy)
    assert [(r["design"], r["scheme"]) for r in rows] == [
        ("tfx", "tfx-channel"), ("fxp", "fxp-layer"), ("posit", "posit")]
    fxp, posit = rows[1], rows[2]
    assert fxp["tfx_accuracy_points"] == pytest.approx(-5.0)  # TFX 85 against FXP 90
    assert fxp["tfx_energy_ratio"] == pytest.approx(50 / 40)  # no memory traffic here
    assert posit["area_um2"] == 3e6 and posit["tfx_accuracy_points"] == pytest.approx(-1.0)
    text = "\n".join(answer_section(rows))
    assert "| 4 | FXP | fxp-layer | 90.0 ± 1.0 | 1.000 | 40.0 | 40 | -5.0 | 1.250 |" in text
    assert "| 4 | TFX | tfx-channel | 85.0 ± 1.0 | 2.000 | 50.0 | 50 | | |" in text
    assert "run `make accuracy`" in "\n".join(answer_section([]))


def test_the_other_exponent_sizes_are_measured_and_answered_under_their_spec():
    from scripts.asic.inference import answer_rows, answer_section, inference_points
    from scripts.asic.measure import runs, variants
    from scripts.asic.render import formats_section
    from scripts.asic.summary import format_rows
    assert [(label, f.label, form, scheme) for label, f, form, scheme in variants(8)][4:6] == [
        ("posit:8,0", "Posit8/es0", "ses", "posit"), ("fp:8,5", "FP8/E5", "ses", "fp")]
    assert [label for label, *_ in variants(5)][4:5] == ["posit:5,0"]
    jobs = runs((4, 6, 8), ("layer", "random"), large=False, glitches=False)
    assert {(d, n, w) for d, n, w, shape, timed in jobs if ":" in d} == {
        ("posit:4,0", 4, "layer"), ("posit:6,0", 6, "layer"), ("fp:6,3", 6, "layer"),
        ("posit:8,0", 8, "layer"), ("fp:8,5", 8, "layer")}
    assert not any(":" in d for d, *_ in runs((8,), ("layer",), formats=False))
    entries = [_entry(d, 8, "layer", {"multipliers": m}) for d, m in (
        ("fp:8,5", 9.0), ("posit:8,0", 7.0), ("fp", 8.0), ("posit", 10.0), ("fxp", 4.0),
        ("tfx", 5.0))]
    for e in entries:
        e["formats"] = ["A"] * 3
    row, = format_rows(entries)
    assert list(row["designs"]) == ["tfx", "fxp", "posit", "posit:8,0", "fp", "fp:8,5"]
    assert row["designs"]["fp:8,5"]["energy_vs_fxp"] == pytest.approx(9 / 4)
    assert "| 4x4 | 8 | layer | FP8/E5 ses | A, A, A | 9.00 | 2.250 |" in "\n".join(
        formats_section([row]))
    energy = {"array": [4, 4], "formats": [{**row, "designs": {
        d: {**f, "area_um2": 1e6} for d, f in row["designs"].items()}}]}
    summary = lambda m: {"integer": {"mean": m, "std": 0.0}}
    accuracy = {"schemes": ["tfx", "posit", "posit-channel", "fp", "fp-channel"], "models": [
        {"dataset": "d", "model": "m", "traffic": {"8": {"macs": 1000, "weight_bits": 0,
                                                          "bias_bits": 0, "activation_bits": 0}},
         "by_width": {"8": {"tfx": summary(0.8), "posit": summary(0.7),
                            "posit-channel": summary(0.75), "fp": summary(0.6),
                            "fp-channel": summary(0.65), "variants": {
                                "posit:8,0": {"schemes": {"posit": summary(0.85),
                                                          "posit-channel": summary(0.9)}},
                                "fp:8,5": {"schemes": {"fp": summary(0.5),
                                                       "fp-channel": summary(0.55)}}}}}}]}
    points = inference_points(energy, accuracy)
    named = {p["scheme"]: p for p in points}
    assert set(named) == {"tfx", "posit", "posit-channel", "fp", "fp-channel", "posit (es0)",
                          "posit-channel (es0)", "fp (E5)", "fp-channel (E5)"}
    assert named["posit-channel (es0)"]["format"] == "posit:8,0"
    assert named["posit-channel (es0)"]["array_nj"] == pytest.approx(7.0)
    assert named["fp (E5)"]["array_nj"] == pytest.approx(9.0)
    rows = answer_rows(points, energy)
    assert [(r["design"], r["scheme"]) for r in rows] == [
        ("tfx", "tfx"), ("posit", "posit-channel"), ("posit:8,0", "posit-channel (es0)"),
        ("fp", "fp-channel"), ("fp:8,5", "fp-channel (E5)")]
    assert rows[2]["tfx_accuracy_points"] == pytest.approx(-10.0)
    assert "| 8 | Posit8/es0 | posit-channel (es0) | 90.0 ± 0.0 | 1.000 | 7.0 | 7 | -10.0 " \
        "| 0.714 |" in "\n".join(answer_section(rows))


def test_unsigned_and_wmx_schemes_are_priced_on_their_builds():
    """make report measures each kind's unsigned and W-MX builds running their own scheme;
    a run of such a scheme is priced on its build, or on the plain design (marked) when the
    record has no such build."""
    from scripts.asic.inference import answer_rows, answer_section, inference_points
    from scripts.asic.measure import runs, variants
    builds = {label: (f.label, form, scheme) for label, f, form, scheme in variants(6)
              if "+" in label}
    assert builds == {
        "tfx+u": ("TFX6/IS<=3", "ses", "tfx-channel-unsigned"),
        "fxp+u": ("FXP6", "int", "fxp-channel"),
        "tfx+mx32": ("TFX6/IS<=3", "ses", "tfx-mx"), "tfx+mx16": ("TFX6/IS<=3", "ses", "tfx-mx16"),
        "fxp+mx32": ("FXP6", "int", "fxp-mx"), "fxp+mx16": ("FXP6", "int", "fxp-mx16"),
        "posit+u": ("Posit6/es1", "ses", "posit-channel-unsigned"),
        "posit+mx32": ("Posit6/es1", "ses", "posit-mx"),
        "fp+u": ("FP6/E2", "ses", "fp-channel-unsigned"), "fp+mx32": ("FP6/E2", "ses", "fp-mx")}
    assert {d for d, n, *_ in runs((6,), ("layer",), large=False, glitches=False)} >= set(builds)
    pj = lambda v: {"whole_pj_per_mac": v, "area_um2": v * 1e5}
    energy = {"array": [4, 4], "formats": [{"n": 4, "workload": "layer", "array": [4, 4],
              "designs": {"tfx": pj(50.0), "fxp": pj(40.0), "fxp+u": pj(44.0),
                          "tfx+mx32": pj(56.0)}}]}
    traffic = {"macs": 1000, "weight_bits": 0, "bias_bits": 0, "activation_bits": 0}
    summary = lambda m: {"integer": {"mean": m, "std": 0.0}}
    accuracy = {"schemes": ["tfx", "tfx-channel-unsigned", "tfx-mx", "fxp-layer", "fxp-channel"],
                "models": [{"dataset": "d", "model": "m", "traffic": {"4": traffic},
                            "by_width": {"4": {"tfx": summary(0.80),
                                               "tfx-channel-unsigned": summary(0.88),
                                               "tfx-mx": summary(0.85),
                                               "fxp-layer": summary(0.86),
                                               "fxp-channel": summary(0.90)}}}]}
    named = {p["scheme"]: p for p in inference_points(energy, accuracy)}
    assert {s: (p["design"], p["plain_price"], p["array_nj"]) for s, p in named.items()} == {
        "tfx": ("tfx", False, 50.0), "tfx-channel-unsigned": ("tfx", True, 50.0),
        "tfx-mx": ("tfx+mx32", False, 56.0), "fxp-layer": ("fxp", False, 40.0),
        "fxp-channel": ("fxp+u", False, 44.0)}
    rows = answer_rows(list(named.values()), energy)
    assert [(r["design"], r["priced_on"], r["scheme"]) for r in rows] == [
        ("tfx", "tfx", "tfx-channel-unsigned"), ("fxp", "fxp+u", "fxp-channel")]
    assert rows[1]["area_um2"] == 44e5 and rows[1]["tfx_energy_ratio"] == pytest.approx(50 / 44)
    text = "\n".join(answer_section(rows))
    assert "| 4 | FXP +U | fxp-channel | 90.0 ± 0.0 | 4.400 | 44.0 | 44 | -2.0 | 1.136 |" in text
    assert "| 4 | TFX | tfx-channel-unsigned † |" in text and "† Priced on the family's" in text


def test_a_formats_best_scheme_is_its_cheapest_that_ties_the_most_accurate():
    """A dearer build better by less than 0.2 points is not chosen, even when the seeds
    spread widely; one better by more is."""
    from scripts.asic.inference import answer_rows, inference_points
    pj = lambda v: {"whole_pj_per_mac": v, "area_um2": 1e6}
    energy = {"array": [4, 4], "formats": [{"n": 8, "workload": "layer", "array": [4, 4],
              "designs": {"tfx": pj(48.0), "tfx+mx32": pj(55.0), "tfx+u": pj(52.0)}}]}
    traffic = {"macs": 1000, "weight_bits": 0, "bias_bits": 0, "activation_bits": 0}
    summary = lambda m, std: {"integer": {"mean": m, "std": std}}
    accuracy = {"schemes": ["tfx", "tfx-mx", "tfx-channel-unsigned"], "models": [
        {"dataset": "d", "model": "m", "traffic": {"8": traffic}, "by_width": {"8": {
            "tfx": summary(0.9090, 0.003), "tfx-mx": summary(0.9094, 0.003),
            "tfx-channel-unsigned": summary(0.8000, 0.100)}}}]}
    rows = answer_rows(inference_points(energy, accuracy), energy)
    assert [(r["scheme"], r["priced_on"]) for r in rows] == [("tfx", "tfx")]
    accuracy["models"][0]["by_width"]["8"]["tfx-mx"] = summary(0.9150, 0.030)  # 0.6 better
    rows = answer_rows(inference_points(energy, accuracy), energy)
    assert [(r["scheme"], r["priced_on"]) for r in rows] == [("tfx-mx", "tfx+mx32")]


@pytest.mark.parametrize("argv,message", [
    (["--widths", "3"], "width 3 is outside 4..16"),
    (["--jobs", "0"], "--jobs must be at least 1"),
])
def test_report_arguments_are_checked(argv, message, capsys):
    from scripts.report import main
    with pytest.raises(SystemExit):
        main(argv)
    assert message in capsys.readouterr().err



def test_dump_module_escapes_odd_instance_names():
    text = dump_module(["top.core.pe_0_0.product$20", "top.my-block"], "a.vcd")
    assert "$dumpvars(1, top.core.pe_0_0.product$20);" in text
    assert "$dumpvars(1, top.\\my-block );" in text


SDF = """(DELAYFILE
 (SDFVERSION "3.0")
 (DESIGN "top")
 (TIMESCALE 1ns)
 (CELL
  (CELLTYPE "top")
  (INSTANCE)
  (DELAY
   (ABSOLUTE
    (INTERCONNECT a u1/A ({wire}::{wire}))
   )
  )
 )
 (CELL
  (CELLTYPE "INVX1")
  (INSTANCE u1)
  (DELAY
   (ABSOLUTE
    (IOPATH A Y (0.1::0.1) (0.2::0.2))
   )
  )
 )
 (CELL
  (CELLTYPE "AND2X1")
  (INSTANCE core/clock_gate_0/clock_and)
  (DELAY
   (ABSOLUTE
    (IOPATH A Y (0.1::0.1) (0.2::0.2))
   )
  )
 )
 (CELL
  (CELLTYPE "LATCH")
  (INSTANCE core/clock_gate_0/enable_latch)
  (DELAY
   (ABSOLUTE
    (IOPATH D Q (0.1::0.1) (0.2::0.2))
   )
  )
 )
)
"""


def test_ideal_clock_sdf_drops_the_clock_gates_delays_and_the_wires():
    from scripts.asic.timing import annotate_module, ideal_clock_sdf
    text = ideal_clock_sdf(SDF.format(wire="0.0000"))
    assert "INTERCONNECT" not in text and "clock_and" not in text
    assert "(INSTANCE u1)" in text and "enable_latch" in text  # the latch keeps its delay
    assert text.count("(CELL\n") == 2 and text.count("(") == text.count(")")
    with pytest.raises(ValueError, match="non-zero interconnect delays"):
        ideal_clock_sdf(SDF.format(wire="0.0100"))
    assert '$sdf_annotate("d.sdf", top);' in annotate_module("d.sdf", "top")


def test_exploration_variants_change_what_they_say():
    """The column-wide variant elaborates every PE at the column's width, and only inside."""
    import hdl.systolic as systolic
    from golden.family import TFXFamily
    from scripts.asic.explore import VARIANTS, column_wide_partial_sums, markdown, summary
    from amaranth.back.verilog import convert
    family = TFXFamily(8, 3)
    verilog = lambda: convert(systolic.SystolicCore(family=family, rows=4, cols=1), name="core",
                              emit_src=False)
    row_sized = verilog()
    with column_wide_partial_sums():
        assert [systolic.partial_sum_width(family, r) for r in (1, 4)] == \
            [systolic.partial_sum_width(family, 4)] * 2
        column_wide = verilog()
    assert column_wide != row_sized and verilog() == row_sized
    assert systolic.partial_sum_width(family, 1) < systolic.partial_sum_width(family, 4)
    assert VARIANTS[0] == "ses"
    entry = {"variant": "int", "macs": 10, "flops": 1234,
             "energy": {"total_pj": 500.0, "area_um2": 2e6,
                        "units": {"core": {"total": 200.0, "area_um2": 5e5}},
                        "blocks": {b: {"total": 10.0} for b in BLOCKS}}}
    text = markdown([summary(entry)])
    assert "| int | 50.00 | 20.00 | 1.00 | 1.00 | 1.00 | 1.00 | 1.00 | 2.000 | 0.500 | 1,234 |" in text


def test_variant_rows_name_what_each_variant_adds_and_where():
    from scripts.asic.variants import PAIRS, markdown

    def entry(units):
        return {"twin": "T", "variant": "V", "adds": "block shifters", "form": "ses",
                "twin_pj_per_mac": 40.0, "variant_pj_per_mac": 46.0,
                "twin_units": {"core": 20.0, "buffer": 10.0},
                "variant_units": units, "twin_blocks": {"buffers": 10.0},
                "variant_blocks": {"buffers": 14.0}, "twin_cells": 100, "variant_cells": 120}

    text = markdown({"rows": [entry({"core": 20.0, "buffer": 14.5, "block_shifter": 1.0})]})
    assert "| V | block shifters | T | ses | 40.00 | 46.00 | 1.150 | 100 → 120 |" in text
    # Units by the size of their difference: the buffer first, the untouched core last.
    lines = text.splitlines()
    first = lines.index("| unit | twin | variant | difference |") + 2
    assert lines[first:first + 3] == ["| buffer | 10.00 | 14.50 | +4.50 |",
                                      "| block_shifter | 0.00 | 1.00 | +1.00 |",
                                      "| core | 20.00 | 20.00 | +0.00 |"]
    assert {pair[6] for pair in PAIRS} == {"block shifters", "block shifters (spread 4)",
                                        "unsigned variants"}
