"""Delays for a timed gate-level simulation: an SDF written by OpenSTA from the mapped netlist
and the Liberty file, with the clock network ideal.

OpenSTA (Debian's ``sta``) computes every cell's delays from the Liberty tables at the slews
and loads of this netlist (no wire capacitance: a pre-layout figure, as the energy model's) and
writes them as SDF ``IOPATH`` entries; Icarus, compiled with ``-gspecify``, annotates them
onto the library's Verilog models with ``$sdf_annotate``. Two things are taken out:

- the delays of the clock gates' inverter and AND gate, so that a gated clock rises with the
  clock, as after clock-tree synthesis, which balances the clock network (OpenSTA's own
  timing treats the clock as ideal, too); the gates' latches keep theirs;
- the ``INTERCONNECT`` entries, all zero without parasitics (:func:`ideal_clock_sdf` checks).

:func:`sdf_for` also checks that the netlist meets timing, setup and hold, at the simulation's
clock period, as the cocotb driver uses it (:class:`sim.array_driver.ArrayDriver`): inputs
driven on the falling edge, outputs read :data:`SETTLE` of a period later: a timed run whose
results are bit-exact then shows every glitch of a working circuit.
"""

import re
import subprocess
import tempfile
from pathlib import Path

from hdl import names
from sim.toolchain import system_tool
from .energy import CLOCK_PORT

__all__ = ["ideal_clock_sdf", "sdf_for", "annotate_module", "CLOCK_GATE_TIMED", "SETTLE"]

#: The clock gates' cells whose delays an ideal clock network does not have.
CLOCK_GATE_TIMED = ("INVX1", "AND2X1")
#: The driver reads the outputs this fraction of a period after the falling edge, where it
#: drives the inputs: 0.9 of a period after the rising edge.
SETTLE = 0.4


def ideal_clock_sdf(text):
    """``text`` (an SDF of OpenSTA's layout) without the clock gates' inverter and AND gate
    delays and without the all-zero ``INTERCONNECT`` block of the top cell."""
    header, *cells = re.split(r"(?m)^ \(CELL\b", text)
    kept = []
    for cell in cells:
        kind = re.search(r'\(CELLTYPE "([^"]*)"\)', cell).group(1)
        instance = re.search(r"\(INSTANCE ?([^)]*)\)", cell).group(1).strip()
        if not instance:  # the top cell: wires only
            delays = re.findall(r"\(INTERCONNECT \S+ \S+ \(([^)]*)\)", cell)
            if any(float(v) != 0 for d in delays for v in d.split(":") if v):
                raise ValueError("the SDF has non-zero interconnect delays, which this flow "
                                 "does not annotate")
            continue
        if kind in CLOCK_GATE_TIMED and f"/{names.CLOCK_GATE}_" in f"/{instance}":
            continue
        kept.append(cell)
    tail = "\n)\n"
    body = "".join(" (CELL" + cell for cell in kept)
    return header + body.rstrip().rstrip(")").rstrip() + tail if kept else header + tail


def _sta(script):
    with tempfile.TemporaryDirectory() as directory:
        tcl = Path(directory) / "timing.tcl"
        tcl.write_text(script.replace("@DIR@", directory))
        result = subprocess.run([system_tool("sta", "opensta"), "-no_splash", "-exit", str(tcl)],
                                capture_output=True, text=True, timeout=1800)
        text = result.stdout + result.stderr
        sdf = Path(directory) / "design.sdf"
        return result.returncode, text, sdf.read_text() if sdf.exists() else None


def sdf_for(verilog, top, liberty, *, period_ns, input_slew_ns=0.1, output_load_pf=0.01):
    """The ideal-clock SDF of a mapped netlist and its worst setup and hold slack (ns) at
    ``period_ns``, inputs launched and outputs captured on the falling edge; raises if either
    is negative (the timed simulation would not be bit-exact)."""
    inputs = f"[delete_from_list [all_inputs] [get_ports {CLOCK_PORT}]]"
    code, text, sdf = _sta("\n".join([
        f"read_liberty {liberty}", f"read_verilog {verilog}", f"link_design {top}",
        f"create_clock -name clk -period {period_ns} [get_ports {CLOCK_PORT}]",
        f"set_input_transition {input_slew_ns} [all_inputs]",
        f"set_load {output_load_pf} [all_outputs]",
        f"set_input_delay 0 -clock clk -clock_fall {inputs}",
        f"set_output_delay {(1 - SETTLE - 0.5) * period_ns:.4f} -clock clk [all_outputs]",
        "report_checks -path_delay max -digits 4 -format end",
        "report_checks -path_delay min -digits 4 -format end",
        "write_sdf -digits 4 @DIR@/design.sdf", "exit", ""]))
    slacks = {"max": [], "min": []}
    for kind, table in re.findall(r"^(max|min)_delay/(.*?)(?=^m(?:ax|in)_delay/|\Z)", text,
                                  re.M | re.S):
        slacks[kind] += [float(x) for x in re.findall(r"(-?[\d.]+) \((?:MET|VIOLATED)\)", table)]
    if code != 0 or sdf is None or not all(slacks.values()) or re.search(r"^Error", text, re.M):
        raise RuntimeError(f"OpenSTA could not time {verilog}:\n{text[-2000:]}")
    setup, hold = min(slacks["max"]), min(slacks["min"])
    if setup < 0 or hold < 0:
        raise ValueError(f"{verilog} misses timing at a {period_ns} ns clock (worst setup slack "
                         f"{setup} ns, hold {hold} ns); a timed simulation needs a longer period")
    return ideal_clock_sdf(sdf), setup, hold


def annotate_module(sdf_file, scope):
    """A top module that annotates ``sdf_file`` onto the instance ``scope`` at time 0."""
    return "\n".join(["module tent_sdf_annotate;",
                      f'  initial $sdf_annotate("{sdf_file}", {scope});', "endmodule", ""])
