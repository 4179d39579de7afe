"""Frame sender: one device frame whose payload arrives as a byte stream."""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from golden._checks import check_int
from ..protocol import CRC_INIT, DEVICE_SYNC, MAX_PAYLOAD
from .crc import crc16_step

__all__ = ["FrameSender"]


class FrameSender(wiring.Component):
    """Sends ``SYNC KIND SEQ LEN LEN PAYLOAD CRC CRC`` (:mod:`hdl.protocol`), the payload's
    ``length`` bytes taken from a stream as they are sent.

    Parameters
    ----------
    max_length : int
        The longest payload (1 to :data:`hdl.protocol.MAX_PAYLOAD`).

    Members
    -------
    start : In(1)
        A pulse while not ``busy``: ``kind``, ``seq`` and ``length`` are sampled.
    kind, seq : In(8), length : In(range(max_length + 1))
    busy : Out(1)
        From ``start`` until the last CRC byte is taken.
    payload : In(stream.Signature(8))
        Exactly ``length`` bytes, taken one at a time as the frame reaches them.
    tx : Out(stream.Signature(8))
        Bytes to the UART transmitter.
    """

    def __init__(self, *, max_length):
        self._max_length = check_int("max_length", max_length, 1, MAX_PAYLOAD)
        super().__init__({"start": In(1), "kind": In(8), "seq": In(8),
                          "length": In(range(max_length + 1)), "busy": Out(1),
                          "payload": In(stream.Signature(8)),
                          "tx": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        kind, seq = Signal(8), Signal(8)
        left = Signal(range(self._max_length + 1))
        crc = Signal(16)
        current = Signal(8)
        next_crc = crc16_step(m, crc, current, "crc")
        tx = self.tx
        m.d.comb += tx.payload.eq(current)

        def header_byte(value, then, *, first=False):
            m.d.comb += [current.eq(value), tx.valid.eq(1), self.busy.eq(1)]
            with m.If(tx.ready):
                if not first:
                    m.d.sync += crc.eq(next_crc)
                m.next = then

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [kind.eq(self.kind), seq.eq(self.seq), left.eq(self.length),
                                 crc.eq(CRC_INIT)]
                    m.next = "SYNC"
            with m.State("SYNC"):
                header_byte(DEVICE_SYNC, "KIND", first=True)
            with m.State("KIND"):
                header_byte(kind, "SEQ")
            with m.State("SEQ"):
                header_byte(seq, "LENGTH_LOW")
            with m.State("LENGTH_LOW"):
                header_byte(left[:8], "LENGTH_HIGH")
            with m.State("LENGTH_HIGH"):
                header_byte(left >> 8, "PAYLOAD")
            with m.State("PAYLOAD"):
                m.d.comb += self.busy.eq(1)
                with m.If(left == 0):
                    m.next = "CRC_LOW"
                with m.Else():
                    m.d.comb += [current.eq(self.payload.payload),
                                 tx.valid.eq(self.payload.valid),
                                 self.payload.ready.eq(tx.ready)]
                    with m.If(self.payload.valid & tx.ready):
                        m.d.sync += [crc.eq(next_crc), left.eq(left - 1)]
            with m.State("CRC_LOW"):
                m.d.comb += [current.eq(crc[:8]), tx.valid.eq(1), self.busy.eq(1)]
                with m.If(tx.ready):
                    m.next = "CRC_HIGH"
            with m.State("CRC_HIGH"):
                m.d.comb += [current.eq(crc[8:]), tx.valid.eq(1), self.busy.eq(1)]
                with m.If(tx.ready):
                    m.next = "IDLE"
        return m
