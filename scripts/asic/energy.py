"""Energy of a mapped standard-cell netlist from its switching activity (the ASIC view of the
energy method in ``docs/design/energy.md``), and the layer workloads it runs.

Model, per run of ``cycles`` clock cycles at ``Conditions.clock_mhz``:

- net switching: every net's transitions × ½·C·V², C the sum of the input-pin capacitances it
  drives (Liberty ``capacitance``) plus ``output_load_pf`` on each primary output; no wire
  capacitance (a pre-layout figure). Charged to the block of the cell that drives the net; a
  net driven from outside is charged to ``inputs``. Clock nets (the clock input and every net
  on a Liberty ``clock`` pin: the gated clocks and inverted clocks of the clock gates, too)
  are charged to ``clock``, and a gated one to the unit of its gate.
- cell internal energy, every ``internal_power`` arc: an output pin's transitions × the mean,
  over its arcs (one per related input pin: the simulation does not say which input caused a
  transition), of the mean of the rise and fall tables at (``input_slew_ns``, the net's C);
  an input pin's own (``passive``) tables × its transitions: this includes every flip-flop's
  clock pin, twice per cycle, whether or not the flip-flop changes.
- leakage: ``cell_leakage_power`` × ``cycles / clock``.

Liberty units of the OSU 0.18 µm library: pF, V, nW; the internal energy tables have no unit
of their own and are read as pF·V² = pJ (:mod:`scripts.liberty`). Energies here are pJ.

Blocks follow the hierarchy names the netlist keeps (:func:`block_of`).
"""

import itertools
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from hdl import names

__all__ = ["BLOCKS", "Conditions", "LeafCell", "GateNetlist", "load_gate_netlist", "block_of",
           "unit_of",
           "net_energy", "uniform_toggles"]

BLOCKS = ("decoders", "multipliers", "accumulators", "scaling", "registers", "buffers",
          "control", "clock", "inputs")


def block_of(path, sequential):
    """The block a leaf cell belongs to, from its instance path below the top (``""`` for the
    top module itself) and whether it is a flip-flop or latch.

    The instance names are the hardware's contract (:mod:`hdl.names`). ``clock``: the clock
    gates of the standard-cell mapping (:mod:`scripts.asic.mapping`). ``buffers``: the
    K-tile accumulator buffer, the result FIFO and a shared scaling stage's queue (flip-flops
    and their multiplexers here; SRAM in a real chip). ``registers``: every other flip-flop.
    ``decoders``: the edge decoders. ``multipliers``: the PEs' product submodules.
    ``accumulators``: the rest of each PE (partial-sum adder, weight swap). ``scaling``: the
    scaling stages. ``control``: the remaining logic (K-tile adders, stream control).
    """
    parts = path.split(".") if path else []
    if any(p.startswith(names.CLOCK_GATE + "_") for p in parts):
        return "clock"
    if any(p.startswith(names.BUFFERS) for p in parts):
        return "buffers"
    if sequential:
        return "registers"
    if any(names.DECODER in p for p in parts):
        return "decoders"
    if any(p.startswith(names.PRODUCT) for p in parts):
        return "multipliers"
    if any(p.startswith(names.PE + "_") for p in parts):
        return "accumulators"
    if any(p.startswith(names.SCALING) for p in parts):
        return "scaling"
    return "control"


@dataclass(frozen=True)
class Conditions:
    """Operating point of an energy estimate (stated with every figure)."""

    clock_mhz: float = 100.0
    input_slew_ns: float = 0.1
    output_load_pf: float = 0.01
    voltage: float = None  # None: the library's nominal voltage

    def __post_init__(self):
        for name in ("clock_mhz", "input_slew_ns", "output_load_pf", "voltage"):
            value = getattr(self, name)
            if value is None and name == "voltage":
                continue
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0 \
                    or (value == 0 and name in ("clock_mhz", "voltage")):
                raise ValueError(f"{name} must be a finite number "
                                 f"{'> 0' if name in ('clock_mhz', 'voltage') else '>= 0'}, "
                                 f"not {value!r}")


@dataclass(frozen=True)
class LeafCell:
    path: str  # instance path below the top, "" for the top module
    name: str
    type: str
    pins: dict  # pin name -> net id (None: a constant)


