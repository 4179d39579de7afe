"""The FPGA flow: a small iCE40 build end to end, its record against nextpnr's own log, and the
command line's errors."""

import json
import re

import pytest

from amaranth.back import verilog
from amaranth.hdl import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from scripts.designs import dsp_blocks_bound, scaling_on_dsps
from scripts.fpga.flow import SynthConfig, logged_utilisation, parse_report, run_flow, summary
from scripts.synth import main
from sim.toolchain import run_yosys


def test_unknown_board_lists_the_supported_ones(capsys):
    assert main(["--board", "de0-nano"]) == 2
    err = capsys.readouterr().err
    assert "unknown board 'de0-nano'; supported boards: icebreaker, ulx3s-12f" in err


def test_bad_format_is_an_error(capsys):
    assert main(["--board", "icebreaker", "--n", "8", "--is-max", "9"]) == 2
    assert "IS_max must be an integer from 1 to 7, not 9" in capsys.readouterr().err


@pytest.mark.parametrize(("spec", "message"), [
    ("posit:8,0", "the FPGA flow builds posit:8,1 at n = 8 for posit (+u: with its unsigned "
                  "variants), not posit:8,0"),
    ("tfx:8,3,2+u", "the FPGA flow builds TFX with IS from 1 to IS_max (tfx:N,IS_MAX, +u: "
                    "with its unsigned variants), not tfx:8,3,2+u"),
    ("tfx:8", "Family spec must be 'tfx:N,IS_MAX[,IS_MIN]'"),
])
def test_a_family_the_flow_does_not_build_is_an_error(capsys, spec, message):
    assert main(["--board", "icebreaker", "--family", spec]) == 2
    assert message in capsys.readouterr().err


def test_unsigned_and_block_scaled_builds_are_named_and_checked():
    from scripts.synth import build_config, build_parser
    config = lambda *argv: build_config(build_parser("", "").parse_args(list(argv)))
    built = config("--family", "fxp:8+u", "--rows", "4", "--cols", "3", "--mx-block", "32")
    assert built.family.label == "FXP8+U" and built.form == "ses"  # 8-bit magnitudes
    assert built.name == "icebreaker-fxp8u-ses-4x3-dsp-split-24mhz-mx32"
    with pytest.raises(ValueError, match="the resident build does not run block-scaled"):
        config("--mode", "resident", "--rows", "4", "--cols", "4", "--mx-block", "32")
    with pytest.raises(ValueError, match="the resident build does not run unsigned activations "
                                         "yet; build \\+u for the coprocessor"):
        config("--mode", "resident", "--rows", "4", "--cols", "4", "--family", "tfx:8,3+u")


def test_a_family_spec_says_what_format_n_and_is_max_say():
    from scripts.synth import build_config, build_parser
    config = lambda *argv: build_config(build_parser("", "").parse_args(list(argv)))
    assert config("--family", "tfx:6,3") == config("--format", "tfx", "--n", "6",
                                                   "--is-max", "3")
    assert config("--family", "fxp:8").name == config("--format", "fxp").name
    assert config("--family", "fp:8,4").family == config("--format", "fp").family


def test_report_without_a_clock_is_an_error():
    with pytest.raises(ValueError, match="no fmax entry"):
        parse_report({"utilization": {}, "fmax": {}})


def test_the_packers_constant_net_is_not_the_clock():
    # What nextpnr-ice40 reports for a build whose scaling multiply is an inferred SB_MAC16:
    # the constant net on the block's unused clock pin sorts before the design's clock.
    report = {"utilization": {"ICESTORM_DSP": {"used": 3, "available": 8}}, "fmax": {
        "$PACKER_GND_NET_$glb_clk": {"achieved": 263.16, "constraint": 12},
        "clk": {"achieved": 33.10, "constraint": 24.0015}}}
    assert parse_report(report) == ({"ICESTORM_DSP": (3, 8)}, (33.10, 24.0015))
    report["fmax"]["other"] = {"achieved": 50.0, "constraint": 12}
    with pytest.raises(ValueError, match=r"2 clocks \(clk, other\); name the one"):
        parse_report(report)
    assert parse_report(report, "other")[1] == (50.0, 12)


