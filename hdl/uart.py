"""8N1 UART receiver and transmitter with stream interfaces."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from golden._checks import check_int

__all__ = ["UARTReceiver", "UARTTransmitter"]


class UARTReceiver(wiring.Component):
    """Serial ``rx`` line to bytes: 1 start bit, 8 data bits LSB first, 1 stop bit.

    Parameters
    ----------
    clocks_per_bit : int
        Clock cycles per bit (4 to 2**16), e.g. 104 for 115200 baud at 12 MHz.

    Members
    -------
    rx : In(1)
        The line, idle high; synchronised by two flip-flops.
    data : Out(stream.Signature(8, always_ready=True))
        One byte per frame, ``valid`` for one cycle in the middle of its stop bit. A frame whose
        stop bit is low is dropped (framing error).
    """

    def __init__(self, *, clocks_per_bit):
        self._cpb = check_int("clocks_per_bit", clocks_per_bit, 4, 1 << 16)
        super().__init__({"rx": In(1, init=1),
                          "data": Out(stream.Signature(8, always_ready=True))})

    def elaborate(self, platform):
        m = Module()
        cpb = self._cpb
        meta, line = Signal(init=1), Signal(init=1)
        m.d.sync += [meta.eq(self.rx), line.eq(meta)]
        timer = Signal(range(cpb))
        bit = Signal(range(9))
        shift = Signal(8)
        m.d.sync += self.data.valid.eq(0)
        with m.FSM():
            with m.State("idle"):
                with m.If(~line):
                    m.d.sync += timer.eq(cpb // 2 - 1)
                    m.next = "start"
            with m.State("start"):  # confirm the start bit in its middle
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(line):
                    m.next = "idle"  # a glitch
                with m.Else():
                    m.d.sync += [timer.eq(cpb - 1), bit.eq(0)]
                    m.next = "data"
            with m.State("data"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [shift.eq(Cat(shift[1:], line)),
                                 timer.eq(cpb - 1), bit.eq(bit + 1)]
                    with m.If(bit == 7):
                        m.next = "stop"
            with m.State("stop"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [self.data.payload.eq(shift), self.data.valid.eq(line)]
                    m.next = "idle"
        return m


class UARTTransmitter(wiring.Component):
    """Bytes to the serial ``tx`` line, 8N1 (see :class:`UARTReceiver`).

    Members
    -------
    data : In(stream.Signature(8))
        A byte is taken when the line is idle; ``clocks_per_bit * 10`` cycles per byte.
    tx : Out(1)
        Idle high.
    """

    def __init__(self, *, clocks_per_bit):
        self._cpb = check_int("clocks_per_bit", clocks_per_bit, 4, 1 << 16)
        super().__init__({"data": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        cpb = self._cpb
        timer = Signal(range(cpb))
        frame = Signal(10, init=0x3FF)  # stop bit, 8 data bits, start bit (sent first)
        left = Signal(range(11))
        m.d.comb += [self.tx.eq(frame[0]), self.data.ready.eq(left == 0)]
        with m.If(self.data.valid & self.data.ready):
            m.d.sync += [frame.eq(1 << 9 | self.data.payload << 1), left.eq(10),
                         timer.eq(cpb - 1)]
        with m.Elif(left != 0):
            with m.If(timer != 0):
                m.d.sync += timer.eq(timer - 1)
            with m.Else():
                m.d.sync += [frame.eq(1 << 9 | frame >> 1), timer.eq(cpb - 1), left.eq(left - 1)]
        return m
