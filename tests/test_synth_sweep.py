"""The FPGA sweep's bookkeeping: search order, the largest shape, TFX-vs-FXP rows and tables,
on hand-made flow records (the builds themselves are `make synth-sweep`)."""

import pytest

from scripts.fpga.sweep import (SHAPES, WIDTHS, largest, markdown, search_ends, search_order,
                                width_rows)
from scripts.synth_sweep import main


def record(fmt, rows, cols, *, n=8, dsp=True, logic=1000, fmax=13.0, fits=True,
           tool_error=None):
    resources = {"ICESTORM_LC": (logic, 5280), "ICESTORM_DSP": (min(rows * cols, 8) if dsp else 0, 8),
                 "ICESTORM_RAM": (4, 30)} if fits else None
    return {"config": {"format": fmt, "form": "int", "n": n, "rows": rows, "cols": cols,
                       "dsp": dsp,
                       "dsp_pes": min(rows * cols, 8) if dsp else 0},
            "resources": resources, "fmax_mhz_median": fmax if fits else None,
            "meets_clock": bool(fits) and fmax >= 12, "tool_error": tool_error,
            "demand": None if fits or tool_error else {"ICESTORM_LC": (logic, 5280)}}


ASSERTION = "ERROR: Assertion failed: ABC_OPS_REINTEGRATE"


def test_shapes_are_searched_by_pe_count():
    groups = search_order()
    counts = [group[0][0] * group[0][1] for group in groups]
    assert counts == sorted(set(counts)) and counts[0] == 4
    assert [(2, 3), (3, 2)] in groups
    assert sum(len(group) for group in groups) == len(SHAPES)


def test_largest_counts_only_what_fits_and_meets_the_clock():
    records = [record("tfx", 2, 2), record("tfx", 2, 3), record("tfx", 3, 2, fmax=11.5),
               record("tfx", 3, 3, fits=False, logic=5586)]
    assert largest(records) == [(2, 3)]
    records.append(record("tfx", 3, 2))
    assert largest(records) == [(2, 3), (3, 2)]
    assert largest([record("fxp", 2, 2, fits=False)]) == []


def test_width_rows_pair_tfx_with_fxp_and_keep_the_demand_of_what_did_not_fit():
    records = [record("tfx", 2, 2, logic=4000, fmax=13.5), record("fxp", 2, 2, logic=3200),
               record("tfx", 2, 2, dsp=False, logic=5600, fits=False),
               record("fxp", 2, 2, dsp=False, logic=4000, fmax=12.5)]
    rows = width_rows(records, "ice40")
    assert [(r["n"], r["dsp"]) for r in rows] == [(8, True), (8, False)]
    assert rows[0]["logic_ratio"] == 4000 / 3200 and rows[0]["fmax_ratio"] == 13.5 / 13.0
    assert rows[1]["tfx"]["fits"] is False and rows[1]["logic_ratio"] == 5600 / 4000
    assert "fmax_ratio" not in rows[1]
    text = markdown({"family": "ice40", "clock_mhz": 12.0, "board": "icebreaker",
                     "device": "iCE40UP5K", "seeds": [1], "tools": "Yosys", "max_K": 256,
                     "depth": 64, "width_size": [2, 2], "widths": rows,
                     "sizes": {"tfx": [], "fxp": []}, "largest": {"tfx": [], "fxp": []}})
    assert "| 8 | 3 | yes | 4,000 | 3,200 | 1.25 | 4 | 4 | 13.50 | 13.00 | 1.04 |" in text
    assert "| 8 | 3 | no | 5,600* | 4,000 | 1.40 | – | 0 | – | 12.50 | – |" in text
    assert "Largest TFX array: none." in text


def test_every_format_joins_the_width_rows_against_fxp():
    records = [record("tfx", 2, 2, logic=4000), record("fxp", 2, 2, logic=3200),
               record("posit", 2, 2, logic=4800, fmax=12.5),
               record("fp", 2, 2, logic=6000, fits=False)]
    row, = width_rows(records, "ice40")
    assert row["logic_vs_fxp"] == {"tfx": 4000 / 3200, "fxp": 1.0, "posit": 1.5,
                                   "fp": 6000 / 3200}
    assert row["fp"]["fits"] is False
    base = {"family": "ice40", "clock_mhz": 12.0, "board": "icebreaker",
            "device": "iCE40UP5K", "seeds": [1], "tools": "Yosys", "max_K": 256, "depth": 64,
            "width_size": [2, 2], "sizes": {"tfx": [], "fxp": []},
            "largest": {"tfx": [], "fxp": []}}
    text = markdown({**base, "widths": [row]})
    assert "| n | DSPs | TFX logic | FXP logic | POSIT logic | FP logic | TFX fmax |" in text
    assert ("| 8 | yes | 4,000 (1.25) | 3,200 | 4,800 (1.50) | 6,000* (1.88) | 13.00 | 13.00 "
            "| 12.50 | – |") in text
    plain, = width_rows(records[:2], "ice40")
    assert "Every format" not in markdown({**base, "widths": [plain]})
    unsearched = markdown({**base, "widths": [plain], "searched": False})
    assert "The largest-array search was not run (`--no-search`)." in unsearched
    assert "Largest TFX array" not in unsearched and "## Array sizes" not in unsearched


def test_widths_cover_the_issue():
    assert [n for n, _ in WIDTHS] == [4, 5, 6, 8]


