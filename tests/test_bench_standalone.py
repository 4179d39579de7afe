"""The standalone bench's record: which build it measures, what it says of the build's
placement, and its errors (the Verilator runs themselves are make standalone's)."""

import json

from scripts.bench.standalone import build_config, main, markdown, placement


def _record(placements):
    rows = [{"network": "digits ConvNet", "format": spec, "memory_codes": 8000, "fits": True,
             "cycles": 12520, "macs_per_cycle": 6.7, "compute_ms": 0.5,
             "line": {"1000000": {"latency_ms": 1.4, "images_per_s": 703},
                      "3000000": {"latency_ms": 0.8, "images_per_s": 1217}}}
            for spec in ("tfx:8,3", "fxp:8")]
    rows[0]["pipelined"] = {"baud": 3_000_000, "cycles_per_image": 14080,
                            "images_per_s": 1704.6, "ms_per_image": 0.59}
    rows[1]["input_frames"] = 3
    return {"board": "ulx3s-85f", "array": "4x4", "depth": 64, "clock_mhz": 25.0,
            "pll": False, "placements": placements, "simulator": "Verilator", "rows": rows}


def test_the_record_says_what_make_synth_found_for_each_format():
    text = markdown(_record({
        "tfx:8,3": {"fits": True, "meets_clock": True, "fmax_mhz_median": 31.26,
                    "fmax_mhz": [30.0, 31.26, 33.0], "device": "LFE5U-85F"},
        "fxp:8": {"fits": False, "device": "iCE40UP5K"}}))
    assert ("at 25 MHz (the board's clock; tfx:8,3: met, median fmax 31.3 MHz over 3 seeds; "
            "fxp:8: does not fit the iCE40UP5K, so no placement has met it)") in text
    assert "for the ulx3s-85f, 4x4 array" in text
    assert "| 1705 at 3 Mbaud (14,080 cycles) |" in text
    assert "| not pipelined (3 frames an image) |" in text
    assert "`make synth` not run" in markdown(_record({"tfx:8,3": None, "fxp:8": None}))


def test_the_placement_is_read_from_the_synth_record(tmp_path, monkeypatch):
    monkeypatch.setattr("sim.toolchain.BUILD", tmp_path)
    config = build_config("fxp", board="ulx3s-85f", lanes=8)
    assert config.rows == config.cols == 8 and config.name.endswith("-resident")
    assert placement(config) is None
    record = tmp_path / "synth" / config.name / "synth.json"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"fits": True, "meets_clock": False, "fmax_mhz_median": 20.0,
                                  "fmax_mhz": [20.0], "device": "LFE5U-85F"}))
    assert placement(config)["meets_clock"] is False


def test_a_build_that_cannot_be_made_is_a_one_line_error(capsys):
    assert main(["--lanes", "3"]) == 2
    assert ("the resident build needs a square array of side 2, 4 or 8"
            in capsys.readouterr().err)
    assert main(["--board", "nope"]) == 2
    assert "unknown board 'nope'" in capsys.readouterr().err
