"""Reply framer: control replies and result vectors to device frames on the UART."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..protocol import CRC_INIT, DEVICE_SYNC, HEADER_BYTES, Reply, item_bytes
from .crc import crc16_step
from .reply import ReplySignature

__all__ = ["ReplyFramer"]


class ReplyFramer(wiring.Component):
    """Sends ``SYNC KIND SEQ LEN LEN PAYLOAD CRC CRC`` frames (:mod:`hdl.protocol`): a waiting
    control reply first, else one RESULT frame per result vector.

    Parameters
    ----------
    info : bytes
        The INFO reply's payload (:meth:`hdl.protocol.BuildInfo.to_payload`).
    result_layout : data.Layout
        The accelerator's result payload layout.

    Members
    -------
    reply : In(ReplySignature())
        The reply register: ``valid`` while a reply waits (kind, command, SEQ, error code).
    reply_taken : Out(1)
        The framer takes the waiting reply this cycle (the register is cleared).
    results : In(stream.Signature(result_layout))
        Result vectors from the accelerator.
    results_restart : In(1)
        The RESULT count starts again from 0 (the next RESULT frame's SEQ).
    tx : Out(stream.Signature(8))
        Bytes to the UART transmitter.

    Notes
    -----
    ACK payload: the command; ERROR: code and command; INFO: ``info``; RESULT: the result
    vector's bits, little endian, padded to bytes. A control reply's SEQ is its frame's; a
    RESULT's the count of RESULT frames before it since the last restart, mod 256.
    """

    def __init__(self, *, info, result_layout):
        self._info = bytes(info)
        if not isinstance(result_layout, data.Layout):
            raise TypeError(f"result_layout must be a data.Layout, not {result_layout!r}")
        self._result_bytes = item_bytes(result_layout.size)
        super().__init__({
            "reply": In(ReplySignature()), "reply_taken": Out(1),
            "results": In(stream.Signature(result_layout)), "results_restart": In(1),
            "tx": Out(stream.Signature(8)),
        })

    def elaborate(self, platform):
        m = Module()
        info, result_bytes = self._info, self._result_bytes
        payload_bytes = max(result_bytes, len(info), 2)
        payload = Signal(8 * payload_bytes)
        out_kind, out_seq = Signal(8), Signal(8)
        out_length = Signal(range(payload_bytes + 1))
        out_crc = Signal(16)
        results_sent = Signal(8)
        sent = Signal(range(payload_bytes + HEADER_BYTES + 2))
        crc_at = out_length + HEADER_BYTES  # the first CRC byte's position
        tx = self.tx
        current = Signal(8)
        sent_crc = crc16_step(m, out_crc, current, "tx_crc")
        reply = self.reply
        with m.If(self.results_restart):
            m.d.sync += results_sent.eq(0)
        with m.FSM(name="frame"):
            with m.State("idle"):
                with m.If(reply.valid):
                    m.d.comb += self.reply_taken.eq(1)
                    m.d.sync += [out_kind.eq(reply.kind), out_seq.eq(reply.seq), sent.eq(0)]
                    with m.Switch(reply.kind):
                        with m.Case(Reply.INFO):
                            m.d.sync += [payload.eq(int.from_bytes(info, "little")),
                                         out_length.eq(len(info))]
                        with m.Case(Reply.ERROR):
                            m.d.sync += [payload.eq(reply.code | reply.command << 8),
                                         out_length.eq(2)]
                        with m.Default():
                            m.d.sync += [payload.eq(reply.command), out_length.eq(1)]
                    m.next = "send"
                with m.Elif(self.results.valid):
                    m.d.comb += self.results.ready.eq(1)
                    m.d.sync += [payload.eq(self.results.payload.as_value()),
                                 out_kind.eq(Reply.RESULT), out_seq.eq(results_sent),
                                 out_length.eq(result_bytes), sent.eq(0)]
                    with m.If(~self.results_restart):
                        m.d.sync += results_sent.eq(results_sent + 1)
                    m.next = "send"
            with m.State("send"):
                with m.Switch(sent):
                    with m.Case(0):
                        m.d.comb += current.eq(DEVICE_SYNC)
                    with m.Case(1):
                        m.d.comb += current.eq(out_kind)
                    with m.Case(2):
                        m.d.comb += current.eq(out_seq)
                    with m.Case(3):
                        m.d.comb += current.eq(out_length)
                    with m.Case(4):
                        m.d.comb += current.eq(out_length >> 8)
                    with m.Default():
                        m.d.comb += current.eq(Mux(sent == crc_at, out_crc[:8],
                                                   Mux(sent == crc_at + 1, out_crc[8:],
                                                       payload[:8])))
                m.d.comb += [tx.payload.eq(current), tx.valid.eq(1)]
                with m.If(tx.ready):
                    m.d.sync += sent.eq(sent + 1)
                    with m.If(sent == 0):
                        m.d.sync += out_crc.eq(CRC_INIT)
                    with m.Elif(sent < crc_at):
                        m.d.sync += out_crc.eq(sent_crc)
                    with m.If((sent >= HEADER_BYTES) & (sent < crc_at)):
                        m.d.sync += payload.eq(payload >> 8)
                    with m.If(sent == crc_at + 1):
                        m.next = "idle"
        return m
