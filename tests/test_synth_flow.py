"""The FPGA flow: a small iCE40 build end to end, its record against nextpnr's own log, and the
command line's errors."""

import json
import re

import pytest

from scripts.synth import SynthConfig, main, parse_report, run_flow


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


def test_small_ice40_build_matches_the_tools_own_log(tmp_path):
    config = SynthConfig(board="icebreaker", format="fxp", n=8, rows=1, cols=1, max_K=8,
                         depth=4)
    record = run_flow(config, seeds=(1,), out=tmp_path, progress=lambda _: None)
    directory = tmp_path / config.resolved().name
    log = (directory / "seed1.log").read_text()
    for name, (used, available) in record["resources"].items():
        line = re.search(rf"{name}:\s+(\d+)/\s*(\d+)", log)
        assert line and (int(line[1]), int(line[2])) == (used, available), name
    logged = [float(f) for f in re.findall(r"Max frequency for clock '[^']+': ([\d.]+) MHz", log)]
    assert logged and abs(logged[-1] - record["fmax_mhz"][0]) < 0.01
    assert record["resources"]["ICESTORM_LC"][0] > 100  # the array and its link are there
    assert record["resources"]["ICESTORM_DSP"][0] == 1  # the one PE, on a DSP
    assert (directory / "top.bin").stat().st_size > 100_000  # an UP5K bitstream
    assert json.loads((directory / "synth.json").read_text())["chosen_seed"] == 1
