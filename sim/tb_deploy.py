"""cocotb: a quantized network deployed over the UART, exactly as ``tent deploy`` does it.

The host side is :func:`hdl.network_runner.run_on_device` with an unchanged
:class:`hdl.client.HostClient`, here over the UART model instead of a serial port. Every
layer's codes must equal :meth:`golden.ptq.QuantizedNetwork.run_integer`. Parameters: the
host link's ``clocks_per_bit`` and ``timeout``, ``qnet`` (a quantized network file) and
``data`` (an ``.npz`` with preprocessed images ``x``).
"""

import cocotb

from golden._io import read_npz
from golden.quantized_io import load_quantized
from hdl.client import HostClient
from hdl.network_runner import run_on_device
from .common import Scoreboard, params
from .uart_model import start_line


@cocotb.test()
async def network_over_the_line(dut):
    p = params()
    uart = await start_line(dut, p["clocks_per_bit"])
    client = HostClient(uart, timeout=p["timeout"])
    qnet = load_quantized(p["qnet"])
    x = read_npz(p["data"], "data")["x"]
    codes = await run_on_device(client, qnet, x)
    golden = qnet.run_integer(x, keep=True)
    board = Scoreboard("deployed network")
    for node in qnet.network.nodes:
        board.compare(codes[node.name], golden[node.name],
                      [(node.name, i) for i in range(codes[node.name].size)])
    dut._log.info("%d images over the line: %d layers compared", len(x),
                  len(qnet.network.nodes))
    board.check(dut._log)
