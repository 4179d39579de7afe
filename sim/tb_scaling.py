"""cocotb: the scaling stage, one result per cycle, against the golden model's ``scale``.

``reference: "ties_away"`` swaps in a deliberately wrong reference (ties away from zero instead
of to the even code); the bench must then fail, which shows that it can.
"""

import cocotb
import numpy as np

from golden.arith import Accumulators, ScalingLimits, scale
from .common import ClockedBench, Scoreboard, drive_member, family_from, params
from .stimulus import scaling_groups

def ties_away_reference(values, E, out, M, shift, relu):
    """Wrong on purpose: nudging every value away from zero by far less than any spacing turns
    each tie into a round-away-from-zero and changes nothing else."""
    product = np.asarray(values, dtype=object) * M
    if relu:
        product = np.where(product < 0, 0, product)
    nudged = np.array([v * 256 + (1 if v > 0 else -1 if v < 0 else 0) for v in product], dtype=object)
    return out.quantize_exact(nudged, E - shift - 8)


@cocotb.test()
async def scaling_plan(dut):
    p = params()
    family = family_from(p)
    limits = ScalingLimits(**p["limits"])
    groups = scaling_groups(family, p["acc_width"], limits, seed=p.get("seed", 1))
    bench = ClockedBench(dut)
    await bench.start()
    board = Scoreboard("scaling")
    dut.valid_in.value = 0
    got, expected, context = [], [], []
    for values, E, M, shift, relu, out in groups:
        dut.exponent.value = E
        dut.M.value = M
        dut.shift.value = shift
        dut.relu.value = int(relu)
        drive_member(dut, family, out, "out_")
        if p.get("reference") == "ties_away":
            expected.extend(ties_away_reference(values, E, out, M, shift, relu).tolist())
        else:
            acc = Accumulators(values, E, np.zeros(values.shape, bool))
            expected.extend(scale(acc, out, M=M, shift=shift, relu=relu, limits=limits).tolist())
        context.extend((out.label, int(v), E, M, shift, relu) for v in values)
        for value in values.tolist():
            dut.acc.value = value
            dut.nar_in.value = value & 1
            dut.valid_in.value = 1
            await bench.cycle()
            if int(dut.valid_out.value):
                got.append(int(dut.code.value))
                assert int(dut.nar.value) == context[len(got) - 1][1] & 1
    dut.valid_in.value = 0
    for _ in range(p["latency"]):
        await bench.cycle()
        if int(dut.valid_out.value):
            got.append(int(dut.code.value))
    board.compare(got, expected, context)
    board.check(dut._log)
