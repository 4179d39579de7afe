"""The resident device: the standalone core behind a UART. A program image is loaded once
(checked chunk by chunk and whole); then each image goes in as raw codes and its class and
logits come back (commands: :class:`hdl.protocol.Command` ``INFO``, ``LOAD_START``,
``LOAD``, ``RUN``; replies as in :mod:`hdl.protocol`)."""

from amaranth.hdl import Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden._checks import check_int
from golden.arith import DEFAULT_LIMITS
from ..hostlink.receiver import FrameReceiver
from ..hostlink.sender import FrameSender
from ..protocol import MAX_PAYLOAD, Command, Error, Reply, ResidentInfo
from ..uart import UARTReceiver, UARTTransmitter
from .core import StandaloneCore
from .io import InputWriter, OutputReader
from .loader import ImageLoader, LoadError
from .matmul import CodeMemory, share_memory
from .schedule import check_fields
from .spram import SPRAMCodeMemory

__all__ = ["ResidentEngine", "ResidentDevice", "payload_states"]

_IMAGE_ERROR = Error.IMAGE_MAGIC - LoadError.MAGIC  # Error.IMAGE_* = this + LoadError


def payload_states(m, name, *, index, length, offer, finish):
    """Two FSM states that hand a received frame's payload on a byte at a time: ``name``
    (buffer byte ``index`` is being read; ``finish()`` once ``index`` reaches ``length``) and
    ``name + "_OFFER"`` (``offer()`` the byte, which steps ``index`` and returns to
    ``name``)."""
    with m.State(name):
        with m.If(index == length):
            finish()
        with m.Else():
            m.next = f"{name}_OFFER"
    with m.State(f"{name}_OFFER"):
        offer()