def build_one_pe(tmp_path, board):
    """A 1x1 FXP link built with one seed; its record, checked against nextpnr's own log."""
    config = SynthConfig(board=board, format="fxp", n=8, rows=1, cols=1, max_K=8, depth=4)
    record = run_flow(config, seeds=(1,), out=tmp_path, progress=lambda _: None)
    directory = tmp_path / config.resolved().name
    log = (directory / "seed1.log").read_text()
    for name, (used, available) in record["resources"].items():
        line = re.search(rf"{name}:\s+(\d+)/\s*(\d+)", log)
        assert line and (int(line[1]), int(line[2])) == (used, available), name
    logged = [float(f) for f in re.findall(r"Max frequency for clock +'(?!\$PACKER)[^']+': "
                                           r"([\d.]+) MHz", log)]
    assert logged and abs(logged[-1] - record["fmax_mhz"][0]) < 0.01
    assert json.loads((directory / "synth.json").read_text())["chosen_seed"] == 1
    assert record["fits"] and record["meets_clock"] == (record["fmax_mhz_median"] >=
                                                        record["clock_mhz"])
    return record, directory


@pytest.mark.flow
def test_small_ice40_build_matches_the_tools_own_log(tmp_path):
    record, directory = build_one_pe(tmp_path, "icebreaker")
    assert record["resources"]["ICESTORM_LC"][0] > 100  # the array and its link are there
    # the one PE on a DSP, and the scaling stage's multiply by M on those it leaves
    assert record["config"]["scaling_dsps"] and "scaling on DSPs" in summary(record)
    assert 1 < record["resources"]["ICESTORM_DSP"][0] <= 1 + dsp_blocks_bound(25, 8, 16)
    assert record["pes"] == record["macs_per_cycle"] == 1
    assert record["peak_mmacs_per_s"] == (record["clock_mhz"] if record["meets_clock"] else None)
    assert (directory / "top.bin").stat().st_size > 100_000  # an UP5K bitstream


@pytest.mark.flow
def test_two_pes_share_one_split_dsp(tmp_path):
    config = SynthConfig(board="icebreaker", format="fxp", n=8, rows=1, cols=2, max_K=8,
                         depth=4, split_dsp=True)
    record = run_flow(config, seeds=(1,), out=tmp_path, progress=lambda _: None, pack=False)
    assert record["config"]["dsp_pes"] == 2 and record["pes"] == 2
    yosys_dsps = record["yosys_cells"]["SB_MAC16"]
    assert record["resources"]["ICESTORM_DSP"][0] == yosys_dsps
    assert 1 < yosys_dsps <= 1 + dsp_blocks_bound(25, 8, 16)  # one for both PEs, the rest M's
    assert "split: two per SB_MAC16" in summary(record)
    with pytest.raises(ValueError, match="split DSPs are the iCE40's SB_MAC16 in its 8x8 mode: "
                                         "give them with DSPs on an iCE40 board, not on ulx3s"):
        SynthConfig(board="ulx3s-25f", split_dsp=True).resolved()


@pytest.mark.flow
def test_a_pll_clock_is_built_and_timed_at_its_frequency(tmp_path):
    config = SynthConfig(board="icebreaker", format="fxp", n=4, rows=1, cols=1, max_K=4,
                         depth=4, clock_mhz=24)
    record = run_flow(config, seeds=(1,), out=tmp_path, progress=lambda _: None, pack=False)
    assert record["clock_mhz"] == 24 and record["board_clock_mhz"] == 12
    assert (record["pll"]["divf"], record["pll"]["divq"]) == (63, 5)
    assert record["resources"]["ICESTORM_PLL"][0] == 1
    report = json.loads((tmp_path / config.resolved().name / "seed1.json").read_text())
    _, (fmax, constraint) = parse_report(report)  # one clock: the PLL's
    assert abs(constraint - 24) < 0.01 and fmax == record["fmax_mhz"][0]
    assert record["config"]["clocks_per_bit"] == round(24e6 / config.baud)
    assert "PLL clock 24 MHz" in summary(record)


