"""cocotb: a trained network end to end through the accelerator.

Every convolution (as im2col rows) and dense layer runs through the simulated array; max-pool,
flatten, residual addition and average pooling run on the host with the golden engine's own
steps, on the codes the array produced. Every layer's codes, and the class predictions, must
equal :meth:`golden.ptq.QuantizedNetwork.run_integer` on the same images. Parameters (the
runner's JSON): the array's, plus ``qnet`` (a quantized network file,
:mod:`golden.quantized_io`), ``data`` (an ``.npz`` with the images ``x``, preprocessed, and
optionally the labels ``y``), ``model`` and ``dataset`` (names for the report) and optionally
``report`` (a JSON file for cycles and accuracy).
"""

import json

import cocotb
import numpy as np

from golden._io import read_npz
from golden.quantized_io import load_quantized
from hdl.network_runner import check_fits, run_network
from .array_driver import ArrayDriver
from .common import Scoreboard, params


@cocotb.test()
async def network_through_the_array(dut):
    p = params()
    driver = ArrayDriver(dut, p)
    await driver.start()
    q = load_quantized(p["qnet"])
    network = q.network
    check_fits(q, driver.family, driver.limits, driver.max_K, "the array",
               mx_block=driver.mx_block, rows=driver.rows, mx_spread=driver.block_shift)
    data = read_npz(p["data"], "data")
    x, y = data["x"], data.get("y")
    golden = q.run_integer(x, keep=True)
    board = Scoreboard("end to end")
    layers = []

    async def run_layer(node, rows, w_codes, layer):
        plan = driver.plan(rows, w_codes, layer)
        (vectors,), stats = await driver.run([plan])
        out = plan.assemble([v[0] for v in vectors])
        board.compare(plan.assemble([v[1] for v in vectors]), np.zeros(out.shape, np.int64),
                      None)  # no NaR anywhere
        layers.append({"node": node.name, "op": node.op, "M": rows.shape[0], "K": rows.shape[1],
                       "N": w_codes.shape[1], "cycles": stats.cycles,
                       "macs": rows.shape[0] * rows.shape[1] * w_codes.shape[1],
                       "formats": [layer.a_fmt.label, layer.w_fmt.label, layer.out_fmt.label]})
        return out

    codes = await run_network(q, x, run_layer, driver.family)
    for node in network.nodes:
        board.compare(codes[node.name], golden[node.name],
                      [(node.name, i) for i in range(codes[node.name].size)])
    total_cycles = sum(layer["cycles"] for layer in layers)
    total_macs = sum(layer["macs"] for layer in layers)
    logits = q.format_of(network.output).decode(codes[network.output])
    predictions = np.argmax(logits, axis=1)
    want = np.argmax(q.format_of(network.output).decode(golden[network.output]), axis=1)
    board.compare(predictions, want, None)
    accuracy = None if y is None else float(np.mean(predictions == y))
    report = {"model": p["model"], "dataset": p["dataset"], "scheme": q.scheme,
              "images": len(x), "family": driver.family.label,
              "array": f"{driver.rows}x{driver.cols}", "accuracy": accuracy,
              "cycles": total_cycles, "cycles_per_image": total_cycles / len(x),
              "macs_per_image": total_macs / len(x),
              "utilisation": total_macs / (driver.rows * driver.cols * total_cycles),
              "layers": layers}
    dut._log.info("%s on %d %s images through a %dx%d array: accuracy %s, %d cycles per "
                  "image, utilisation %.3f", q.scheme, len(x), p["dataset"], driver.rows,
                  driver.cols, accuracy, report["cycles_per_image"], report["utilisation"])
    if p.get("report"):
        with open(p["report"], "w") as file:
            json.dump(report, file, indent=2)
    board.check(dut._log)