class ResidentEngine(wiring.Component):
    """The resident device at the byte level: frames in from a byte stream, frames out.

    Parameters
    ----------
    family, lanes, depth, max_K, address_bits, instructions, records, limits, accelerator,
    max_window, max_align, fields
        Of the core (:class:`.core.StandaloneCore`) and the loader
        (:class:`.loader.ImageLoader`).
    memory : {"behavioural", "spram"}
        The code memory: :class:`.matmul.CodeMemory` (simulation, the ASIC flow) or the
        UP5K's SPRAMs (:class:`.spram.SPRAMCodeMemory`, 17 address bits).
    max_payload : int
        The frame buffer (bytes): the longest LOAD chunk, and at least one image.
    timeout : int
        Cycles of silence that drop a frame half received.
    clocks_per_bit, timeout_bits : int
        What INFO reports of the line (:class:`ResidentDevice` sets them).

    Members
    -------
    rx : In(stream.Signature(8, always_ready=True))
        Bytes from the line.
    tx : Out(stream.Signature(8))
        Bytes to the line.
    cycles : Out(32)
        The core's cycles in the last RUN.

    Notes
    -----
    A frame is received whole and its CRC-16 checked before it executes (the
    :class:`~hdl.hostlink.receiver.FrameReceiver`). The next frame may arrive while the device
    writes an image into memory, computes it or sends its RESULT: it is received whole and
    waits until the device is idle, so the line brings the next image while this one is
    computed. One frame waits at most; a frame that begins while one waits, or while a
    program image is being loaded, is ignored. The frame buffer is free once an image's
    codes are written, and while they are written the next frame cannot overtake them: the
    line brings a byte per 40 cycles at most (4 cycles a bit), the writer takes one per 2.

    ``LOAD_START`` (empty) forgets the program and begins an image; each ``LOAD`` feeds its
    payload to the loader and is answered ACK, or ERROR ``IMAGE_*`` (16 +
    :class:`.loader.LoadError`) once the loader refuses the image (then ``NOT_LOADING``
    until the next ``LOAD_START``). An image's codes, (y, x, c) order, come in ``INPUT``
    frames (each answered ACK) and a last ``RUN`` frame, or in the ``RUN`` frame alone when
    they fit one; the reply to RUN is a RESULT frame with its SEQ: the output tensor's
    codes, then the class (2 bytes, little endian). ERROR ``NO_PROGRAM`` without a loaded
    program, ``LENGTH`` for more codes than the input tensor holds or fewer by RUN,
    ``RANGE`` for a code wider than n bits (after ``LENGTH`` or ``RANGE`` the next chunk
    begins a new image), ``LIMIT`` when the core stops at an instruction beyond the build.
    INFO: :class:`hdl.protocol.ResidentInfo`.
    """

    def __init__(self, *, family, lanes, depth, max_K, address_bits=17, instructions=64,
                 records=512, limits=DEFAULT_LIMITS, accelerator=None, max_window=64,
                 max_align=8, fields=None, memory="behavioural", max_payload=1024,
                 timeout=10_000, clocks_per_bit=0, timeout_bits=0):
        if memory not in ("behavioural", "spram"):
            raise ValueError(f"memory must be 'behavioural' or 'spram', not {memory!r}")
        if memory == "spram" and address_bits != 17:
            raise ValueError(f"the SPRAMs hold 2**17 codes: address_bits must be 17, not "
                             f"{address_bits}")
        self._family = family
        self._fields = fields = check_fields(fields)
        self._max_payload = check_int("max_payload", max_payload, 16, MAX_PAYLOAD)
        self._timeout = check_int("timeout", timeout, 1, 1 << 32)
        self._memory_kind = memory
        self._address_bits = address_bits
        self._lanes = lanes
        build = dict(family=family, lanes=lanes, address_bits=address_bits,
                     instructions=instructions, records=records, limits=limits)
        self._loader = ImageLoader(**build, max_K=max_K, max_window=max_window,
                                   max_align=max_align, fields=fields)
        self._core = StandaloneCore(**build, depth=depth, max_K=max_K, accelerator=accelerator,
                                    max_window=max_window, max_align=max_align, fields=fields)
        self.info = ResidentInfo(
            family.spec, lanes, depth, max_K, limits.bias_bits, limits.m_bits,
            limits.shift_max, instructions, records, address_bits, max_window, max_align,
            fields.size, fields.channels, max_payload, clocks_per_bit, timeout_bits)
        super().__init__({"rx": In(stream.Signature(8, always_ready=True)),
                          "tx": Out(stream.Signature(8)), "cycles": Out(32)})

    def elaborate(self, platform):
        m = Module()
        family, lanes, n = self._family, self._lanes, self._family.n
        m.submodules.receiver = receiver = FrameReceiver(
            max_payload=self._max_payload, timeout=self._timeout, item_sizes=(1,))
        m.submodules.buffer = buffer = Memory(shape=8, depth=self._max_payload, init=[])
        keep, read = buffer.write_port(), buffer.read_port()
        m.submodules.loader = loader = self._loader
        m.submodules.core = core = self._core
        m.submodules.writer = writer = InputWriter(n=n, lanes=lanes,
                                                   address_bits=self._address_bits,
                                                   fields=self._fields)
        m.submodules.reader = reader = OutputReader(family=family, lanes=lanes,
                                                    address_bits=self._address_bits)
        m.submodules.sender = sender = FrameSender(max_length=max(self._max_payload,
                                                                  len(self.info.to_payload())))
        if self._memory_kind == "spram":
            m.submodules.memory = memory = SPRAMCodeMemory(n=n, lanes=lanes)
        else:
            m.submodules.memory = memory = CodeMemory(
                n=n, lanes=lanes, words=(1 << self._address_bits) // lanes)

        m.d.comb += [receiver.data.valid.eq(self.rx.valid),
                     receiver.data.payload.eq(self.rx.payload),
                     keep.addr.eq(receiver.write_addr), keep.data.eq(receiver.write_data),
                     keep.en.eq(receiver.write_en), self.cycles.eq(core.cycles),
                     writer.descriptor.eq(loader.input), reader.output.eq(loader.output)]
        wiring.connect(m, sender.tx, wiring.flipped(self.tx))
        wiring.connect(m, loader.load, core.load)

        # The code memory's user: the loader, the writer, the core or the reader.
        users = [loader.memory, writer.memory, core.memory, reader.memory]
        user = Signal(range(len(users)))
        share_memory(m, memory.port, users, user)

        command, seq, length = Signal(8), Signal(8), Signal(16)
        # The frame that arrived last, until the device is idle to take it: a good one
        # (waiting) or the error reply of a dropped one (dropped).
        waiting, dropped = Signal(), Signal()
        arrived_kind, arrived_seq, arrived_length, dropped_code = (Signal(8), Signal(8),
                                                                   Signal(16), Signal(8))
        index = Signal(16)  # the buffer byte offered, or the payload byte sent
        loading = Signal()
        writing = Signal()  # an image's first codes came in INPUT frames
        reply_kind, reply_code = Signal(8), Signal(8)
        m.d.comb += read.addr.eq(index)
        byte = read.data

        def reply(kind, code=0):
            m.d.sync += [reply_kind.eq(kind), reply_code.eq(code)]
            m.next = "REPLY"

        info = self.info.build_payload()
        state_bytes = [loader.valid, loader.error, *(loader.crc[8 * k:8 * k + 8]
                                                    for k in range(4))]
        payload = sender.payload
        m.d.comb += [sender.kind.eq(reply_kind), sender.seq.eq(seq)]
        with m.FSM() as fsm:
            # A frame may arrive unless one waits or an image loads (``ongoing``, not a
            # signal the states set: Icarus would leave that undefined until the state first
            # changes).
            m.d.comb += receiver.busy.eq(waiting | dropped | fsm.ongoing("LOAD")
                                         | fsm.ongoing("LOAD_OFFER"))
            with m.State("IDLE"):
                m.d.sync += index.eq(0)
                with m.If(dropped):  # a frame dropped on arrival
                    m.d.sync += [dropped.eq(0), command.eq(arrived_kind), seq.eq(arrived_seq)]
                    reply(Reply.ERROR, dropped_code)
                with m.Elif(waiting):
                    m.d.sync += [waiting.eq(0), command.eq(arrived_kind), seq.eq(arrived_seq),
                                 length.eq(arrived_length)]
                    with m.Switch(arrived_kind):
                        with m.Case(Command.INFO):
                            reply(Reply.INFO)
                        with m.Case(Command.LOAD_START):
                            with m.If(arrived_length != 0):
                                reply(Reply.ERROR, Error.LENGTH)
                            with m.Else():
                                m.d.comb += loader.start.eq(1)
                                m.d.sync += [loading.eq(1), writing.eq(0), user.eq(0)]
                                reply(Reply.ACK)
                        with m.Case(Command.LOAD):
                            with m.If(~loading):
                                reply(Reply.ERROR, Error.NOT_LOADING)
                            with m.Else():
                                m.d.sync += user.eq(0)
                                m.next = "LOAD"
                        with m.Case(Command.INPUT, Command.RUN):
                            with m.If(~loader.valid):
                                reply(Reply.ERROR, Error.NO_PROGRAM)
                            with m.Else():
                                m.d.comb += writer.start.eq(~writing)
                                m.d.sync += [user.eq(1), writing.eq(1)]
                                m.next = "WRITE"
                        with m.Default():
                            reply(Reply.ERROR, Error.COMMAND)

            def finish_load():
                with m.If(loader.error != LoadError.NONE):
                    m.d.sync += loading.eq(0)
                    reply(Reply.ERROR, loader.error + _IMAGE_ERROR)
                with m.Else():
                    m.d.sync += loading.eq(~loader.valid)
                    reply(Reply.ACK)

            def offer_load():
                m.d.comb += [loader.data.valid.eq(1), loader.data.payload.eq(byte)]
                with m.If(loader.data.ready):
                    m.d.sync += index.eq(index + 1)
                    m.next = "LOAD"

            def finish_write():
                with m.If(command == Command.INPUT):  # more codes to come
                    reply(Reply.ACK)
                with m.Elif(~writer.done):
                    m.d.sync += writing.eq(0)
                    reply(Reply.ERROR, Error.LENGTH)
                with m.Else():
                    m.d.comb += core.run.eq(1)
                    m.d.sync += [user.eq(2), writing.eq(0)]
                    m.next = "RUN"

            def offer_write():  # a refused chunk ends the image: the next one begins anew
                with m.If(writer.done):
                    m.d.sync += writing.eq(0)
                    reply(Reply.ERROR, Error.LENGTH)
                with m.Elif(byte[n:].any() if n < 8 else Const(0)):
                    m.d.sync += writing.eq(0)
                    reply(Reply.ERROR, Error.RANGE)
                with m.Else():
                    m.d.comb += [writer.codes.valid.eq(1), writer.codes.payload.eq(byte)]
                    m.d.sync += index.eq(index + 1)
                    m.next = "WRITE"

            payload_states(m, "LOAD", index=index, length=length, offer=offer_load,
                           finish=finish_load)
            payload_states(m, "WRITE", index=index, length=length, offer=offer_write,
                           finish=finish_write)
            with m.State("RUN"):  # the core is busy from the cycle after run
                m.next = "WAIT"
            with m.State("WAIT"):
                with m.If(~core.busy):
                    with m.If(core.error):
                        reply(Reply.ERROR, Error.LIMIT)
                    with m.Else():
                        m.d.comb += reader.start.eq(1)
                        m.d.sync += [user.eq(3), reply_kind.eq(Reply.RESULT), index.eq(0)]
                        m.next = "RESULT"
            with m.State("RESULT"):  # the logits as the reader finds them, then the class
                m.d.comb += [sender.start.eq(1), sender.length.eq(loader.output.count + 2)]
                m.next = "SEND_RESULT"
            with m.State("SEND_RESULT"):
                count = loader.output.count
                with m.If(index < count):
                    m.d.comb += [payload.valid.eq(reader.codes.valid),
                                 payload.payload.eq(reader.codes.payload),
                                 reader.codes.ready.eq(payload.ready)]
                with m.Else():
                    m.d.comb += [payload.valid.eq(reader.done),
                                 payload.payload.eq(reader.label.word_select(index != count,
                                                                             8))]
                with m.If(payload.valid & payload.ready):
                    m.d.sync += index.eq(index + 1)
                with m.If(~sender.busy & (index != 0)):
                    m.next = "IDLE"
            with m.State("REPLY"):
                m.d.sync += index.eq(0)
                m.d.comb += sender.start.eq(1)
                with m.Switch(reply_kind):
                    with m.Case(Reply.INFO):
                        m.d.comb += sender.length.eq(len(info) + len(state_bytes))
                    with m.Case(Reply.ERROR):
                        m.d.comb += sender.length.eq(2)
                    with m.Default():
                        m.d.comb += sender.length.eq(1)
                m.next = "SEND"
            with m.State("SEND"):  # ACK: the command; ERROR: code, command; INFO
                m.d.comb += payload.valid.eq(1)
                with m.If(reply_kind == Reply.INFO):
                    with m.Switch(index):
                        for k, value in enumerate([*info, *state_bytes]):
                            with m.Case(k):
                                m.d.comb += payload.payload.eq(value)
                with m.Elif((reply_kind == Reply.ERROR) & (index == 0)):
                    m.d.comb += payload.payload.eq(reply_code)
                with m.Else():
                    m.d.comb += payload.payload.eq(command)
                with m.If(payload.ready):
                    m.d.sync += index.eq(index + 1)
                with m.If(~sender.busy & (index != 0)):
                    m.next = "IDLE"
        # After the FSM, so that a frame arriving as the idle state takes the last one waits.
        with m.If(receiver.execute):
            m.d.sync += [waiting.eq(1), arrived_kind.eq(receiver.kind),
                         arrived_seq.eq(receiver.seq), arrived_length.eq(receiver.length)]
        with m.If(receiver.reply.valid):
            m.d.sync += [dropped.eq(1), arrived_kind.eq(receiver.reply.command),
                         arrived_seq.eq(receiver.reply.seq),
                         dropped_code.eq(receiver.reply.code)]
        return m


class ResidentDevice(wiring.Component):
    """The resident device on a UART: a :class:`ResidentEngine` between a receiver and a
    transmitter of ``clocks_per_bit`` cycles a bit.

    Parameters
    ----------
    clocks_per_bit : int
        4 to 65536.
    timeout_bits : int
        A frame with a longer gap is dropped (TRUNCATED), 20 to 65536 bit times.
    **engine
        The :class:`ResidentEngine`'s parameters.

    Members
    -------
    rx : In(1), tx : Out(1)
        The serial lines, idle high.
    cycles : Out(32)
        The core's cycles in the last RUN.
    """

    def __init__(self, *, clocks_per_bit=104, timeout_bits=200, **engine):
        self._cpb = check_int("clocks_per_bit", clocks_per_bit, 4, 1 << 16)
        check_int("timeout_bits", timeout_bits, 20, 1 << 16)
        self._engine = ResidentEngine(**engine, timeout=timeout_bits * clocks_per_bit,
                                      clocks_per_bit=clocks_per_bit, timeout_bits=timeout_bits)
        self.info = self._engine.info
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "cycles": Out(32)})

    clocks_per_bit = property(lambda self: self._cpb)

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = engine = self._engine
        m.submodules.uart_rx = uart_rx = UARTReceiver(clocks_per_bit=self._cpb)
        m.submodules.uart_tx = uart_tx = UARTTransmitter(clocks_per_bit=self._cpb)
        m.d.comb += [uart_rx.rx.eq(self.rx), self.tx.eq(uart_tx.tx),
                     engine.rx.valid.eq(uart_rx.data.valid),
                     engine.rx.payload.eq(uart_rx.data.payload), self.cycles.eq(engine.cycles)]
        wiring.connect(m, engine.tx, uart_tx.data)
        return m
