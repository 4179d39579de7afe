"""The iCE40's SB_MAC16 as two independent 8x8 multipliers (its ``MODE_8x8``).

Yosys never infers the split mode, so the array instantiates it: one block serves two PEs.
"""

from amaranth.hdl import Cat, Instance, Module, Shape, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden._checks import check_choice
from .operand import factor_shape

__all__ = ["SPLIT_WIDTH", "IMPLEMENTATIONS", "SplitMultiplier", "check_dsp_split",
           "HIDDEN_TYPE", "HIDDEN_STUB_FILE", "HIDDEN_STUB", "HIDE_SPLIT_BLOCKS",
           "RESTORE_SPLIT_BLOCKS"]

#: The widest factor one half multiplies.
SPLIT_WIDTH = 8

# Yosys's ice40_dsp pass (synth_ice40 -dsp) takes every SB_MAC16 for a 16 x 16 multiplier that
# it may improve: it packs neighbouring registers into it and sets MODE_8x8 to 0, which turns
# a split block into one wrong product. So synthesis hides the split blocks under another cell
# type, a black box of the same ports (HIDDEN_STUB, read from HIDDEN_STUB_FILE), from before
# synth_ice40 (HIDE_SPLIT_BLOCKS) to after it (RESTORE_SPLIT_BLOCKS).
HIDDEN_TYPE = "tent_split_SB_MAC16"
HIDDEN_STUB_FILE = "tent_split_sb_mac16.v"
_PARAMETERS = ("NEG_TRIGGER", "C_REG", "A_REG", "B_REG", "D_REG", "TOP_8x8_MULT_REG",
               "BOT_8x8_MULT_REG", "PIPELINE_16x16_MULT_REG1", "PIPELINE_16x16_MULT_REG2",
               "TOPOUTPUT_SELECT", "TOPADDSUB_LOWERINPUT", "TOPADDSUB_UPPERINPUT",
               "TOPADDSUB_CARRYSELECT", "BOTOUTPUT_SELECT", "BOTADDSUB_LOWERINPUT",
               "BOTADDSUB_UPPERINPUT", "BOTADDSUB_CARRYSELECT", "MODE_8x8", "A_SIGNED",
               "B_SIGNED")
HIDDEN_STUB = (
    f"(* blackbox *)\nmodule {HIDDEN_TYPE} (\n"
    "  input CLK, CE, input [15:0] C, A, B, D,\n"
    "  input AHOLD, BHOLD, CHOLD, DHOLD, IRSTTOP, IRSTBOT, ORSTTOP, ORSTBOT,\n"
    "  input OLOADTOP, OLOADBOT, ADDSUBTOP, ADDSUBBOT, OHOLDTOP, OHOLDBOT,\n"
    "  input CI, ACCUMCI, SIGNEXTIN, output [31:0] O, output CO, ACCUMCO, SIGNEXTOUT);\n"
    + "".join(f"  parameter {name} = 0;\n" for name in _PARAMETERS) + "endmodule\n")
HIDE_SPLIT_BLOCKS = f"chtype -set {HIDDEN_TYPE} t:SB_MAC16"
RESTORE_SPLIT_BLOCKS = f"chtype -set SB_MAC16 t:{HIDDEN_TYPE}; delete ={HIDDEN_TYPE}"
IMPLEMENTATIONS = ("sb_mac16", "model")


