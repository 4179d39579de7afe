"""The FPGA flow: a small iCE40 build end to end, its record against nextpnr's own log, and the
command line's errors."""

import json
import re

import pytest

from scripts.fpga.flow import SynthConfig, logged_utilisation, parse_report, run_flow, summary
from scripts.synth import main


def test_unknown_board_lists_the_supported_ones(capsys):
    assert main(["--board", "de0-nano"]) == 2
    err = capsys.readouterr().err
    assert "unknown board 'de0-nano'; supported boards: icebreaker, ulx3s-12f" in err


def test_bad_format_is_an_error(capsys):
    assert main(["--board", "icebreaker", "--n", "8", "--is-max", "9"]) == 2
    assert "IS_max must be an integer from 1 to 7, not 9" in capsys.readouterr().err


def test_report_without_a_clock_is_an_error():
    with pytest.raises(ValueError, match="no fmax entry"):
        parse_report({"utilization": {}, "fmax": {}})


def build_one_pe(tmp_path, board):
    """A 1x1 FXP link built with one seed; its record, checked against nextpnr's own log."""
    config = SynthConfig(board=board, format="fxp", n=8, rows=1, cols=1, max_K=8, depth=4)
    record = run_flow(config, seeds=(1,), out=tmp_path, progress=lambda _: None)
    directory = tmp_path / config.resolved().name
    log = (directory / "seed1.log").read_text()
    for name, (used, available) in record["resources"].items():
        line = re.search(rf"{name}:\s+(\d+)/\s*(\d+)", log)
        assert line and (int(line[1]), int(line[2])) == (used, available), name
    logged = [float(f) for f in re.findall(r"Max frequency for clock '[^']+': ([\d.]+) MHz", log)]
    assert logged and abs(logged[-1] - record["fmax_mhz"][0]) < 0.01
    assert json.loads((directory / "synth.json").read_text())["chosen_seed"] == 1
    assert record["fits"] and record["meets_clock"] == (record["fmax_mhz_median"] >=
                                                        record["clock_mhz"])
    return record, directory


def test_small_ice40_build_matches_the_tools_own_log(tmp_path):
    record, directory = build_one_pe(tmp_path, "icebreaker")
    assert record["resources"]["ICESTORM_LC"][0] > 100  # the array and its link are there
    assert record["resources"]["ICESTORM_DSP"][0] == 1  # the one PE, on a DSP
    assert record["pes"] == record["macs_per_cycle"] == 1
    assert record["peak_mmacs_per_s"] == (record["clock_mhz"] if record["meets_clock"] else None)
    assert (directory / "top.bin").stat().st_size > 100_000  # an UP5K bitstream


def test_two_pes_share_one_split_dsp(tmp_path):
    config = SynthConfig(board="icebreaker", format="fxp", n=8, rows=1, cols=2, max_K=8,
                         depth=4, split_dsp=True)
    record = run_flow(config, seeds=(1,), out=tmp_path, progress=lambda _: None, pack=False)
    assert record["config"]["dsp_pes"] == 2 and record["pes"] == 2
    assert record["resources"]["ICESTORM_DSP"][0] == 1
    assert "split: two per SB_MAC16" in summary(record)
    with pytest.raises(ValueError, match="split DSPs are the iCE40's SB_MAC16 in its 8x8 mode: "
                                         "give them with DSPs on an iCE40 board, not on ulx3s"):
        SynthConfig(board="ulx3s-25f", split_dsp=True).resolved()


def test_a_pll_clock_is_built_and_timed_at_its_frequency(tmp_path):
    config = SynthConfig(board="icebreaker", format="fxp", n=4, rows=1, cols=1, max_K=4,
                         depth=4, clock_mhz=24)
    record = run_flow(config, seeds=(1,), out=tmp_path, progress=lambda _: None, pack=False)
    assert record["clock_mhz"] == 24 and record["board_clock_mhz"] == 12
    assert (record["pll"]["divf"], record["pll"]["divq"]) == (63, 5)
    assert record["resources"]["ICESTORM_PLL"][0] == 1
    report = json.loads((tmp_path / config.resolved().name / "seed1.json").read_text())
    (clock,) = report["fmax"].values()  # one clock: the PLL's
    assert abs(clock["constraint"] - 24) < 0.01
    assert record["config"]["clocks_per_bit"] == round(24e6 / config.baud)
    assert "PLL clock 24 MHz" in summary(record)


