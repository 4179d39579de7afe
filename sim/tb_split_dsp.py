"""cocotb: the split SB_MAC16 (:class:`hdl.dsp.SplitMultiplier`) on Yosys's iCE40 cell model,
every factor pair on both halves at once, against NumPy's products."""

import cocotb
import numpy as np
from cocotb.triggers import Timer

from .common import Scoreboard, params


def _factors(width, signed):
    values = np.arange(1 << width)
    return values - (1 << width) * (values >= 1 << (width - 1)) if signed else values


@cocotb.test()
async def every_factor_pair(dut):
    """Every (a, b) pair on the top half while the bottom half multiplies the pair reversed
    and shifted, so the halves see different factors every step."""
    p = params()
    values = _factors(p["width"], p["signed"])
    a = np.repeat(values, values.size)
    b = np.tile(values, values.size)
    a1, b1 = np.roll(b, 1), np.roll(a, 7)
    mask = (1 << p["width"]) - 1
    board = Scoreboard("split SB_MAC16")
    top, bottom = [], []
    read = (lambda s: s.value.to_signed()) if p["signed"] else (lambda s: s.value.to_unsigned())
    for i in range(a.size):
        dut.a0.value, dut.b0.value = int(a[i]) & mask, int(b[i]) & mask
        dut.a1.value, dut.b1.value = int(a1[i]) & mask, int(b1[i]) & mask
        await Timer(1, "ns")
        top.append(read(dut.p0))
        bottom.append(read(dut.p1))
    board.compare(top, a * b, None)
    board.compare(bottom, a1 * b1, None)
    board.check(dut._log)
