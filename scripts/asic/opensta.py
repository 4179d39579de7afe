"""Cross-check of the energy model with Debian's OpenSTA (``sta``, a 2019 build), vectorless.

This OpenSTA cannot read switching activity; ``set_power_activity -global -activity A``
is all it takes. On tiny circuits (``tests/test_opensta.py``) it reads ``A`` as transitions
per clock period on flip-flop outputs (and propagates it through the gates they drive by its
own probabilistic model) but as transitions per second on input ports, so the ports are
effectively quiet; the clock is two transitions per period and its net, driven by a port,
is charged to no one. :func:`scripts.energy.uniform_toggles` makes the same assumptions but
puts ``A`` on every net a cell drives, where OpenSTA propagates: the sequential group compares
like with like, the combinational group shows what the propagation models make of it.
"""

import re
import subprocess
import tempfile
from pathlib import Path

from scripts.records import markdown_table
from sim.toolchain import ROOT, run_yosys, system_tool
from .energy import Conditions, load_gate_netlist, net_energy, uniform_toggles
from .liberty import OSU018_LIBERTY

__all__ = ["opensta_power", "model_power", "cross_check", "sta_verilog"]

GROUPS = ("Sequential", "Combinational", "Total")


def opensta_power(verilog, top, liberty, *, activity, conditions=Conditions()):
    """OpenSTA's ``report_power`` groups (W): {group: {internal, switching, leakage, total}}."""
    period = 1e3 / conditions.clock_mhz
    script = "\n".join([
        f"read_liberty {liberty}", f"read_verilog {verilog}", f"link_design {top}",
        f"create_clock -name clk -period {period} [get_ports clk]",
        f"set_input_transition {conditions.input_slew_ns} [all_inputs]",
        f"set_load {conditions.output_load_pf} [all_outputs]",
        f"set_power_activity -global -activity {activity} -duty 0.5",
        "report_power -digits 10", "exit", ""])
    with tempfile.TemporaryDirectory() as directory:
        tcl = Path(directory) / "power.tcl"
        tcl.write_text(script)
        result = subprocess.run([system_tool("sta", "opensta"), "-no_splash", "-exit", str(tcl)],
                                capture_output=True, text=True, timeout=1800)
    text = result.stdout + result.stderr
    groups = {}
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] in GROUPS and len(fields) >= 5:
            internal, switching, leakage, total = (float(x) for x in fields[1:5])
            groups[fields[0].lower()] = {"internal": internal, "switching": switching,
                                         "leakage": leakage, "total": total}
    if result.returncode != 0 or "total" not in groups or re.search(r"^Error", text, re.M):
        raise RuntimeError(f"OpenSTA failed on {verilog}:\n{text[-2000:]}")
    return groups


def sta_verilog(directory, liberty):
    """The mapped netlist ``directory/netlist.v`` rewritten by Yosys for this OpenSTA, whose
    Verilog reader refuses a concatenation on the left of an ``assign`` (Yosys writes one
    where a module's output bits come straight from its inputs or constants, as in an
    unsigned variant's decoder): the same cells and nets, every assignment one net wide.
    Written once beside the netlist, as ``netlist-sta.v``."""
    target = Path(directory) / "netlist-sta.v"
    if not target.exists():
        partial = target.with_suffix(".partial")
        run_yosys(cwd=directory, what="Yosys (netlist for OpenSTA)",
                  script=f"read_liberty -lib {liberty}; read_verilog netlist.v; "
                         f"write_verilog -noattr -simple-lhs {partial.name}")
        partial.replace(target)
    return target


def model_power(netlist, library, *, activity, conditions=Conditions(), cycles=1000):
    """The energy model's vectorless power (W) with OpenSTA's grouping."""
    toggles = uniform_toggles(netlist, library, activity=activity, cycles=cycles)
    estimate = net_energy(netlist, library, toggles, cycles=cycles, conditions=conditions,
                          classify=lambda path, sequential:
                          "sequential" if sequential else "combinational")
    seconds = cycles / (conditions.clock_mhz * 1e6)
    groups = {}
    for group in ("sequential", "combinational"):
        entry = estimate["blocks"][group]
        groups[group] = {kind: entry[kind] * 1e-12 / seconds
                         for kind in ("internal", "switching", "leakage")}
        groups[group]["total"] = sum(groups[group].values())
    groups["total"] = {kind: sum(groups[g][kind] for g in ("sequential", "combinational"))
                       for kind in ("internal", "switching", "leakage", "total")}
    clock = estimate["blocks"]["clock"]["switching"] * 1e-12 / seconds
    return groups, clock


def cross_check(entries, library, conditions=Conditions(), liberty=OSU018_LIBERTY):
    """Both figures and their ratio for each entry's netlist, at the entry's measured mean
    activity (transitions per cycle over the nets cells drive)."""
    results = []
    for entry in entries:
        blocks = entry["energy"]["blocks"]
        driven = [b for b in blocks if b not in ("clock", "inputs")]
        toggles = sum(blocks[b]["toggles"] for b in driven)
        nets = sum(blocks[b]["nets"] for b in driven)
        activity = toggles / (nets * entry["simulated_cycles"])
        directory = ROOT / entry["netlist"]
        netlist = load_gate_netlist(directory / "netlist.json", "accelerator")
        ours, clock = model_power(netlist, library, activity=activity, conditions=conditions)
        sta = opensta_power(sta_verilog(directory, liberty), "accelerator", liberty,
                            activity=activity, conditions=conditions)
        results.append({"design": entry["design"], "n": entry["n"], "activity": activity,
                        "model_w": ours, "model_clock_net_w": clock, "opensta_w": sta,
                        "ratio": {g: ours[g]["total"] / sta[g]["total"] for g in ours}})
    lines = ["Vectorless, same mean activity (measured on the layer workload) on both sides, "
             f"{conditions.clock_mhz} MHz; mW. OpenSTA charges nothing for the clock net "
             "(driven by a port); the model's figure for it is shown apart.", ""]
    rows = []
    for r in results:
        name = f"{r['design'].upper()}{r['n']}"
        rows += [(name, f"{r['activity']:.3f}", group,
                  f"{r['model_w'][group]['total'] * 1e3:.2f}",
                  f"{r['opensta_w'][group]['total'] * 1e3:.2f}", f"{r['ratio'][group]:.3f}")
                 for group in ("sequential", "combinational", "total")]
        rows.append((name, "", "clock net (model only)", f"{r['model_clock_net_w'] * 1e3:.2f}",
                     "—", "—"))
    lines += markdown_table(["design", "activity", "group", "model mW", "OpenSTA mW",
                             "model / OpenSTA"], rows)
    return {"results": results, "text": "\n".join(lines)}
