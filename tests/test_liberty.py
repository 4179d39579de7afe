"""The Liberty reader on Debian's OSU 0.18 um library: values as the file states them,
interpolation between them, and errors."""

import pytest

from scripts.asic.liberty import OSU018_LIBERTY, load_library


@pytest.fixture(scope="module")
def osu018():
    return load_library(OSU018_LIBERTY)


def test_cells_and_units(osu018):
    assert len(osu018.cells) == 32 and osu018.name == "osu018_stdcells"
    assert osu018.units["leakage_power_unit"] == "1nW" and osu018.units["time_unit"] == "1ns"
    nand = osu018["NAND2X1"]
    assert nand.area == 24 and nand.leakage == pytest.approx(0.0393659)
    assert nand.pins["A"].capacitance == pytest.approx(0.0125)
    assert nand.pins["Y"].function == "(!(A B))" and not nand.sequential
    assert osu018["DFFPOSX1"].sequential and osu018["DFFPOSX1"].pins["CLK"].clock


def test_energy_tables_and_interpolation(osu018):
    arc = next(a for a in osu018["NAND2X1"].arcs if a.related_pin == "A")
    assert arc.rise.variables == ("total_output_net_capacitance", "input_transition_time")
    # the table's own corners (file: first and last values of rise_power related to A)
    assert arc.rise.lookup(total_output_net_capacitance=0.005,
                           input_transition_time=0.06) == pytest.approx(0.044515)
    assert arc.rise.lookup(total_output_net_capacitance=0.15,
                           input_transition_time=1.2) == pytest.approx(0.090902)
    # halfway between two load points at the first slew: the mean of the two entries
    v = arc.rise.values
    mid = arc.rise.lookup(total_output_net_capacitance=(0.005 + 0.0125) / 2,
                          input_transition_time=0.06)
    assert mid == pytest.approx((v[0, 0] + v[1, 0]) / 2)
    clock = next(a for a in osu018["DFFPOSX1"].arcs if a.pin == "CLK")
    assert clock.rise.lookup(input_transition_time=0.06) == pytest.approx(0.006865)
    assert clock.fall.lookup(input_transition_time=1.8) == pytest.approx(0.338194)
    with pytest.raises(ValueError, match="needs input_transition_time"):
        clock.rise.lookup(total_output_net_capacitance=0.01)


def test_errors(tmp_path, osu018):
    with pytest.raises(FileNotFoundError, match="qflow-tech-osu018"):
        load_library(tmp_path / "missing.lib")
    (tmp_path / "bad.lib").write_text("this is not liberty {")
    with pytest.raises(ValueError, match="is not a Liberty library"):
        load_library(tmp_path / "bad.lib")
    with pytest.raises(KeyError, match="cell 'NAND9' is not in library osu018_stdcells"):
        osu018["NAND9"]
