"""cocotb: one layer workload through the accelerator (usually its mapped gate netlist), checked
bit-exact against the golden model, for switching-activity measurement.

Parameters (the runner's JSON): the array's (:func:`sim.array_driver.accelerator_params`),
``workload`` (an ``.npz`` written by :func:`golden.layers.save_workload`: activation codes
``a``, weight codes ``w`` and the layer's run-time parameters), ``report`` (a JSON file
for the cycle counts) and, for a timed netlist, ``period_ns`` and ``settle_ns`` (see
:class:`sim.array_driver.ArrayDriver`). The waveform itself is written by the dump module the
runner adds.
"""

import json

import cocotb
from cocotb.utils import get_sim_time

from golden.layers import load_workload, run_layer
from .array_driver import ArrayDriver
from .common import Scoreboard, params


@cocotb.test()
async def layer_workload(dut):
    p = params()
    driver = ArrayDriver(dut, p)
    a, w, layer = load_workload(p["workload"], driver.family, driver.limits)
    await driver.start()
    plan = driver.plan(a, w, layer)
    (vectors,), stats = await driver.run([plan])
    codes, nar = run_layer(a, w, layer, limits=driver.limits)
    board = Scoreboard("energy workload")
    board.compare(plan.assemble([v[0] for v in vectors]), codes, None)
    board.compare(plan.assemble([v[1] for v in vectors]), nar, None)
    board.check(dut._log)
    with open(p["report"], "w") as f:
        json.dump({"cycles": stats.cycles, "activations": stats.activations,
                   "results": stats.results, "end_ns": get_sim_time("ns"),
                   "macs": int(a.shape[0] * a.shape[1] * w.shape[1])}, f)