@pytest.mark.flow
def test_small_ecp5_build_matches_the_tools_own_log(tmp_path):
    record, directory = build_one_pe(tmp_path, "ulx3s-25f")
    assert record["device"] == "LFE5U-25F"
    assert record["resources"]["TRELLIS_COMB"][0] > 100
    assert 1 < record["resources"]["MULT18X18D"][0] <= 1 + dsp_blocks_bound(25, 8, 18)
    assert (directory / "top.bit").stat().st_size > 100_000


@pytest.mark.flow
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


@pytest.mark.flow
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


class _Product(wiring.Component):
    """A registered signed x unsigned product, as the scaling stage's multiply by M."""

    def __init__(self, a_bits, b_bits):
        self._width = a_bits + b_bits + 1
        super().__init__({"a": In(signed(a_bits)), "b": In(b_bits),
                          "p": Out(signed(self._width))})

    def elaborate(self, platform):
        m = Module()
        product = Signal(signed(self._width))
        m.d.sync += product.eq(self.a * self.b)
        m.d.comb += self.p.eq(product)
        return m


@pytest.mark.flow
@pytest.mark.parametrize("script,cell,block_bits", [
    ("synth_ice40 -dsp", "SB_MAC16", 16), ("synth_ecp5", "MULT18X18D", 18)])
def test_yosys_maps_a_product_to_no_more_dsps_than_the_bound(tmp_path, script, cell,
                                                             block_bits):
    # 45 x 8 bits takes three blocks in both families: a bound of wider blocks would fail.
    for a_bits in (17, 25, 29, 37, 45):
        (tmp_path / "p.v").write_text(verilog.convert(_Product(a_bits, 8), name="p"))
        run_yosys(cwd=tmp_path, script=f"read_verilog -sv p.v; {script} -top p; "
                  "tee -q -o stat.json stat -json", what="Yosys")
        cells = json.loads((tmp_path / "stat.json").read_text())["design"]["num_cells_by_type"]
        assert 1 <= cells.get(cell, 0) <= dsp_blocks_bound(a_bits, 8, block_bits), a_bits
    assert dsp_blocks_bound(45, 8, block_bits) == 3


def test_the_scaling_stage_gets_the_dsps_the_pes_leave():
    # iCEBreaker, 8 SB_MAC16s; a 29-bit accumulator times an 8-bit M needs at most 2 of them.
    fits = dict(dsps=8, block_bits=16, acc_bits=29, m_bits=8, stages=1)
    assert scaling_on_dsps(pes_on_dsps=12, split=True, **fits)  # 6 blocks for PEs, 2 left
    assert not scaling_on_dsps(pes_on_dsps=13, split=True, **fits)  # 7 for PEs
    assert not scaling_on_dsps(pes_on_dsps=7, **fits)  # whole blocks: 1 left
    assert not scaling_on_dsps(pes_on_dsps=2, split=True, **{**fits, "stages": 4})
    # the same policy for both formats: the default TFX array leaves DSPs, FXP's does not
    assert SynthConfig(format="tfx").resolved().scaling_dsps
    assert not SynthConfig(format="fxp").resolved().scaling_dsps
    assert not SynthConfig(format="tfx", dsp=False).resolved().scaling_dsps


def test_the_resident_mode_is_refused_where_it_cannot_be_built():
    with pytest.raises(ValueError, match="the resident build needs a square array of side 2, "
                                         "4 or 8 \\(its code memory's words\\), not 3x3"):
        SynthConfig(mode="resident", rows=3, cols=3).resolved()
    with pytest.raises(ValueError, match="mode must be one of coprocessor, resident, not "
                                         "'standalone'"):
        SynthConfig(mode="standalone").resolved()
    config = SynthConfig(mode="resident", format="fxp", rows=2, cols=2).resolved()
    assert config.name.endswith("-resident")


def test_the_resident_code_memory_is_the_spram_on_an_ice40_and_block_ram_on_an_ecp5():
    from scripts.fpga.flow import resident_device
    for board, kind in (("icebreaker", "spram"), ("ulx3s-85f", "behavioural")):
        config = SynthConfig(board=board, mode="resident", format="fxp", rows=4,
                             cols=4).resolved()
        assert resident_device(config)._engine._memory_kind == kind