@dataclass
class GateNetlist:
    """A hierarchical mapped netlist flattened to library cells and numbered nets.

    ``names[net]`` lists every (waveform scope, wire name, bit) that is this net, ``scopes``
    every module instance's scope (what to dump), ``inputs``/``outputs`` the top's port nets.
    """

    top: str
    cells: list
    names: dict
    scopes: list
    inputs: set
    outputs: set
    nets: int = field(default=0)


def load_gate_netlist(path, top):
    """Read Yosys ``write_json`` of a mapped design (hierarchy kept) from ``path``."""
    modules = json.loads(open(path).read())["modules"]
    if top not in modules:
        raise ValueError(f"{path} has no module {top!r}; it has {', '.join(sorted(modules))}")
    counter = itertools.count()
    cells, names, scopes = [], defaultdict(list), []

    def walk(module_name, scope, path, bitmap):
        module = modules[module_name]
        scopes.append(scope)

        def net(bit):
            if isinstance(bit, str):  # "0", "1", "x", "z"
                return None
            if bit not in bitmap:
                bitmap[bit] = next(counter)
            return bitmap[bit]

        for name, info in module["netnames"].items():
            for index, bit in enumerate(info["bits"]):
                g = net(bit)
                if g is not None:
                    names[g].append((scope, name, index))
        for cell_name, cell in module["cells"].items():
            connections = {pin: [net(b) for b in bits]
                           for pin, bits in cell["connections"].items()}
            if cell["type"] in modules:
                ports = modules[cell["type"]]["ports"]
                child = {local: g for port, nets in connections.items()
                         for local, g in zip(ports[port]["bits"], nets)}
                walk(cell["type"], f"{scope}.{cell_name}",
                     f"{path}.{cell_name}" if path else cell_name, child)
            else:
                cells.append(LeafCell(path, cell_name, cell["type"],
                                      {pin: nets[0] for pin, nets in connections.items()}))

    top_map = {}
    walk(top, top, "", top_map)
    ports = modules[top]["ports"]
    port_nets = lambda direction: {top_map[b] for p in ports.values() if p["direction"] == direction
                                   for b in p["bits"] if not isinstance(b, str)}
    return GateNetlist(top, cells, dict(names), scopes, port_nets("input"), port_nets("output"),
                       next(counter))


def uniform_toggles(netlist, library, *, activity, cycles):
    """Vectorless activity: ``activity`` transitions per cycle on every net a cell drives, two
    per cycle on the clock, none on the other primary inputs (OpenSTA reads a global activity
    on input ports as transitions per second: none in a run of microseconds)."""
    clock = clock_nets(netlist, library)
    inputs = netlist.inputs

    def toggles(net):
        if net in clock:
            return 2 * cycles
        return 0 if net in inputs else activity * cycles
    return toggles


#: The top module's clock input (Amaranth's ``sync`` domain).
CLOCK_PORT = "clk"


def clock_nets(netlist, library):
    """Every net on a Liberty ``clock`` pin, and the top's clock input: where every
    flip-flop takes a gated clock, the clock reaches only the gates' inverters and AND gates,
    whose pins are not clock pins."""
    pins = {net for cell in netlist.cells for pin, net in cell.pins.items()
            if net is not None and library[cell.type].pins[pin].clock}
    port = {net for net in netlist.inputs
            if (netlist.top, CLOCK_PORT, 0) in netlist.names.get(net, ())}
    return pins | port


def _arc_energy(table, slew, load):
    if table is None:
        return 0.0
    return table.lookup(input_transition_time=slew, total_output_net_capacitance=load)


def unit_of(path):
    """The top-level instance a leaf cell sits in (``core``, ``scaling``, ``buffer``,
    ``results_fifo``, ``weight_loader``, ``serialiser``; ``top`` for the top module's own
    cells and clock gates), column numbers dropped."""
    first = path.split(".")[0] if path else ""
    if not first or first.startswith(names.CLOCK_GATE + "_"):  # the top's own clock gates
        return "top"
    return re.sub(r"_\d+$", "", first)


def _zero():
    return {"switching": 0.0, "internal": 0.0, "leakage": 0.0, "toggles": 0, "nets": 0,
            "cells": 0, "area_um2": 0.0}


