"""Frame receiver: UART bytes into the frame buffer, CRC and length checked before anything
is executed."""

import contextlib

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from golden._checks import check_int
from ..protocol import CRC_INIT, HOST_SYNC, MAX_PAYLOAD, Error, Reply
from .crc import crc16_step
from .reply import ReplySignature

__all__ = ["FrameReceiver"]


class FrameReceiver(wiring.Component):
    """Receives one host frame (``SYNC KIND SEQ LEN LEN PAYLOAD CRC CRC``, :mod:`hdl.protocol`)
    at a time into a frame buffer of ``max_payload`` bytes.

    Parameters
    ----------
    max_payload : int
        Frame buffer size in bytes (16 to :data:`hdl.protocol.MAX_PAYLOAD`); a frame whose LEN
        is larger is refused (TOO_LONG) as soon as LEN has arrived, and the receiver hunts for
        the next SYNC (so a noise byte that looks like SYNC cannot swallow a long stretch).
    timeout : int
        A gap of more than this many cycles inside a frame drops it (TRUNCATED), 1 to 2**32.
    item_sizes : tuple of int
        The payload item sizes (bytes) whose divisibility the executor asks about.

    Members
    -------
    data : In(stream.Signature(8, always_ready=True))
        Bytes from the UART.
    busy : In(1)
        The buffer is in use (a frame executes or a reply waits): a SYNC byte is ignored.
    write_addr, write_data, write_en : Out
        The frame buffer's write port: payload byte ``i`` to address ``i``.
    execute : Out(1)
        Pulse: a frame with a good CRC and a payload that fits is in the buffer.
    kind, seq, length : Out(8), Out(8), Out(16)
        The frame's command byte, sequence number and payload length (valid with
        ``execute``).
    divisible : Out(len(item_sizes))
        Bit ``i``: ``length`` is a multiple of ``item_sizes[i]`` (counted as bytes arrive,
        no divider).
    reply : Out(ReplySignature())
        Pulse: an ERROR reply for a dropped frame (CHECKSUM, TOO_LONG, TRUNCATED), echoing the
        SEQ byte as it arrived.

    Notes
    -----
    One byte per cycle at most (the UART delivers far fewer); ``execute`` or ``reply`` one
    cycle after the last CRC byte (or the second LEN byte, or the timeout) arrives.
    """

    def __init__(self, *, max_payload, timeout, item_sizes):
        self._max_payload = check_int("max_payload", max_payload, 16, MAX_PAYLOAD)
        self._timeout = check_int("timeout", timeout, 1, 1 << 32)
        self._sizes = tuple(sorted(set(check_int("item size", s, 1, 4096) for s in item_sizes)))
        super().__init__({
            "data": In(stream.Signature(8, always_ready=True)), "busy": In(1),
            "write_addr": Out(range(max_payload)), "write_data": Out(8), "write_en": Out(1),
            "execute": Out(1), "kind": Out(8), "seq": Out(8), "length": Out(16),
            "divisible": Out(len(self._sizes)), "reply": Out(ReplySignature()),
        })

    @property
    def item_sizes(self):
        return self._sizes

    def elaborate(self, platform):
        m = Module()
        byte, got = self.data.payload, self.data.valid
        kind, length = self.kind, self.length
        count = Signal(range(self._max_payload + 1))
        crc = Signal(16)
        crc_matches = Signal()  # the first CRC byte was right
        idle_timer = Signal(range(self._timeout + 1))
        m.d.comb += [self.write_addr.eq(count), self.write_data.eq(byte)]
        # The payload length modulo each item size, counted as bytes arrive (no divider).
        remainders = {size: Signal(range(size), name=f"length_mod_{size}") for size in self._sizes}
        m.d.comb += self.divisible.eq(Cat(r == 0 for r in remainders.values()))
        received_crc = crc16_step(m, crc, byte, "rx_crc")

        def refuse(code):
            m.d.comb += [self.reply.valid.eq(1), self.reply.kind.eq(Reply.ERROR),
                         self.reply.command.eq(kind), self.reply.seq.eq(self.seq),
                         self.reply.code.eq(code)]

        @contextlib.contextmanager
        def next_byte():
            """Inside a frame: the body runs when a byte arrives; a gap too long drops it."""
            m.d.sync += idle_timer.eq(Mux(got, 0, idle_timer + 1))
            with m.If(idle_timer == self._timeout):
                refuse(Error.TRUNCATED)
                m.next = "hunt"
            with m.Elif(got):
                yield

        with m.FSM(name="receive"):
            with m.State("hunt"):
                with m.If(got & (byte == HOST_SYNC) & ~self.busy):
                    m.d.sync += [crc.eq(CRC_INIT), count.eq(0), idle_timer.eq(0)]
                    m.d.sync += [r.eq(0) for r in remainders.values()]
                    m.next = "kind"
            with m.State("kind"):
                with next_byte():
                    m.d.sync += [crc.eq(received_crc), kind.eq(byte)]
                    m.next = "seq"
            with m.State("seq"):
                with next_byte():
                    m.d.sync += [crc.eq(received_crc), self.seq.eq(byte)]
                    m.next = "length_low"
            with m.State("length_low"):
                with next_byte():
                    m.d.sync += [crc.eq(received_crc), length.eq(byte)]
                    m.next = "length_high"
            with m.State("length_high"):
                with next_byte():
                    m.d.sync += [crc.eq(received_crc), length[8:].eq(byte)]
                    with m.If(Cat(length[:8], byte) > self._max_payload):
                        refuse(Error.TOO_LONG)
                        m.next = "hunt"
                    with m.Elif(Cat(length[:8], byte) == 0):
                        m.next = "crc_low"
                    with m.Else():
                        m.next = "payload"
            with m.State("payload"):
                with next_byte():
                    m.d.sync += crc.eq(received_crc)
                    m.d.comb += self.write_en.eq(1)
                    m.d.sync += count.eq(count + 1)
                    for size, r in remainders.items():
                        m.d.sync += r.eq(Mux(r == size - 1, 0, r + 1))
                    with m.If(count + 1 == length):
                        m.next = "crc_low"
            with m.State("crc_low"):
                with next_byte():
                    m.d.sync += crc_matches.eq(byte == crc[:8])
                    m.next = "crc_high"
            with m.State("crc_high"):
                with next_byte():
                    with m.If(crc_matches & (byte == crc[8:])):
                        m.d.comb += self.execute.eq(1)
                    with m.Else():
                        refuse(Error.CHECKSUM)
                    m.next = "hunt"
        return m