def test_small_ecp5_build_matches_the_tools_own_log(tmp_path):
    record, directory = build_one_pe(tmp_path, "ulx3s-25f")
    assert record["device"] == "LFE5U-25F"
    assert record["resources"]["TRELLIS_COMB"][0] > 100
    assert record["resources"]["MULT18X18D"][0] == 1
    assert (directory / "top.bit").stat().st_size > 100_000


def test_a_build_is_reused_only_when_nothing_changed(tmp_path):
    config = SynthConfig(board="icebreaker", format="fxp", n=4, rows=1, cols=1, max_K=4,
                         depth=4)
    lines = []
    first = run_flow(config, seeds=(1,), out=tmp_path, pack=False, progress=lines.append)
    again = run_flow(config, seeds=(1,), out=tmp_path, pack=False, reuse=True,
                     progress=lines.append)
    assert again == json.loads(json.dumps(first)) and lines[-1].endswith("up to date")
    lines.clear()
    run_flow(config, seeds=(1, 2), out=tmp_path, pack=False, reuse=True, progress=lines.append)
    assert any("nextpnr seed 2" in line for line in lines)  # other seeds: built again


def test_a_design_too_large_for_the_device_is_recorded_with_its_demand(tmp_path):
    # 24 PEs without DSPs cannot fit 5,280 UP5K logic cells; the placer says how many it needs.
    config = SynthConfig(board="icebreaker", format="fxp", n=8, rows=4, cols=6, dsp=False,
                         max_K=8, depth=4)
    record = run_flow(config, seeds=(1, 2, 3), out=tmp_path, pack=False,
                      progress=lambda _: None)
    assert record["fits"] is False and record["meets_clock"] is False
    assert len(record["seeds"]) == 1  # packing decides, so other seeds are not tried
    needed, available = record["demand"]["ICESTORM_LC"]
    assert needed > available == 5280
    assert "ICESTORM_LC" in record["seeds"][0]["errors"][0]
    assert re.search(rf"ICESTORM_LC +{needed} needed, 5280 available", summary(record))


def test_utilisation_is_read_from_the_first_table_of_the_log():
    log = ("Info: Device utilisation:\nInfo: \t         ICESTORM_LC:   5586/   5280   105%\n"
           "Info: \t        ICESTORM_DSP:      8/      8   100%\n"
           "Info: Device utilisation:\nInfo: \t         ICESTORM_LC:   5000/   5280    94%\n")
    assert logged_utilisation(log) == {"ICESTORM_LC": (5586, 5280), "ICESTORM_DSP": (8, 8)}


def test_moved_source_lines_do_not_force_a_rebuild(tmp_path):
    from scripts.fpga.flow import _up_to_date
    tools = {"yosys": "Yosys 0.70", "nextpnr": "nextpnr-0.11.1"}
    (tmp_path / "synth.json").write_text(json.dumps({"requested_seeds": [1], "tools": tools}))
    (tmp_path / "top.il").write_text('module \\top\n  attribute \\src "hdl/pe.py:10"\n  wire \\a\n')
    moved = {"top.il": 'module \\top\n  attribute \\src "hdl/pe.py:12"\n  wire \\a\n'}
    assert _up_to_date(tmp_path, moved, (1,), tools) is not None
    changed = {"top.il": 'module \\top\n  attribute \\src "hdl/pe.py:10"\n  wire \\b\n'}
    assert _up_to_date(tmp_path, changed, (1,), tools) is None
    assert _up_to_date(tmp_path, moved, (1, 2), tools) is None
    assert _up_to_date(tmp_path, moved, (1,), {**tools, "yosys": "Yosys 0.71"}) is None
