"""cocotb: the standalone design's code memory on the iCE40's SPRAMs
(:class:`hdl.standalone.spram.SPRAMCodeMemory`) on Yosys's SB_SPRAM256KA cell model, against
a Python model of the memory: whole-word and lane-masked writes, reads in every bank."""

import cocotb
import numpy as np
from cocotb.triggers import Timer

from .common import ClockedBench, params


@cocotb.test()
async def random_accesses(dut):
    p = params()
    n, lanes, words = p["n"], p["lanes"], p["words"]
    rng = np.random.default_rng(p["seed"])
    # Addresses in every bank, its first and last words among them.
    addresses = sorted({0, words - 1, *(b * 16384 + o for b in range(words // 16384)
                                        for o in (0, 16383)),
                        *(int(a) for a in rng.integers(0, words, 40))})
    model = {}
    bench = ClockedBench(dut)
    await bench.start()
    dut.port__read.value = 0
    dut.port__write.value = 0

    def word(codes):
        return sum(int(c) << (j * n) for j, c in enumerate(codes))

    async def write(address, codes, mask):
        dut.port__address.value = address
        dut.port__write_data.value = word(codes)
        dut.port__write.value = mask
        await bench.cycle()
        dut.port__write.value = 0
        old = model.get(address, [0] * lanes)
        model[address] = [codes[j] if mask >> j & 1 else old[j] for j in range(lanes)]

    for address in addresses:
        await write(address, rng.integers(0, 1 << n, lanes), (1 << lanes) - 1)
    checked = 0
    for _ in range(600):
        address = int(rng.choice(addresses))
        if rng.random() < 0.5:
            await write(address, rng.integers(0, 1 << n, lanes), int(rng.integers(1, 1 << lanes)))
            continue
        dut.port__address.value = address
        dut.port__read.value = 1
        await bench.cycle()
        dut.port__read.value = 0
        # The next access's address may already be on the port while this data is read.
        dut.port__address.value = int(rng.choice(addresses))
        await Timer(1, "ns")
        got = int(dut.port__read_data.value)
        expected = word(model[address])
        assert got == expected, (f"word {address}: read 0x{got:x}, wrote 0x{expected:x}")
        checked += 1
    assert checked > 200
