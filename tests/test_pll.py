"""The iCE40 PLL's settings: the known ones, every output within the chip's rules, and clear
errors for frequencies it cannot make."""

import pytest

from hdl.pll import OUTPUT_MHZ, ice40_pll_settings
from scripts.fpga.flow import SynthConfig


@pytest.mark.parametrize("mhz,settings", [
    # For a 12 MHz reference: exact outputs, each with its one legal setting.
    (24, (0, 63, 5, 1)), (48, (0, 63, 4, 1)), (30, (0, 79, 5, 1)), (36, (0, 47, 4, 1)),
])
def test_known_settings(mhz, settings):
    pll = ice40_pll_settings(12e6, mhz * 1e6)
    assert (pll.divr, pll.divf, pll.divq, pll.filter_range) == settings
    assert pll.output_hz == mhz * 1e6


@pytest.mark.parametrize("mhz", [16, 19.7, 24, 25.125, 33.3, 100, 270])
def test_every_setting_keeps_the_chips_rules(mhz):
    pll = ice40_pll_settings(12e6, mhz * 1e6)
    pfd = 12e6 / (pll.divr + 1)
    vco = pfd * (pll.divf + 1)
    assert 10e6 <= pfd <= 133e6 and 533e6 <= vco <= 1066e6 and 1 <= pll.divq <= 6
    assert pll.output_hz == vco / 2 ** pll.divq
    assert abs(pll.output_hz - mhz * 1e6) <= 0.01 * mhz * 1e6


@pytest.mark.parametrize("mhz", [15.9, 276, 1000])
def test_a_frequency_out_of_reach_is_refused(mhz):
    with pytest.raises(ValueError, match=f"the iCE40 PLL makes {OUTPUT_MHZ[0]} to "
                                         f"{OUTPUT_MHZ[1]} MHz, not {mhz:g} MHz"):
        ice40_pll_settings(12e6, mhz * 1e6)


def test_the_build_config_checks_its_clock():
    assert SynthConfig(clock_mhz=24).resolved().pll.output_hz == 24e6
    assert SynthConfig(clock_mhz=0).resolved().pll is None
    with pytest.raises(ValueError, match="a PLL clock is built for iCE40 boards only"):
        SynthConfig(board="ulx3s-25f", clock_mhz=24).resolved()
    with pytest.raises(ValueError, match="clock_mhz must be a number of MHz"):
        SynthConfig(clock_mhz=-3).resolved()
    with pytest.raises(ValueError, match="makes 16 to 275 MHz, not 300 MHz"):
        SynthConfig(clock_mhz=300).resolved()


def test_builds_take_the_boards_style_unless_told():
    icebreaker = SynthConfig().resolved()
    assert (icebreaker.clock_mhz, icebreaker.split_dsp, icebreaker.form) == (24, True, "ses")
    # make synth-sweep's largest arrays at 24 MHz, split DSPs, n = 8 (the README's table)
    assert (icebreaker.rows, icebreaker.cols) == (3, 3)
    assert (SynthConfig(format="fxp").resolved().rows, SynthConfig(format="fxp").resolved().cols) \
        == (4, 4)
    assert SynthConfig(format="fxp").resolved().form == "int"
    assert SynthConfig(dsp=False).resolved().split_dsp is False
    assert SynthConfig(split_dsp=False).resolved().form == "int"
    ulx3s = SynthConfig(board="ulx3s-25f").resolved()
    assert (ulx3s.clock_mhz, ulx3s.split_dsp, ulx3s.form) == (0, False, "int")
    assert ulx3s.pll is None
