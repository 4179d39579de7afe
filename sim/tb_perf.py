"""cocotb: one matrix product streamed as fast as the accelerator takes it; cycle counts.

Writes ``{"cycles", "activations", "results", "useful_macs", "utilisation"}`` to the JSON file
named by the ``stats`` parameter, after checking every output code against the golden model.
"""

import json

import cocotb
import numpy as np

from .array_driver import ArrayDriver
from .common import Scoreboard, params
from .tb_accelerator import check_layers, random_layer


@cocotb.test()
async def gemm_cycles(dut):
    p = params()
    driver = ArrayDriver(dut, p)
    await driver.start()
    M, K, N = p["gemm"]
    a, w, layer = random_layer(driver.family, driver.limits,
                               np.random.default_rng(p.get("seed", 7)), M, K, N,
                               mx_block=driver.mx_block, block_shift=driver.block_shift,
                               mx_share=1.0)
    plan = driver.plan(a, w, layer)
    outputs, stats = await driver.run([plan])
    board = Scoreboard(f"{M}x{K}x{N} matrix product")
    check_layers(board, driver.limits, [(plan, a, w, layer)], outputs)
    board.check(dut._log)
    useful = M * K * N
    record = {"cycles": stats.cycles, "activations": stats.activations,
              "results": stats.results, "useful_macs": useful,
              "utilisation": stats.utilisation(useful, driver.rows * driver.cols)}
    dut._log.info("%s", record)
    with open(p["stats"], "w") as file:
        json.dump(record, file)
