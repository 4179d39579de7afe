"""cocotb: the decoder, every code for every run-time IS, against the golden model."""

import cocotb
from cocotb.triggers import Timer

from hdl.operand import operand_layout
from .common import Scoreboard, drive_member, family_from, params, unpack


@cocotb.test()
async def every_code(dut):
    p = params()
    family = family_from(p)
    layout = operand_layout(family, p["form"])
    board = Scoreboard("decoder")
    for fmt in family.members():
        drive_member(dut, family, fmt, scale=False)
        got, nar = [], []
        for code in range(fmt.code_count):
            dut.code.value = code
            await Timer(1, unit="ns")
            fields = unpack(int(dut.operand.value), layout)
            if p["form"] == "int":
                got.append(fields["value"])
            else:
                magnitude = (fields["significand"] << fields["exponent"]) >> family.exponent_offset
                got.append(-magnitude if fields["sign"] else magnitude)
            nar.append(fields["nar"])
        codes = fmt.codes()
        board.compare(got, fmt.to_int(codes, nar="zero"), [(fmt.label, c) for c in codes])
        board.compare(nar, fmt.is_nar(codes).astype(int), [(fmt.label, "nar", c) for c in codes])
    board.check(dut._log)
