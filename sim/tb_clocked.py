"""cocotb: reset, then run a design for ``cycles`` clock cycles (parameters: ``cycles`` and
``report``, a JSON file that receives the final value of the ``count`` output)."""

import json

import cocotb

from .common import ClockedBench, params


@cocotb.test()
async def run_cycles(dut):
    p = params()
    bench = ClockedBench(dut)
    await bench.start()
    for _ in range(p["cycles"]):
        await bench.cycle()
    with open(p["report"], "w") as f:
        json.dump({"count": int(dut.count.value)}, f)
