"""The UART at the rates builds use (1 Mbaud at 12 and 24 MHz, 115200 at 12 MHz), against a
host whose bit time is off by up to ±2 %, as a real adapter's may be: every byte both ways."""

import itertools

import pytest
from amaranth.hdl import Module
from amaranth.sim import Simulator

from hdl.uart import UARTReceiver, UARTTransmitter
from scripts.fpga.flow import SynthConfig


def _bit_edges(clocks_per_bit, error, bits):
    """Cycle at which each bit of the host's line starts (its bit time off by ``error``)."""
    return [round(i * clocks_per_bit * (1 + error)) for i in range(bits + 1)]


@pytest.mark.parametrize("clock_mhz,baud", [(12, 1_000_000), (24, 1_000_000), (12, 115_200)])
@pytest.mark.parametrize("error", [-0.02, 0.0, 0.02])
def test_every_byte_both_ways_at_a_build_rate(clock_mhz, baud, error):
    config = SynthConfig(clock_mhz=0 if clock_mhz == 12 else clock_mhz, baud=baud)
    cpb = config.resolved().clocks_per_bit
    assert abs(clock_mhz * 1e6 / cpb - baud) <= 0.02 * baud
    m = Module()
    m.submodules.rx = rx = UARTReceiver(clocks_per_bit=cpb)
    m.submodules.tx = tx = UARTTransmitter(clocks_per_bit=cpb)
    sent = list(range(256)) if cpb < 50 else [0x00, 0xFF, 0x55, 0xA5, 0x5A, 0x81]
    received, echoed = [], []

    async def host_sends(ctx):
        for byte in sent:
            bits = [0] + [(byte >> i) & 1 for i in range(8)] + [1, 1]  # one idle bit after
            edges = _bit_edges(cpb, error, len(bits))
            for level, (begin, end) in zip(bits, itertools.pairwise(edges), strict=True):
                ctx.set(rx.rx, level)
                await ctx.tick().repeat(end - begin)

    async def device_echoes(ctx):
        while len(received) < len(sent):
            await ctx.tick()
            if ctx.get(rx.data.valid):
                received.append(ctx.get(rx.data.payload))
                ctx.set(tx.data.payload, received[-1])
                ctx.set(tx.data.valid, 1)
                await ctx.tick().until(tx.data.ready)
                ctx.set(tx.data.valid, 0)

    async def host_listens(ctx):
        # The host samples the device's line in the middle of its own (mismatched) bit times.
        while len(echoed) < len(sent):
            await ctx.tick().until(~tx.tx)
            edges = _bit_edges(cpb, error, 10)
            byte, elapsed = 0, 0
            for i in range(9):
                middle = (edges[i] + edges[i + 1]) // 2
                await ctx.tick().repeat(middle - elapsed)
                elapsed = middle
                if i:
                    byte |= ctx.get(tx.tx) << (i - 1)
            echoed.append(byte)
            await ctx.tick().repeat(edges[10] - elapsed)

    sim = Simulator(m)
    sim.add_clock(1 / (clock_mhz * 1e6))
    sim.add_testbench(host_sends)
    sim.add_testbench(device_echoes)
    sim.add_testbench(host_listens)
    sim.run_until(len(sent) * 12 * cpb * 1.1 / (clock_mhz * 1e6) + 1e-4)
    assert received == sent
    assert echoed == sent


def test_a_rate_the_clock_cannot_make_is_refused():
    with pytest.raises(ValueError, match="a 12 MHz clock makes no UART bit time within 2 % of "
                                         "5000000 baud"):
        SynthConfig(baud=5_000_000, clock_mhz=0).resolved()
    with pytest.raises(ValueError, match="baud must be an integer from 300 to 12000000"):
        SynthConfig(baud=100).resolved()
