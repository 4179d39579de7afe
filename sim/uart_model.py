"""A UART at the other end of the device's serial lines, in cocotb, as a host transport."""

from cocotb.triggers import FallingEdge, RisingEdge, Timer
from cocotb.utils import get_sim_time

__all__ = ["UARTModel"]


class UARTModel:
    """Drives ``rx`` and decodes ``tx`` of a design at ``clocks_per_bit`` clocks per bit, 8N1.

    ``write``, ``read`` and ``clock`` are the transport of :class:`hdl.client.HostClient`;
    its time is simulated time, in seconds.
    """

    def __init__(self, dut, clocks_per_bit, period_ns=10):
        self.dut = dut
        self.cpb = clocks_per_bit
        self.period_ns = period_ns
        self.received = bytearray()
        self.framing_errors = 0
        dut.rx.value = 1

    async def _bits(self, count):
        for _ in range(count * self.cpb):
            await FallingEdge(self.dut.clk)

    async def write(self, data):
        for byte in bytes(data):
            for bit in [0] + [(byte >> i) & 1 for i in range(8)] + [1]:
                self.dut.rx.value = bit
                await self._bits(1)

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
                self.received.append(byte)
            else:
                self.framing_errors += 1

    def clock(self):
        return get_sim_time("sec")

    async def read(self, timeout):
        waited = 0.0
        step = self.period_ns * self.cpb * 10
        while not self.received and waited < timeout:
            await Timer(step, unit="ns")
            waited += step * 1e-9
        data = bytes(self.received)
        self.received.clear()
        return data
