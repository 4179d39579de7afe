"""Reply framer: control replies and result vectors to device frames on the UART."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..protocol import DEVICE_SYNC, Reply, item_bytes
from .crc import crc8_step
from .reply import ReplySignature

__all__ = ["ReplyFramer"]


class ReplyFramer(wiring.Component):
    """Sends ``SYNC KIND LEN LEN PAYLOAD CRC`` frames: a waiting control reply first, else one
    RESULT frame per result vector.

    Parameters
    ----------
    info : bytes
        The INFO reply's payload (:meth:`hdl.protocol.BuildInfo.to_payload`).
    result_layout : data.Layout
        The accelerator's result payload layout.

    Members
    -------
    reply : In(ReplySignature())
        The reply register: ``valid`` while a reply waits (kind, command and error code).
    reply_taken : Out(1)
        The framer takes the waiting reply this cycle (the register is cleared).
    results : In(stream.Signature(result_layout))
        Result vectors from the accelerator.
    tx : Out(stream.Signature(8))
        Bytes to the UART transmitter.

    Notes
    -----
    ACK payload: the command; ERROR: code and command; INFO: ``info``; RESULT: the result
    vector's bits, little endian, padded to bytes.
    """

    def __init__(self, *, info, result_layout):
        self._info = bytes(info)
        if not isinstance(result_layout, data.Layout):
            raise TypeError(f"result_layout must be a data.Layout, not {result_layout!r}")
        self._result_bytes = item_bytes(result_layout.size)
        super().__init__({
            "reply": In(ReplySignature()), "reply_taken": Out(1),
            "results": In(stream.Signature(result_layout)), "tx": Out(stream.Signature(8)),
        })

    def elaborate(self, platform):
        m = Module()
        info, result_bytes = self._info, self._result_bytes
        payload_bytes = max(result_bytes, len(info), 2)
        payload = Signal(8 * payload_bytes)
        out_kind = Signal(8)
        out_length = Signal(range(payload_bytes + 1))
        out_crc = Signal(8)
        sent = Signal(range(payload_bytes + 5))
        tx = self.tx
        current = Signal(8)
        sent_crc = crc8_step(m, out_crc, current, "tx_crc")
        reply = self.reply
        with m.FSM(name="frame"):
            with m.State("idle"):
                with m.If(reply.valid):
                    m.d.comb += self.reply_taken.eq(1)
                    m.d.sync += [out_kind.eq(reply.kind), sent.eq(0)]
                    with m.Switch(reply.kind):
                        with m.Case(Reply.INFO):
                            m.d.sync += [payload.eq(int.from_bytes(info, "little")),
                                         out_length.eq(len(info))]
                        with m.Case(Reply.ERROR):
                            m.d.sync += [payload.eq(Cat(reply.code, reply.command)),
                                         out_length.eq(2)]
                        with m.Default():
                            m.d.sync += [payload.eq(reply.command), out_length.eq(1)]
                    m.next = "send"
                with m.Elif(self.results.valid):
                    m.d.comb += self.results.ready.eq(1)
                    m.d.sync += [payload.eq(self.results.payload.as_value()),
                                 out_kind.eq(Reply.RESULT), out_length.eq(result_bytes),
                                 sent.eq(0)]
                    m.next = "send"
            with m.State("send"):
                with m.Switch(sent):
                    with m.Case(0):
                        m.d.comb += current.eq(DEVICE_SYNC)
                    with m.Case(1):
                        m.d.comb += current.eq(out_kind)
                    with m.Case(2):
                        m.d.comb += current.eq(out_length)
                    with m.Case(3):
                        m.d.comb += current.eq(0)
                    with m.Default():
                        m.d.comb += current.eq(Mux(sent == out_length + 4, out_crc, payload[:8]))
                m.d.comb += [tx.payload.eq(current), tx.valid.eq(1)]
                with m.If(tx.ready):
                    m.d.sync += sent.eq(sent + 1)
                    with m.If(sent == 0):
                        m.d.sync += out_crc.eq(0)
                    with m.Elif(sent < out_length + 4):
                        m.d.sync += out_crc.eq(sent_crc)
                    with m.If((sent >= 4) & (sent < out_length + 4)):
                        m.d.sync += payload.eq(payload >> 8)
                    with m.If(sent == out_length + 4):
                        m.next = "idle"
        return m
