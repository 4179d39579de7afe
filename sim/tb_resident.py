"""cocotb: the resident device over the UART model, driven by the unchanged
:class:`hdl.client.ResidentClient` as ``tent deploy --resident`` drives a board.

The loader is fuzzed first: truncated, corrupted and wrong-version images are refused (an
ERROR, or no program afterwards) and never run; then the good image loads and every image
is classified bit-exact (class and logits as the golden interpreter's), through
:func:`hdl.network_runner.classify_resident` as ``tent deploy --resident`` does. Parameters:
``clocks_per_bit``, ``timeout``, ``image`` (the program image, hex), ``fuzz`` (whether to
fuzz the loader first), ``codes`` (input codes per image), ``expected`` ([class, logits] per
image), ``seed``.

``pipelined_throughput`` only loads the image and classifies the images pipelined
(:meth:`hdl.client.ResidentClient.classify_many`), bit-exact, and writes ``results.json``:
the cycle at which each RESULT frame was in.
"""

import json
import random

import cocotb

from golden.program import read_program
from hdl.client import DeviceError, ResidentClient
from hdl.network_runner import classify_resident
from hdl.protocol import Command, Error
from .common import params
from .uart_model import start_line


async def _refused(client, image):
    """Sends ``image`` frame by frame as the client would, unchecked; the device must refuse it
    or hold no program afterwards. Returns the refusal's code (None: none)."""
    code = None
    try:
        await client.send_image(image)
    except DeviceError as error:
        code = error.code
    info = await client.info()
    assert not info.loaded, f"a bad image was accepted (refusal {code})"
    try:
        await client.send(Command.RUN, bytes(4))
    except DeviceError as error:
        assert error.code == Error.NO_PROGRAM, f"RUN after a bad image: {error}"
    else:
        raise AssertionError("RUN after a bad image was answered")
    return code


async def _connected(dut):
    """The bench's parameters, the line, a client that has asked INFO, and the image."""
    p = params()
    uart = await start_line(dut, p["clocks_per_bit"])
    client = ResidentClient(uart, timeout=p["timeout"])
    await client.info()
    return p, uart, client, bytes.fromhex(p["image"])


@cocotb.test()
async def load_fuzz_then_classify(dut):
    p, uart, client, image = await _connected(dut)
    rng = random.Random(p["seed"])
    codes = []
    if p["fuzz"]:  # a netlist run only classifies: the RTL's runs fuzz the loader
        codes.append(await _refused(client, image[:len(image) // 2]))  # truncated
        codes.append(await _refused(client, image[:-1]))
        wrong_version = bytearray(image)
        wrong_version[8] = 9
        codes.append(await _refused(client, bytes(wrong_version)))
        for _ in range(3):
            corrupted = bytearray(image)
            corrupted[rng.randrange(len(image))] ^= 1 << rng.randrange(8)
            codes.append(await _refused(client, bytes(corrupted)))
        assert codes[:3] == [None, None, Error.IMAGE_VERSION], codes
        assert all(code is not None for code in codes[3:]), codes
    program = read_program(image)
    labels, sent = await classify_resident(client, program, p["codes"])
    assert sent and labels == [label for label, _ in p["expected"]], labels
    assert not await client.load(image)  # the same CRC: not sent again
    for k, (image_codes, (label, logits)) in enumerate(zip(p["codes"], p["expected"])):
        got = await client.classify(image_codes)
        assert got == (label, logits), f"image {k}: {got} against {(label, logits)}"
    dut._log.info("bad images refused (%s); %d images classified bit-exact", codes,
                  len(p["codes"]))


@cocotb.test()
async def pipelined_throughput(dut):
    p, uart, client, image = await _connected(dut)
    await client.load(image)
    arrived = []
    results = await client.classify_many(
        p["codes"], on_result=lambda k, r: arrived.append(uart.cycles()))
    for k, (got, (label, logits)) in enumerate(zip(results, p["expected"])):
        assert got == (label, logits), f"image {k}: {got} against {(label, logits)}"
    with open("results.json", "w") as out:
        json.dump({"result_cycles": arrived}, out)
    dut._log.info("%d images pipelined, RESULTs at cycles %s", len(results), arrived)
