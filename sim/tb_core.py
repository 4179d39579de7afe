"""cocotb: one run of the program in :class:`sim.core_bench.CoreHarness`; the logits and the
class must be the golden interpreter's. Writes ``cycles.json`` (the core's cycle count) into
the run's directory. Parameters: ``label``, ``logits``, ``max_cycles``."""

import json

import cocotb
from cocotb.triggers import FallingEdge

from .common import ClockedBench, params


@cocotb.test()
async def run_once(dut):
    p = params()
    for port in (dut.run, dut.read, dut.codes__ready):
        port.value = 0
    await ClockedBench(dut).start()
    dut.run.value = 1
    await FallingEdge(dut.clk)
    dut.run.value = 0
    await FallingEdge(dut.clk)
    waited = 0
    while int(dut.busy.value):
        waited += 1
        assert waited <= p["max_cycles"], f"still busy after {p['max_cycles']:,} cycles"
        await FallingEdge(dut.clk)
    assert not int(dut.error.value), "the core stopped with an error"
    cycles = int(dut.cycles.value)
    dut.read.value = 1
    await FallingEdge(dut.clk)
    dut.read.value = 0
    dut.codes__ready.value = 1
    logits = []
    while not int(dut.done.value):
        if int(dut.codes__valid.value):
            logits.append(int(dut.codes__payload.value))
        await FallingEdge(dut.clk)
        assert len(logits) <= len(p["logits"]), f"more logits than {len(p['logits'])}"
    assert logits == p["logits"], f"logits {logits}, the golden interpreter's {p['logits']}"
    assert int(dut.label.value) == p["label"], f"class {int(dut.label.value)}, not {p['label']}"
    with open("cycles.json", "w") as out:
        json.dump({"cycles": cycles}, out)
    dut._log.info("%d cycles; logits and class bit-exact", cycles)
