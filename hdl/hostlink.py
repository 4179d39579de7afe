"""The accelerator behind a UART host link: frames in, results out (see :mod:`hdl.protocol`)."""

from amaranth.hdl import Cat, Module, Mux, ResetInserter, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden._checks import check_int
from golden.arith import DEFAULT_LIMITS
from .accelerator import Accelerator, stream_layouts
from .operand import check_family
from .protocol import (DEVICE_SYNC, HOST_SYNC, BuildInfo, Command, Error, Reply, item_bytes)
from .uart import UARTReceiver, UARTTransmitter

__all__ = ["HostLink"]


def _crc8_step(m, crc, byte, name):
    """CRC-8 (polynomial 0x07) of one more byte: a signal, through one signal per bit step."""
    value = crc ^ byte
    for step in range(8):
        bit = Signal(8, name=f"{name}_{step}")
        m.d.comb += bit.eq(Mux(value[7], (value << 1) ^ 0x07, value << 1)[:8])
        value = bit
    return value


class HostLink(wiring.Component):
    """An :class:`~hdl.accelerator.Accelerator` driven through a UART with the frame protocol.

    Parameters
    ----------
    family, form, rows, cols, max_K, depth, limits, scaling, dsp_pes
        Of the accelerator (see :class:`hdl.accelerator.Accelerator`).
    clocks_per_bit : int
        UART bit time in clock cycles (4 to 65536): 104 is 115200 baud at 12 MHz.
    max_payload : int
        Frame buffer size in bytes (16 to 4096); longer frames get a LENGTH error.
    timeout_bits : int
        A frame with a gap longer than this many bit times is dropped (TRUNCATED).
    stall_cycles : int
        A transfer the array has not taken after this many cycles resets the array (STALLED).

    Attributes
    ----------
    rx : In(1), tx : Out(1)
        The serial lines, idle high.

    Notes
    -----
    A frame is received whole into the buffer and its CRC and length checked before any of it
    is executed; items then go to the array one at a time (two cycles per byte). The device
    ignores bytes while it executes a frame and until its reply is sent.
    """

    def __init__(self, *, family, form="int", rows, cols, max_K, depth=64,
                 limits=DEFAULT_LIMITS, scaling="per_column", dsp_pes=None, clocks_per_bit=104, max_payload=256, timeout_bits=200,
                 stall_cycles=1 << 16):
        self._array = dict(family=family, form=form, rows=rows, cols=cols, max_K=max_K,
                           depth=depth, limits=limits, scaling=scaling, dsp_pes=dsp_pes)
        check_family(family)
        self._cpb = check_int("clocks_per_bit", clocks_per_bit, 4, 1 << 16)
        self._max_payload = check_int("max_payload", max_payload, 16, 4096)
        self._timeout = check_int("timeout_bits", timeout_bits, 20, 1 << 16) * clocks_per_bit
        self._stall = check_int("stall_cycles", stall_cycles, 16, 1 << 24)
        self.info = BuildInfo(family.spec, form, rows, cols, depth, max_K, limits.bias_bits,
                              limits.m_bits, limits.shift_max, max_payload)
        self._layouts = stream_layouts(family, rows, cols, limits)
        self.item_bytes = {kind: item_bytes(self._layouts[kind].size)
                           for kind in ("config", "weights", "activations")}
        if max(self.item_bytes.values()) > max_payload:
            raise ValueError(f"max_payload must hold one item of every kind "
                             f"({max(self.item_bytes.values())} bytes), not {max_payload}")
        self._accelerator = Accelerator(**self._array)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1)})

    @property
    def clocks_per_bit(self):
        return self._cpb

    def elaborate(self, platform):
        m = Module()
        family, cols = self._array["family"], self._array["cols"]
        limits = self._array["limits"]
        array_reset = Signal()
        m.submodules.array = array = ResetInserter(array_reset)(self._accelerator)
        m.submodules.receiver = receiver = UARTReceiver(clocks_per_bit=self._cpb)
        m.submodules.transmitter = transmitter = UARTTransmitter(clocks_per_bit=self._cpb)
        m.d.comb += [receiver.rx.eq(self.rx), self.tx.eq(transmitter.tx)]
        m.submodules.buffer = buffer = Memory(shape=8, depth=self._max_payload, init=[])
        write, read = buffer.write_port(), buffer.read_port()

        # The reply register: one control frame (ACK, ERROR or INFO) waiting for the framer.
        reply_pending = Signal()
        reply_kind = Signal(8)
        reply_code = Signal(8)  # ERROR: the error code
        reply_command = Signal(8)
        reply_taken = Signal()

        def reply(kind, command, code=0):
            return [reply_pending.eq(1), reply_kind.eq(kind), reply_command.eq(command),
                    reply_code.eq(code)]

        # Receiver: whole frame into the buffer, CRC and length checked.
        byte = receiver.data.payload
        got = receiver.data.valid
        kind = Signal(8)
        length = Signal(16)
        count = Signal(16)
        crc = Signal(8)
        idle_timer = Signal(range(self._timeout + 1))
        execute = Signal()  # pulse: a checked frame is in the buffer
        executing = Signal()
        m.d.comb += [write.addr.eq(count), write.data.eq(byte)]
        # The payload length modulo each item size, counted as bytes arrive (no divider).
        remainders = {size: Signal(range(size), name=f"length_mod_{size}")
                      for size in sorted(set(self.item_bytes.values()))}
        received_crc = _crc8_step(m, crc, byte, "rx_crc")
        with m.FSM(name="receive"):
            with m.State("hunt"):
                with m.If(got & (byte == HOST_SYNC) & ~reply_pending & ~executing):
                    m.d.sync += [crc.eq(0), count.eq(0), idle_timer.eq(0)]
                    m.d.sync += [r.eq(0) for r in remainders.values()]
                    m.next = "kind"
            for state, following, action in (
                    ("kind", "length_low", kind.eq(byte)),
                    ("length_low", "length_high", length.eq(byte)),
                    ("length_high", "payload", length[8:].eq(byte)),
                    ("payload", "check", None), ("check", "hunt", None)):
                with m.State(state):
                    m.d.sync += idle_timer.eq(Mux(got, 0, idle_timer + 1))
                    with m.If(idle_timer == self._timeout):
                        m.d.sync += reply(Reply.ERROR, kind, Error.TRUNCATED)
                        m.next = "hunt"
                    with m.Elif(got):
                        if state != "check":
                            m.d.sync += crc.eq(received_crc)
                        if action is not None:
                            m.d.sync += action
                        if state == "length_high":
                            with m.If(Cat(length[:8], byte) == 0):
                                m.next = "check"
                            with m.Else():
                                m.next = "payload"
                        elif state == "payload":
                            m.d.comb += write.en.eq(count < self._max_payload)
                            m.d.sync += count.eq(count + 1)
                            for size, r in remainders.items():
                                m.d.sync += r.eq(Mux(r == size - 1, 0, r + 1))
                            with m.If(count + 1 == length):
                                m.next = "check"
                        elif state == "check":
                            with m.If(byte != crc):
                                m.d.sync += reply(Reply.ERROR, kind, Error.CHECKSUM)
                            with m.Elif(length > self._max_payload):
                                m.d.sync += reply(Reply.ERROR, kind, Error.LENGTH)
                            with m.Else():
                                m.d.comb += execute.eq(1)
                            m.next = "hunt"
                        else:
                            m.next = following

        # Executor: length rules per command, then items to the array one at a time.
        item_size = self.item_bytes
        items = {name: Signal(8 * size, name=f"{name}_item") for name, size in item_size.items()}
        target = Signal(range(3))  # 0 config, 1 weights, 2 activations
        position = Signal(16)  # next buffer byte
        in_item = Signal(range(max(item_size.values()) + 1))
        stall = Signal(range(self._stall + 1))
        config_shape = self._layouts["config"]
        config_view = config_shape(items["config"][:config_shape.size])
        in_range = self._config_in_range(config_view, family, cols, limits)
        sizes = Signal(range(max(item_size.values()) + 1))
        m.d.comb += sizes.eq(Mux(target == 0, item_size["config"],
                                 Mux(target == 1, item_size["weights"],
                                     item_size["activations"])))
        m.d.comb += [read.addr.eq(position), read.en.eq(1)]
        streams = (array.config, array.weights, array.activations)
        with m.FSM(name="execute"):
            with m.State("idle"):
                with m.If(execute):
                    m.d.sync += [position.eq(0), in_item.eq(0), executing.eq(1)]
                    with m.Switch(kind):
                        with m.Case(Command.INFO):
                            with m.If(length == 0):
                                m.d.sync += reply(Reply.INFO, kind)
                            with m.Else():
                                m.d.sync += reply(Reply.ERROR, kind, Error.LENGTH)
                            m.next = "done"
                        with m.Case(Command.RESET):
                            with m.If(length == 0):
                                m.d.comb += array_reset.eq(1)
                                m.d.sync += reply(Reply.ACK, kind)
                            with m.Else():
                                m.d.sync += reply(Reply.ERROR, kind, Error.LENGTH)
                            m.next = "done"
                        for index, (command, name) in enumerate((
                                (Command.CONFIG, "config"), (Command.WEIGHTS, "weights"),
                                (Command.ACTIVATIONS, "activations"))):
                            with m.Case(command):
                                size = item_size[name]
                                legal = (length == size) if name == "config" else \
                                    ((length != 0) & (remainders[size] == 0))
                                with m.If(legal):
                                    m.d.sync += target.eq(index)
                                    m.next = "fetch"
                                with m.Else():
                                    m.d.sync += reply(Reply.ERROR, kind, Error.LENGTH)
                                    m.next = "done"
                        with m.Default():
                            m.d.sync += reply(Reply.ERROR, kind, Error.COMMAND)
                            m.next = "done"
            with m.State("fetch"):  # the read port presents buffer[position] next cycle
                m.next = "shift"
            with m.State("shift"):
                for index, item in enumerate(items.values()):
                    with m.If(target == index):
                        m.d.sync += item.eq(Cat(item[8:], read.data))
                m.d.sync += [position.eq(position + 1), in_item.eq(in_item + 1)]
                with m.If(in_item + 1 == sizes):
                    m.d.sync += [in_item.eq(0), stall.eq(0)]
                    m.next = "check_item"
                with m.Else():
                    m.next = "fetch"
            with m.State("check_item"):
                with m.If((target == 0) & ~in_range):
                    m.d.sync += reply(Reply.ERROR, kind, Error.RANGE)
                    m.next = "done"
                with m.Else():
                    m.next = "present"
            with m.State("present"):
                for index, (stream, item) in enumerate(zip(streams, items.values())):
                    m.d.comb += stream.payload.eq(item[:stream.payload.shape().size])
                    with m.If(target == index):
                        m.d.comb += stream.valid.eq(1)
                        with m.If(stream.ready):
                            with m.If(position == length):
                                m.d.sync += reply(Reply.ACK, kind)
                                m.next = "done"
                            with m.Else():
                                m.next = "fetch"
                m.d.sync += stall.eq(stall + 1)
                with m.If(stall == self._stall):
                    m.d.comb += array_reset.eq(1)
                    m.d.sync += reply(Reply.ERROR, kind, Error.STALLED)
                    m.next = "done"
            with m.State("done"):
                with m.If(~reply_pending | reply_taken):
                    m.d.sync += executing.eq(0)
                    m.next = "idle"

        # Framer: control replies first, else one result vector per RESULT frame.
        info = self.info.to_payload()
        result_bytes = item_bytes(self._layouts["results"].size)
        payload_bytes = max(result_bytes, len(info), 2)
        payload = Signal(8 * payload_bytes)
        out_kind = Signal(8)
        out_length = Signal(range(payload_bytes + 1))
        out_crc = Signal(8)
        sent = Signal(range(payload_bytes + 5))
        tx = transmitter.data
        current = Signal(8)
        sent_crc = _crc8_step(m, out_crc, current, "tx_crc")
        with m.FSM(name="frame"):
            with m.State("idle"):
                with m.If(reply_pending):
                    m.d.comb += reply_taken.eq(1)
                    m.d.sync += [reply_pending.eq(0), out_kind.eq(reply_kind), sent.eq(0)]
                    with m.Switch(reply_kind):
                        with m.Case(Reply.INFO):
                            m.d.sync += [payload.eq(int.from_bytes(info, "little")),
                                         out_length.eq(len(info))]
                        with m.Case(Reply.ERROR):
                            m.d.sync += [payload.eq(Cat(reply_code, reply_command)),
                                         out_length.eq(2)]
                        with m.Default():
                            m.d.sync += [payload.eq(reply_command), out_length.eq(1)]
                    m.next = "send"
                with m.Elif(array.results.valid):
                    m.d.comb += array.results.ready.eq(1)
                    m.d.sync += [payload.eq(array.results.payload.as_value()),
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

    @staticmethod
    def _config_in_range(config, family, cols, limits):
        checks = []
        for prefix in ("a_", "w_", "out_"):
            for name, (low, high) in family.fields.items():
                value = getattr(config, f"{prefix}{name}")
                checks += [value >= low, value <= high]
        low, high = family.scale_range
        for name in ("a_scale", "w_scale", "out_scale"):
            value = getattr(config, name)
            checks += [value >= low, value <= high]
        for j in range(cols):
            checks += [config.M[j] != 0, config.shift[j] <= limits.shift_max]
        return Cat(*checks).all()
