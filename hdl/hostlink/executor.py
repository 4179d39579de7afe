"""Frame executor: a checked frame's items, one at a time, into the accelerator's streams."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from golden._checks import check_int
from ..protocol import Command, Error, Reply, item_bytes
from .reply import ReplySignature

__all__ = ["FrameExecutor", "STREAMS"]

#: The accelerator streams a frame can feed, in the order of their targets.
STREAMS = ("config", "weights", "activations")
_COMMANDS = {"config": Command.CONFIG, "weights": Command.WEIGHTS,
             "activations": Command.ACTIVATIONS}


class FrameExecutor(wiring.Component):
    """Executes the frame in the buffer: INFO and RESET at once; CONFIG, WEIGHTS and
    ACTIVATIONS item by item into the accelerator's streams, a config range-checked first.

    Parameters
    ----------
    layouts : dict
        The accelerator's stream payload layouts (:func:`hdl.accelerator.stream_layouts`).
    family : golden.family.Family
        The accelerator's family (the config range check: its fields and scale range).
    limits : golden.arith.ScalingLimits
        The accelerator's register sizes (the config range check).
    max_payload : int
        Frame buffer size in bytes.
    item_sizes : tuple of int
        The item sizes whose divisibility ``divisible`` reports, as the receiver has them.
    stall_cycles : int
        A transfer the array has not taken after this many cycles resets the array (STALLED).

    Members
    -------
    execute : In(1), kind : In(8), length : In(16), divisible : In(len(item_sizes))
        From the :class:`~hdl.hostlink.receiver.FrameReceiver`.
    read_addr : Out(range(max_payload)), read_data : In(8)
        The frame buffer's read port (synchronous: data one cycle after the address).
    config, weights, activations : Out(stream.Signature(...))
        To the accelerator; one item is presented at a time, held until taken.
    array_reset : Out(1)
        Pulse: reset the array (a RESET command, or a stall).
    reply : Out(ReplySignature())
        Pulse: the frame's reply (ACK, INFO, or ERROR with COMMAND, LENGTH, RANGE, STALLED).
    busy : Out(1)
        From ``execute`` until the reply has been taken by the framer.
    reply_pending, reply_taken : In(1)
        The reply register's state (a reply waits; the framer takes it this cycle).

    Notes
    -----
    Two cycles per payload byte (buffer read, shift into the item), then one per item
    presented (more while the array holds ``ready`` low).
    """

    def __init__(self, *, layouts, family, limits, max_payload, item_sizes, stall_cycles):
        self._layouts = layouts
        self._family = family
        self._limits = limits
        self._stall = check_int("stall_cycles", stall_cycles, 16, 1 << 24)
        self._sizes = tuple(item_sizes)
        self.item_bytes = {name: item_bytes(layouts[name].size) for name in STREAMS}
        super().__init__({
            "execute": In(1), "kind": In(8), "length": In(16),
            "divisible": In(len(self._sizes)),
            "read_addr": Out(range(max_payload)), "read_data": In(8),
            **{name: Out(stream.Signature(layouts[name])) for name in STREAMS},
            "array_reset": Out(1), "reply": Out(ReplySignature()), "busy": Out(1),
            "reply_pending": In(1), "reply_taken": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        kind, length = self.kind, self.length
        item_size = self.item_bytes
        items = {name: Signal(8 * size, name=f"{name}_item") for name, size in item_size.items()}
        target = Signal(range(len(STREAMS)))  # index into STREAMS
        position = Signal(16)  # next buffer byte
        in_item = Signal(range(max(item_size.values()) + 1))
        stall = Signal(range(self._stall + 1))
        config_shape = self._layouts["config"]
        in_range = self._config_in_range(config_shape(items["config"][:config_shape.size]))
        sizes = Signal(range(max(item_size.values()) + 1))
        m.d.comb += sizes.eq(Mux(target == 0, item_size["config"],
                                 Mux(target == 1, item_size["weights"],
                                     item_size["activations"])))
        m.d.comb += self.read_addr.eq(position)
        streams = [getattr(self, name) for name in STREAMS]

        def reply(kind_, code=0):
            m.d.comb += [self.reply.valid.eq(1), self.reply.kind.eq(kind_),
                         self.reply.command.eq(kind), self.reply.code.eq(code)]

        with m.FSM(name="execute"):
            with m.State("idle"):
                with m.If(self.execute):
                    m.d.sync += [position.eq(0), in_item.eq(0), self.busy.eq(1)]
                    with m.Switch(kind):
                        with m.Case(Command.INFO):
                            with m.If(length == 0):
                                reply(Reply.INFO)
                            with m.Else():
                                reply(Reply.ERROR, Error.LENGTH)
                            m.next = "done"
                        with m.Case(Command.RESET):
                            with m.If(length == 0):
                                m.d.comb += self.array_reset.eq(1)
                                reply(Reply.ACK)
                            with m.Else():
                                reply(Reply.ERROR, Error.LENGTH)
                            m.next = "done"
                        for index, name in enumerate(STREAMS):
                            with m.Case(_COMMANDS[name]):
                                size = item_size[name]
                                legal = (length == size) if name == "config" else \
                                    ((length != 0) & self.divisible[self._sizes.index(size)])
                                with m.If(legal):
                                    m.d.sync += target.eq(index)
                                    m.next = "fetch"
                                with m.Else():
                                    reply(Reply.ERROR, Error.LENGTH)
                                    m.next = "done"
                        with m.Default():
                            reply(Reply.ERROR, Error.COMMAND)
                            m.next = "done"
            with m.State("fetch"):  # the read port presents buffer[position] next cycle
                m.next = "shift"
            with m.State("shift"):
                for index, item in enumerate(items.values()):
                    with m.If(target == index):
                        m.d.sync += item.eq(Cat(item[8:], self.read_data))
                m.d.sync += [position.eq(position + 1), in_item.eq(in_item + 1)]
                with m.If(in_item + 1 == sizes):
                    m.d.sync += [in_item.eq(0), stall.eq(0)]
                    m.next = "check_item"
                with m.Else():
                    m.next = "fetch"
            with m.State("check_item"):
                with m.If((target == 0) & ~in_range):
                    reply(Reply.ERROR, Error.RANGE)
                    m.next = "done"
                with m.Else():
                    m.next = "present"
            with m.State("present"):
                for index, (port, item) in enumerate(zip(streams, items.values())):
                    m.d.comb += port.payload.eq(item[:port.payload.shape().size])
                    with m.If(target == index):
                        m.d.comb += port.valid.eq(1)
                        with m.If(port.ready):
                            with m.If(position == length):
                                reply(Reply.ACK)
                                m.next = "done"
                            with m.Else():
                                m.next = "fetch"
                m.d.sync += stall.eq(stall + 1)
                with m.If(stall == self._stall):
                    m.d.comb += self.array_reset.eq(1)
                    reply(Reply.ERROR, Error.STALLED)
                    m.next = "done"
            with m.State("done"):
                with m.If(~self.reply_pending | self.reply_taken):
                    m.d.sync += self.busy.eq(0)
                    m.next = "idle"
        return m

    def _config_in_range(self, config):
        family, limits = self._family, self._limits
        checks = []
        for prefix in ("a_", "w_", "out_"):
            for name, (low, high) in family.fields.items():
                value = getattr(config, f"{prefix}{name}")
                checks += [value >= low, value <= high]
        low, high = family.scale_range
        for name in ("a_scale", "w_scale", "out_scale"):
            value = getattr(config, name)
            checks += [value >= low, value <= high]
        for j in range(len(config.M)):
            checks += [config.M[j] != 0, config.shift[j] <= limits.shift_max]
        return Cat(*checks).all()
