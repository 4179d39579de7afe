"""The FPGA block breakdown: hierarchy sums on a hand-made Yosys stat, and one real build."""

import json

import pytest

from scripts.fpga.blocks import CELL_KINDS, block_rows, hierarchy_totals
from scripts.synth_blocks import main

KINDS = CELL_KINDS["ice40"]


def stat():
    # link holds an array (twice a PE under its core) and an executor.
    return {
        "\\link": {"num_cells_by_type": {"SB_LUT4": 5, "link.array": 1, "link.executor": 1}},
        "\\link.array": {"num_cells_by_type": {"SB_DFFE": 3, "link.array.core": 1}},
        "\\link.array.core": {"num_cells_by_type": {"SB_LUT4": 1, "link.array.core.pe_0_0": 2}},
        "\\link.array.core.pe_0_0": {"num_cells_by_type": {"SB_LUT4": 10, "SB_DFFESR": 4,
                                                           "SB_MAC16": 1}},
        "\\link.executor": {"num_cells_by_type": {"SB_LUT4": 7, "SB_CARRY": 2,
                                                  "$scopeinfo": 3}},
    }


def test_hierarchy_totals_count_every_instance_below():
    totals = hierarchy_totals(stat(), KINDS)
    assert totals["array.core"] == {"LUT4": 21, "FF": 8, "carry": 0, "RAM": 0, "DSP": 2}
    assert totals[""]["LUT4"] == 5 + 21 + 7 and totals[""]["FF"] == 3 + 8


def test_a_block_owns_what_no_listed_block_below_it_owns():
    rows = {row["block"]: row for row in block_rows(hierarchy_totals(stat(), KINDS), KINDS)}
    assert rows["array.core"]["LUT4"] == 21
    assert rows["array"]["LUT4"] == 0 and rows["array"]["FF"] == 3
    assert rows["(top)"]["LUT4"] == 5 and rows["executor"]["carry"] == 2
    assert sum(row["LUT4"] for row in rows.values()) == 33
    assert rows["array.core"]["share"]["LUT4"] == pytest.approx(21 / 33)


@pytest.mark.flow
@pytest.mark.sim
def test_a_build_is_broken_down_into_blocks_that_add_up(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sim.toolchain.BUILD", tmp_path)
    assert main(["--format", "fxp", "--n", "4", "--rows", "1", "--cols", "2",
                 "--max-k", "4"]) == 0
    assert "| `array.core` |" in capsys.readouterr().out
    record = json.loads(next(tmp_path.glob("synth/*/blocks.json")).read_text())
    blocks = {row["block"]: row for row in record["blocks"]}
    for kind in KINDS:
        assert sum(row[kind] for row in blocks.values()) == record["total"][kind]
    assert blocks["array.core"]["DSP"] == 1  # two PEs on one split SB_MAC16
    assert blocks["array.buffer"]["RAM"] >= 1 and blocks["executor"]["LUT4"] > 100


@pytest.mark.flow
@pytest.mark.sim
def test_the_resident_build_is_broken_down_into_its_own_blocks(tmp_path, monkeypatch, capsys):
    """MODE=resident breaks down the resident device, not the coprocessor's host link."""
    monkeypatch.setattr("sim.toolchain.BUILD", tmp_path)
    assert main(["--format", "fxp", "--n", "4", "--rows", "2", "--cols", "2", "--max-k", "8",
                 "--mode", "resident"]) == 0
    out = capsys.readouterr().out
    assert "resident device" in out and "| `engine.core.elementwise` |" in out
    record = json.loads(next(tmp_path.glob("synth/*-resident/blocks.json")).read_text())
    blocks = {row["block"]: row for row in record["blocks"]}
    assert "executor" not in blocks and record["config"]["mode"] == "resident"
    for kind in KINDS:
        assert sum(row[kind] for row in blocks.values()) == record["total"][kind]
    assert blocks["engine.memory"]["RAM"] == 4  # the four SPRAMs
    assert blocks["engine.core.matmul.schedule.vectors"]["LUT4"] > 100


def test_bad_arguments_are_one_line_errors(capsys):
    assert main(["--board", "nope"]) == 2
    assert "unknown board 'nope'" in capsys.readouterr().err
    assert main(["--max-k", "0"]) == 2
    assert "--max-k must be an integer from 1 to 1048576, not 0" in capsys.readouterr().err


def test_both_flows_ask_yosys_for_dsps_the_way_each_family_takes_it():
    from scripts.fpga.flow import synth_options
    assert (synth_options("ice40", True), synth_options("ice40", False)) == ("-dsp", "")
    assert (synth_options("ecp5", True), synth_options("ecp5", False)) == ("", "-nodsp")