def _summed(parts, keys):
    out = {key: _zero() for key in keys}
    for key, part in parts:
        for field, value in part.items():
            out[key][field] += value
    for entry in out.values():
        entry["total"] = entry["switching"] + entry["internal"] + entry["leakage"]
    return out


def net_energy(netlist, library, toggles, *, cycles, conditions=Conditions(), classify=block_of):
    """Energy (pJ) of a run, per block and kind, with toggles and area per block.

    ``toggles(net)`` gives a net's transitions over the run (:mod:`scripts.activity` measures
    them; :func:`uniform_toggles` assumes them). Returns a dict: ``blocks`` (per block:
    ``switching``, ``internal``, ``leakage``, ``total`` pJ, ``toggles`` of the nets it drives,
    ``nets`` it drives, ``cells``, ``area_um2``), the same per top-level instance in ``units``
    (:func:`unit_of`; the clock input and the inputs' nets in none), ``total_pj``, ``area_um2``,
    ``cycles`` and the conditions. ``classify(path, sequential)`` names a cell's block
    (:func:`block_of`).
    """
    voltage = conditions.voltage or library.nominal_voltage
    if voltage is None:
        raise ValueError(f"library {library.name} states no nom_voltage; give "
                         f"Conditions(voltage=...)")
    slew = conditions.input_slew_ns
    seconds = cycles / (conditions.clock_mhz * 1e6)
    load = defaultdict(float)
    driver = {}  # net -> (block, unit) of the cell driving it
    group_of_cell = []
    for cell in netlist.cells:
        lib = library[cell.type]
        group = (classify(cell.path, lib.sequential), unit_of(cell.path))
        group_of_cell.append(group)
        for pin, net in cell.pins.items():
            if net is None:
                continue
            if pin not in lib.pins:
                raise ValueError(f"cell {cell.path}.{cell.name} ({cell.type}) has no pin {pin}")
            if lib.pins[pin].direction == "input":
                load[net] += lib.pins[pin].capacitance
            else:
                driver[net] = group
    for net in netlist.outputs:
        load[net] += conditions.output_load_pf
    clock = clock_nets(netlist, library)

    groups = defaultdict(_zero)
    for net, capacitance in load.items():
        n = toggles(net)
        if net in clock:
            group = ("clock", driver[net][1] if net in driver else None)
        else:
            group = driver.get(net, ("inputs", None))
        groups[group]["switching"] += 0.5 * capacitance * voltage ** 2 * n
        groups[group]["toggles"] += n
        groups[group]["nets"] += 1
    per_toggle = {}
    for cell, group in zip(netlist.cells, group_of_cell):
        lib = library[cell.type]
        entry = groups[group]
        entry["cells"] += 1
        entry["area_um2"] += lib.area
        entry["leakage"] += lib.leakage * seconds * 1e3  # nW x s = 1e-9 J = 1e3 pJ
        for pin, net in cell.pins.items():
            if net is None:
                continue
            arcs = [arc for arc in lib.arcs if arc.pin == pin]
            if not arcs:
                continue
            output = lib.pins[pin].direction != "input"
            key = (cell.type, pin, round(load[net], 9) if output else None)
            if key not in per_toggle:
                c = load[net] if output else 0.0
                per_toggle[key] = float(np.mean([
                    (_arc_energy(arc.rise, slew, c) + _arc_energy(arc.fall, slew, c)) / 2
                    for arc in arcs]))
            entry["internal"] += per_toggle[key] * toggles(net)
    block_names = BLOCKS if classify is block_of else \
        sorted({block for block, _ in group_of_cell}) + ["clock", "inputs"]
    blocks = _summed(((block, part) for (block, _), part in groups.items()), block_names)
    units = _summed(((unit, part) for (_, unit), part in groups.items() if unit is not None),
                    sorted({unit for _, unit in group_of_cell}))
    return {"blocks": blocks, "units": units,
            "total_pj": sum(e["total"] for e in blocks.values()),
            "area_um2": sum(e["area_um2"] for e in blocks.values()), "cycles": cycles,
            "voltage": voltage, "conditions": {"clock_mhz": conditions.clock_mhz,
                                               "input_slew_ns": slew,
                                               "output_load_pf": conditions.output_load_pf}}