class SplitMultiplier(wiring.Component):
    """Two exact products ``p0 = a0 * b0`` and ``p1 = a1 * b1`` from one SB_MAC16. Combinational.

    Parameters
    ----------
    shape : amaranth.hdl.Shape
        Shape of all four factors, 1 to 8 bits, signed or not (the block's ``A_SIGNED`` and
        ``B_SIGNED`` apply to both halves); products are ``2 * width`` bits of the same
        signedness.
    implementation : {"sb_mac16", "model"}
        ``"sb_mac16"``: an ``SB_MAC16`` instance with ``MODE_8x8 = 1``, no registers, outputs
        straight from the multipliers (``TOPOUTPUT_SELECT = BOTOUTPUT_SELECT = 2``), for
        synthesis and for simulation against the cell model Yosys ships; ``"model"``: the same
        function in Amaranth logic, for the Amaranth simulator.

    Members
    -------
    a0, b0 : In(shape)
        Factors of the top half (the block's ``A[15:8]``, ``B[15:8]``).
    a1, b1 : In(shape)
        Factors of the bottom half (``A[7:0]``, ``B[7:0]``).
    p0, p1 : Out(2 * width, signed as shape)
        Their products (``O[31:16]`` and ``O[15:0]``, cut to the exact product width).

    Notes
    -----
    Latency 0 cycles: the block's input, product and output registers are all bypassed.
    """

    def __init__(self, *, shape, implementation="sb_mac16"):
        shape = Shape.cast(shape)
        if not 1 <= shape.width <= SPLIT_WIDTH:
            raise ValueError(f"a split SB_MAC16 multiplies factors of 1 to {SPLIT_WIDTH} bits, "
                             f"not {shape.width}")
        self._shape = shape
        self._implementation = check_choice("implementation", implementation, IMPLEMENTATIONS)
        product = Shape(2 * shape.width, shape.signed)
        super().__init__({"a0": In(shape), "b0": In(shape), "a1": In(shape), "b1": In(shape),
                          "p0": Out(product), "p1": Out(product)})

    def elaborate(self, platform):
        m = Module()
        if self._implementation == "model":
            m.d.comb += [self.p0.eq(self.a0 * self.b0), self.p1.eq(self.a1 * self.b1)]
            return m
        width, signed = self._shape.width, self._shape.signed
        # The block reads 8-bit halves; assigning a factor to one extends it by its own sign.
        byte = {name: Signal(SPLIT_WIDTH, name=f"{name}_byte")
                for name in ("a0", "b0", "a1", "b1")}
        m.d.comb += [byte[name].eq(getattr(self, name)) for name in byte]
        o = Signal(32)
        m.submodules.mac16 = Instance(
            "SB_MAC16",
            p_MODE_8x8=1, p_A_SIGNED=int(signed), p_B_SIGNED=int(signed),
            p_TOPOUTPUT_SELECT=2, p_BOTOUTPUT_SELECT=2,
            i_A=Cat(byte["a1"], byte["a0"]), i_B=Cat(byte["b1"], byte["b0"]), i_C=0, i_D=0,
            i_CLK=0, i_CE=0,
            i_AHOLD=0, i_BHOLD=0, i_CHOLD=0, i_DHOLD=0,
            i_IRSTTOP=0, i_IRSTBOT=0, i_ORSTTOP=0, i_ORSTBOT=0,
            i_OLOADTOP=0, i_OLOADBOT=0, i_ADDSUBTOP=0, i_ADDSUBBOT=0,
            i_OHOLDTOP=0, i_OHOLDBOT=0, i_CI=0, i_ACCUMCI=0, i_SIGNEXTIN=0,
            o_O=o)
        m.d.comb += [self.p0.eq(o[16:16 + 2 * width]), self.p1.eq(o[:2 * width])]
        return m


def check_dsp_split(family, form, dsp_split):
    """``dsp_split`` (``None`` or one of :data:`IMPLEMENTATIONS`), checked against the width of
    the factors of ``family`` in ``form``."""
    if dsp_split is None:
        return None
    check_choice("dsp_split", dsp_split, IMPLEMENTATIONS)
    width = factor_shape(family, form).width
    if width > SPLIT_WIDTH:
        raise ValueError(f"a split DSP multiplies factors of at most {SPLIT_WIDTH} bits; "
                         f"{family.label} in form {form!r} has {width}-bit factors"
                         + ("; use form 'ses'" if "ses" in family.forms and form != "ses"
                            else ""))
    return dsp_split