def test_bad_arguments_are_errors(capsys):
    assert main(["--board", "nope"]) == 2
    assert "unknown board 'nope'" in capsys.readouterr().err
    assert main(["--seeds", "0"]) == 2
    assert "--seeds and --jobs must be at least 1, not 0" in capsys.readouterr().err
    assert main(["--clock-mhz", "300"]) == 2
    assert "the iCE40 PLL makes 16 to 275 MHz, not 300 MHz" in capsys.readouterr().err


def test_the_sweep_builds_in_the_boards_style():
    from scripts.fpga.sweep import _config
    split = _config("icebreaker", "tfx", 8, 3, (2, 2), True)
    assert (split.split_dsp, split.form, split.clock_mhz) == (True, "ses", 24)
    fabric = _config("icebreaker", "tfx", 8, 3, (2, 2), False)
    assert (fabric.split_dsp, fabric.form, fabric.clock_mhz) == (False, "int", 24)
    assert _config("icebreaker", "tfx", 5, 2, (2, 2), True).form == "int"  # 8-bit factors
    assert _config("icebreaker", "fxp", 8, 3, (2, 2), True, clock_mhz=0).clock_mhz == 0
    for fmt in ("posit", "fp"):  # the ses form: the int form's factors are too wide
        other = _config("icebreaker", fmt, 8, 3, (2, 2), True)
        assert (other.split_dsp, other.form) == (True, "ses")
    ecp5 = _config("ulx3s-85f", "tfx", 8, 3, (2, 2), True)
    assert (ecp5.split_dsp, ecp5.form, ecp5.clock_mhz) == (False, "int", 0)


def test_the_search_ends_only_where_nothing_fits():
    assert not search_ends([record("tfx", 2, 2, fmax=11.0)])  # fits, misses the clock
    assert not search_ends([record("tfx", 2, 3, fits=False), record("tfx", 3, 2)])
    assert search_ends([record("tfx", 3, 3, fits=False, logic=5891)])
    # a tool failing on a shape says nothing about whether it fits: the search goes on
    assert not search_ends([record("fxp", 2, 3, fits=None, tool_error=ASSERTION),
                            record("fxp", 3, 2, fits=False)])


def test_a_tool_failure_is_shown_and_named_not_counted():
    failed = record("fxp", 2, 3, fits=None, tool_error=ASSERTION)
    assert largest([record("fxp", 2, 2), failed]) == [(2, 2)]
    from scripts.fpga.sweep import size_entries
    text = markdown({"family": "ice40", "clock_mhz": 12.0, "board": "icebreaker",
                     "device": "iCE40UP5K", "seeds": [1], "tools": "Yosys", "max_K": 256,
                     "depth": 64, "width_size": [2, 2], "widths": [],
                     "sizes": {"tfx": [], "fxp": size_entries([failed], "ice40")},
                     "largest": {"tfx": [], "fxp": []}})
    assert "| FXP int | 2x3 | 6 | 6 | tool failed† | – | – | – | no |" in text
    assert f"† Yosys failed on these builds (recorded, not counted as fitting or not): " \
           f"`FXP 2x3: {ASSERTION}`." in text


@pytest.mark.flow
def test_a_yosys_failure_is_recorded_when_asked(tmp_path, monkeypatch):
    from scripts.fpga import flow

    def failing_yosys(**_):
        raise RuntimeError("Yosys (x) failed with exit status 1 (log: top.rpt):\n"
                           f"some output\n{ASSERTION}\nmore")

    monkeypatch.setattr(flow, "run_yosys", failing_yosys)
    config = flow.SynthConfig(format="fxp", rows=1, cols=1, max_K=4, depth=4)
    import pytest
    with pytest.raises(RuntimeError, match="exit status 1"):
        flow.run_flow(config, seeds=(1,), out=tmp_path, progress=lambda _: None)
    result = flow.run_flow(config, seeds=(1,), out=tmp_path, progress=lambda _: None,
                           record_tool_failure=True)
    assert result["tool_error"] == ASSERTION and result["fits"] is None
    assert result["seeds"] == [] and result["meets_clock"] is False
    assert f"Yosys failed: {ASSERTION}" in flow.summary(result)


def test_the_builds_run_after_the_searches_that_make_them_and_come_back_in_order(monkeypatch):
    import scripts.fpga.sweep as sweep

    calls = []
    monkeypatch.setattr(sweep, "_search", lambda board, fmt, *rest: calls.append(fmt) or [fmt])
    monkeypatch.setattr(sweep, "_build", lambda config, seeds: calls.append(config) or config)
    configs = [sweep._config("icebreaker", fmt, n, 3, shape, True)
               for n, shape in ((5, (2, 2)), (8, (2, 2)), (8, (3, 3))) for fmt in ("tfx", "fxp")]
    shared = configs[2:4]
    sizes, widths = sweep._run_builds("icebreaker", (1,), configs, shared, True, None, 1, None)
    assert widths == configs and sizes == {fmt: [fmt] for fmt in sweep.FORMATS}
    assert calls == [*sweep.FORMATS, *configs[:2], *configs[4:], *shared]
    calls.clear()
    sizes, widths = sweep._run_builds("icebreaker", (1,), configs, shared, False, None, 1, None)
    assert widths == configs and sizes == {fmt: [] for fmt in sweep.FORMATS}
