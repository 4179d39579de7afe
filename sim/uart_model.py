"""A UART at the other end of the device's serial lines, in cocotb, as a host transport; it can
damage what it carries (bit flips either way, framing errors, breaks) for the fuzz benches."""

import random

from cocotb.triggers import FallingEdge, Timer
from cocotb.utils import get_sim_time

__all__ = ["UARTModel", "start_line"]


async def start_line(dut, clocks_per_bit, *, seed=0):
    """Starts the design's clock and reset (:class:`sim.common.ClockedBench`) and a
    :class:`UARTModel` (its noise drawn from ``seed``) on its lines that listens from then
    on; returns the model."""
    import cocotb

    from .common import ClockedBench

    bench = ClockedBench(dut)
    uart = UARTModel(dut, clocks_per_bit, seed=seed)
    await bench.start()
    cocotb.start_soon(uart.receive_forever())
    return uart


class UARTModel:
    """Drives ``rx`` and decodes ``tx`` of a design at ``clocks_per_bit`` clocks per bit, 8N1.

    ``write``, ``read`` and ``clock`` are the transport of :class:`hdl.client.HostClient`;
    its time is simulated time, in seconds. ``flip_to_device`` and ``flip_from_device``: the
    chance that a byte on that line has one bit flipped (a noisy line); ``received_frames``
    logs every byte the device sent, undamaged, for monitors.
    """

    def __init__(self, dut, clocks_per_bit, period_ns=10, *, seed=0):
        self.dut = dut
        self.cpb = clocks_per_bit
        self.period_ns = period_ns
        self.received = bytearray()
        self.sent_by_device = bytearray()
        self.framing_errors = 0
        self.flip_to_device = 0.0
        self.flip_from_device = 0.0
        self.flipped = 0
        self.rng = random.Random(seed)
        dut.rx.value = 1

    async def _bits(self, count):
        for _ in range(count * self.cpb):
            await FallingEdge(self.dut.clk)

    def _damage(self, byte, rate):
        if rate and self.rng.random() < rate:
            self.flipped += 1
            return byte ^ (1 << self.rng.randrange(8))
        return byte

    async def _line(self, bits):
        for bit in bits:
            self.dut.rx.value = bit
            await self._bits(1)

    async def write(self, data):
        for byte in bytes(data):
            byte = self._damage(byte, self.flip_to_device)
            await self._line([0] + [(byte >> i) & 1 for i in range(8)] + [1])

    async def framing_error(self, byte):
        """One byte whose stop bit is low (then a bit of idle line)."""
        await self._line([0] + [(byte >> i) & 1 for i in range(8)] + [0, 1])

    async def line_break(self, bits):
        """The line held low for ``bits`` bit times."""
        self.dut.rx.value = 0
        await self._bits(bits)
        self.dut.rx.value = 1
        await self._bits(2)

    async def idle(self, bits):
        self.dut.rx.value = 1
        await self._bits(bits)

    async def receive_forever(self):
        """Monitor of ``tx`` (start it with ``cocotb.start_soon``)."""
        dut = self.dut
        while True:
            await FallingEdge(dut.clk)
            if int(dut.tx.value):
                continue
            for _ in range(self.cpb // 2):  # to the middle of the start bit
                await FallingEdge(dut.clk)
            byte = 0
            for i in range(8):
                await self._bits(1)
                byte |= int(dut.tx.value) << i
            await self._bits(1)
            if int(dut.tx.value):
                self.sent_by_device.append(byte)
                self.received.append(self._damage(byte, self.flip_from_device))
            else:
                self.framing_errors += 1

    def clock(self):
        return get_sim_time("sec")

    def cycles(self):
        """The design's clock cycles so far."""
        return round(get_sim_time("ns") / self.period_ns)

    async def read(self, timeout):
        waited = 0.0
        step = self.period_ns * self.cpb * 10
        while not self.received and waited < timeout:
            await Timer(step, unit="ns")
            waited += step * 1e-9
        data = bytes(self.received)
        self.received.clear()
        return data
