"""The accelerator behind a UART host link: frames in, results out (see :mod:`hdl.protocol`)."""

from amaranth.hdl import Module, ResetInserter, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden._checks import check_int
from golden.arith import DEFAULT_LIMITS
from golden.ptq import MX_SPREAD
from ..accelerator import Accelerator, stream_layouts
from ..operand import check_family
from ..protocol import MAX_PAYLOAD, BuildInfo, item_bytes
from ..uart import UARTReceiver, UARTTransmitter
from .executor import STREAMS, FrameExecutor
from .framer import ReplyFramer
from .receiver import FrameReceiver

__all__ = ["HostLink"]


class HostLink(wiring.Component):
    """An :class:`~hdl.accelerator.Accelerator` driven through a UART with the frame protocol.

    Four parts: the UART, a :class:`~hdl.hostlink.receiver.FrameReceiver` (bytes into the
    frame buffer, checked), a :class:`~hdl.hostlink.executor.FrameExecutor` (the checked
    frame into the array's streams) and a :class:`~hdl.hostlink.framer.ReplyFramer` (replies
    and results out); one reply register between them.

    Parameters
    ----------
    family, form, rows, cols, max_K, depth, limits, scaling, dsp_pes, dsp_split,
    scaling_multiplier, shared_weight_decoder, pipelined, hold_idle
        Of the accelerator (see :class:`hdl.accelerator.Accelerator`).
    clocks_per_bit : int
        UART bit time in clock cycles (4 to 65536): 104 is 115200 baud at 12 MHz.
    max_payload : int
        Frame buffer size in bytes (16 to :data:`hdl.protocol.MAX_PAYLOAD`, the longest the
        CRC protects with Hamming distance 4); a longer frame is refused (TOO_LONG).
    timeout_bits : int
        A frame with a gap longer than this many bit times is dropped (TRUNCATED), 20 to
        65536.
    stall_cycles : int
        A transfer the array has not taken for this many cycles while no result waits at its
        output resets the array (STALLED): the host sent something the array cannot take
        without an input that never came. It must exceed the array's
        :attr:`~hdl.accelerator.Accelerator.longest_wait`, so legal traffic never stalls
        however slow the line (up to 2**24).

    Members
    -------
    rx : In(1), tx : Out(1)
        The serial lines, idle high.

    Notes
    -----
    A frame is received whole into the buffer and its CRC and length checked before any of it
    is executed; items then go to the array one at a time (two cycles per byte, two per item
    check). Results back-pressure the activations: while the framer sends them, however
    slowly, the executor waits. The device ignores bytes while it executes a frame and until
    its reply is sent.
    """

    def __init__(self, *, family, form="int", rows, cols, max_K, depth=64,
                 limits=DEFAULT_LIMITS, scaling="per_column", dsp_pes=None, dsp_split=None,
                 scaling_multiplier=None, shared_weight_decoder=False, pipelined=False,
                 hold_idle=True, clocks_per_bit=104, max_payload=256, timeout_bits=200,
                 stall_cycles=1 << 16, mx_block=None, mx_spread=MX_SPREAD):
        if mx_block is not None and (check_int("mx_block", mx_block, 1, 1 << 15)
                                     & (mx_block - 1)):
            raise ValueError(f"mx_block must be a power of two over the host link (its INFO "
                             f"reply carries its log2), not {mx_block}")
        self._array = dict(family=family, form=form, rows=rows, cols=cols, max_K=max_K,
                           depth=depth, limits=limits, scaling=scaling, dsp_pes=dsp_pes,
                           dsp_split=dsp_split, scaling_multiplier=scaling_multiplier,
                           shared_weight_decoder=shared_weight_decoder, pipelined=pipelined,
                           hold_idle=hold_idle, mx_block=mx_block, mx_spread=mx_spread)
        check_family(family)
        self._cpb = check_int("clocks_per_bit", clocks_per_bit, 4, 1 << 16)
        self._max_payload = check_int("max_payload", max_payload, 16, MAX_PAYLOAD)
        self._timeout_bits = check_int("timeout_bits", timeout_bits, 20, 1 << 16)
        self._stall = check_int("stall_cycles", stall_cycles, 16, 1 << 24)
        self._accelerator = Accelerator(**self._array)
        self._layouts = stream_layouts(family, rows, cols, limits,
                                       self._accelerator.block_shift)
        self.item_bytes = {kind: item_bytes(self._layouts[kind].size) for kind in STREAMS}
        if max(self.item_bytes.values()) > max_payload:
            raise ValueError(f"max_payload must hold one item of every kind "
                             f"({max(self.item_bytes.values())} bytes), not {max_payload}")
        if self._stall <= self._accelerator.longest_wait:
            raise ValueError(f"stall_cycles must exceed the array's longest legal wait "
                             f"({self._accelerator.longest_wait} cycles for this array), "
                             f"not {stall_cycles}")
        self.info = BuildInfo(family.spec, form, rows, cols, depth, max_K, limits.bias_bits,
                              limits.m_bits, limits.shift_max, max_payload, scaling,
                              clocks_per_bit, timeout_bits, mx_block,
                              self._accelerator.block_shift)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1)})

    @property
    def clocks_per_bit(self):
        return self._cpb

    def elaborate(self, platform):
        m = Module()
        array_reset = Signal()
        m.submodules.array = array = ResetInserter(array_reset)(self._accelerator)
        m.submodules.uart_rx = uart_rx = UARTReceiver(clocks_per_bit=self._cpb)
        m.submodules.uart_tx = uart_tx = UARTTransmitter(clocks_per_bit=self._cpb)
        m.d.comb += [uart_rx.rx.eq(self.rx), self.tx.eq(uart_tx.tx)]
        m.submodules.buffer = buffer = Memory(shape=8, depth=self._max_payload, init=[])
        write, read = buffer.write_port(), buffer.read_port()

        sizes = tuple(self.item_bytes.values())
        m.submodules.receiver = receiver = FrameReceiver(
            max_payload=self._max_payload, timeout=self._timeout_bits * self._cpb,
            item_sizes=sizes)
        m.submodules.executor = executor = FrameExecutor(
            layouts=self._layouts, family=self._array["family"], limits=self._array["limits"],
            depth=self._array["depth"], max_k_tiles=self._accelerator.max_k_tiles,
            max_payload=self._max_payload, item_sizes=receiver.item_sizes,
            stall_cycles=self._stall)
        m.submodules.framer = framer = ReplyFramer(info=self.info.to_payload(),
                                                   result_layout=self._layouts["results"])

        # The reply register: one control frame (ACK, ERROR or INFO) waiting for the framer.
        # The receiver and the executor never ask at once (the receiver only starts a frame
        # while neither executes nor waits); the framer taking it clears it.
        reply_pending = Signal()
        waiting = {name: Signal(8, name=f"reply_{name}")
                   for name in ("kind", "command", "seq", "code")}
        for source in (receiver.reply, executor.reply):  # the executor's would win
            with m.If(source.valid):
                m.d.sync += reply_pending.eq(1)
                m.d.sync += [signal.eq(getattr(source, name)) for name, signal in waiting.items()]
        with m.If(framer.reply_taken):
            m.d.sync += reply_pending.eq(0)

        m.d.comb += [
            receiver.data.valid.eq(uart_rx.data.valid),
            receiver.data.payload.eq(uart_rx.data.payload),
            receiver.busy.eq(reply_pending | executor.busy),
            write.addr.eq(receiver.write_addr), write.data.eq(receiver.write_data),
            write.en.eq(receiver.write_en),
            executor.execute.eq(receiver.execute), executor.kind.eq(receiver.kind),
            executor.seq.eq(receiver.seq), executor.length.eq(receiver.length),
            executor.divisible.eq(receiver.divisible),
            read.addr.eq(executor.read_addr), read.en.eq(1),
            executor.read_data.eq(read.data),
            array_reset.eq(executor.array_reset),
            executor.results_waiting.eq(array.results.valid),
            framer.results_restart.eq(executor.results_restart),
            executor.reply_pending.eq(reply_pending), executor.reply_taken.eq(framer.reply_taken),
            framer.reply.valid.eq(reply_pending),
            *[getattr(framer.reply, name).eq(signal) for name, signal in waiting.items()],
        ]
        for name in STREAMS:
            wiring.connect(m, executor=getattr(executor, name), array=getattr(array, name))
        wiring.connect(m, array=array.results, framer=framer.results)
        wiring.connect(m, framer=framer.tx, uart=uart_tx.data)
        return m
