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
    ACTIVATIONS item by item into the accelerator's streams, a config range-checked and an
    activation bound-checked first. A frame with the SEQ of the last one executed (a retry
    after a lost reply) gets the same reply again and is not executed twice.

    Parameters
    ----------
    layouts : dict
        The accelerator's stream payload layouts (:func:`hdl.accelerator.stream_layouts`).
    family : golden.family.Family
        The accelerator's family (the config range check: its fields and scale range).
    limits : golden.arith.ScalingLimits
        The accelerator's register sizes (the config range check).
    depth : int
        The accelerator's accumulator entries: the longest pass, in activation vectors.
    max_k_tiles : int
        The most K-tiles (passes) one accumulation may have: ``ceil(max_K / rows)``.
    max_payload : int
        Frame buffer size in bytes.
    item_sizes : tuple of int
        The item sizes whose divisibility ``divisible`` reports, as the receiver has them.
    stall_cycles : int
        A transfer the array has not taken for this many cycles in a row while no result
        waits at its output (it waits for something the host never sent) resets the array
        (STALLED); 16 to 2**24.

    Members
    -------
    execute : In(1), kind : In(8), seq : In(8), length : In(16), divisible : In(...)
        From the :class:`~hdl.hostlink.receiver.FrameReceiver` (``divisible`` has a bit per
        item size).
    read_addr : Out(range(max_payload)), read_data : In(8)
        The frame buffer's read port (synchronous: data one cycle after the address).
    config, weights, activations : Out(stream.Signature(...))
        To the accelerator; one item is presented at a time, held until taken.
    results_waiting : In(1)
        A result vector waits at the array's output: the array is not stuck, the stall timer
        starts again.
    array_reset : Out(1)
        Pulse: reset the array (a RESET command, a broken bound, a stall).
    results_restart : Out(1)
        Pulse: the RESULT frames' count starts again (INFO, or the array reset).
    reply : Out(ReplySignature())
        Pulse: the frame's reply (ACK, INFO, or ERROR with COMMAND, LENGTH, RANGE, BOUND or
        STALLED), echoing its SEQ.
    busy : Out(1)
        From ``execute`` until the reply has been taken by the framer.
    reply_pending, reply_taken : In(1)
        The reply register's state (a reply waits; the framer takes it this cycle).

    Notes
    -----
    Two cycles per payload byte (buffer read, shift into the item), two to check the item
    (the checks registered, then acted on), then one per item presented (more while the array
    holds ``ready`` low); the ACK one cycle after the last item is taken.

    The activation bounds, per vector with flags ``first``, ``acc_first``, ``acc_last``: a
    ``first`` vector with ``acc_first`` starts an accumulation; one without continues the
    accumulation that was started and not ended by an ``acc_last`` pass, which then has at
    most ``max_k_tiles`` passes. Any other vector belongs to the open pass: the same two
    ``acc_`` flags, at most ``depth`` vectors, and in a continuing pass no more than the
    accumulation's first pass had. A vector that breaks them is not presented: BOUND, and the
    array (and these bounds) are reset.
    """

    def __init__(self, *, layouts, family, limits, depth, max_k_tiles, max_payload, item_sizes,
                 stall_cycles):
        self._layouts = layouts
        self._family = family
        self._limits = limits
        self._depth = check_int("depth", depth, 1, 1 << 16)
        self._max_tiles = check_int("max_k_tiles", max_k_tiles, 1, 1 << 20)
        self._stall = check_int("stall_cycles", stall_cycles, 16, 1 << 24)
        self._sizes = tuple(item_sizes)
        self.item_bytes = {name: item_bytes(layouts[name].size) for name in STREAMS}
        super().__init__({
            "execute": In(1), "kind": In(8), "seq": In(8), "length": In(16),
            "divisible": In(len(self._sizes)),
            "read_addr": Out(range(max_payload)), "read_data": In(8),
            **{name: Out(stream.Signature(layouts[name])) for name in STREAMS},
            "results_waiting": In(1), "array_reset": Out(1), "results_restart": Out(1),
            "reply": Out(ReplySignature()), "busy": Out(1),
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
        range_ok, bound_ok = Signal(), Signal()
        vector_shape = self._layouts["activations"]
        vector = vector_shape(items["activations"][:vector_shape.size])
        bounds = _PassBounds(m, depth=self._depth, max_tiles=self._max_tiles)
        sizes = Signal(range(max(item_size.values()) + 1))
        m.d.comb += sizes.eq(Mux(target == 0, item_size["config"],
                                 Mux(target == 1, item_size["weights"],
                                     item_size["activations"])))
        m.d.comb += self.read_addr.eq(position)
        streams = [getattr(self, name) for name in STREAMS]

        # The last executed frame's SEQ and reply, for a retry of it.
        last = {name: Signal(8, name=f"last_{name}") for name in ("seq", "kind", "command",
                                                                    "code")}
        remembered = Signal()

        def send(kind_, command, code):
            m.d.comb += [self.reply.valid.eq(1), self.reply.kind.eq(kind_),
                         self.reply.command.eq(command), self.reply.seq.eq(self.seq),
                         self.reply.code.eq(code)]

        def reply(kind_, code=0):
            send(kind_, kind, code)
            m.d.sync += [last["seq"].eq(self.seq), last["kind"].eq(kind_),
                         last["command"].eq(kind), last["code"].eq(code),
                         remembered.eq(kind != Command.INFO)]

        def reset_array():
            m.d.comb += [self.array_reset.eq(1), self.results_restart.eq(1)]
            bounds.clear()

        with m.FSM(name="execute"):
            with m.State("idle"):
                with m.If(self.execute):
                    m.d.sync += [position.eq(0), in_item.eq(0), self.busy.eq(1)]
                    with m.If(remembered & (self.seq == last["seq"]) & (kind != Command.INFO)):
                        send(last["kind"], last["command"], last["code"])
                        m.next = "done"
                    with m.Else():
                        self._dispatch(m, reply, reset_array, target)
            with m.State("fetch"):  # the read port presents buffer[position] next cycle
                m.next = "shift"
            with m.State("shift"):
                for index, item in enumerate(items.values()):
                    with m.If(target == index):
                        m.d.sync += item.eq(Cat(item[8:], self.read_data))
                m.d.sync += [position.eq(position + 1), in_item.eq(in_item + 1)]
                with m.If(in_item + 1 == sizes):
                    m.d.sync += [in_item.eq(0), stall.eq(0)]
                    m.next = "settle"
                with m.Else():
                    m.next = "fetch"
            # The checks of the whole item are registered before anything depends on them:
            # they are deep logic, and the replies and the FSM are wide.
            with m.State("settle"):
                m.d.sync += [range_ok.eq(in_range), bound_ok.eq(bounds.allows(vector))]
                m.next = "check_item"
            with m.State("check_item"):
                with m.If((target == 0) & ~range_ok):
                    reply(Reply.ERROR, Error.RANGE)
                    m.next = "done"
                with m.Elif(target == 2):
                    with m.If(bound_ok):
                        bounds.advance(vector)
                        m.next = "present"
                    with m.Else():
                        reset_array()
                        reply(Reply.ERROR, Error.BOUND)
                        m.next = "done"
                with m.Else():
                    m.next = "present"
            with m.State("present"):
                for index, (port, item) in enumerate(zip(streams, items.values())):
                    m.d.comb += port.payload.eq(item[:port.payload.shape().size])
                    with m.If(target == index):
                        m.d.comb += port.valid.eq(1)
                        with m.If(port.ready):
                            # The ACK waits a cycle: the array's ready reaches only the FSM.
                            with m.If(position == length):
                                m.next = "acknowledge"
                            with m.Else():
                                m.next = "fetch"
                m.d.sync += stall.eq(Mux(self.results_waiting, 0, stall + 1))
                with m.If(stall == self._stall):
                    reset_array()
                    reply(Reply.ERROR, Error.STALLED)
                    m.next = "done"
            with m.State("acknowledge"):
                reply(Reply.ACK)
                m.next = "done"
            with m.State("done"):
                with m.If(~self.reply_pending | self.reply_taken):
                    m.d.sync += self.busy.eq(0)
                    m.next = "idle"
        return m

    def _dispatch(self, m, reply, reset_array, target):
        """The first cycle of a new frame: INFO and RESET answered, a stream frame started."""
        kind, length = self.kind, self.length
        with m.Switch(kind):
            with m.Case(Command.INFO):
                with m.If(length == 0):
                    m.d.comb += self.results_restart.eq(1)
                    reply(Reply.INFO)
                with m.Else():
                    reply(Reply.ERROR, Error.LENGTH)
                m.next = "done"
            with m.Case(Command.RESET):
                with m.If(length == 0):
                    reset_array()
                    reply(Reply.ACK)
                with m.Else():
                    reply(Reply.ERROR, Error.LENGTH)
                m.next = "done"
            for index, name in enumerate(STREAMS):
                with m.Case(_COMMANDS[name]):
                    size = self.item_bytes[name]
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


class _PassBounds:
    """The executor's record of the open pass and accumulation (see its Notes)."""

    def __init__(self, m, *, depth, max_tiles):
        self.m = m
        self.depth, self.max_tiles = depth, max_tiles
        self.open_pass = Signal()  # a pass has started since the last reset
        self.acc_first = Signal()  # the open pass's flags
        self.acc_last = Signal()
        self.length = Signal(range(depth + 1))  # vectors in the open pass
        self.first_length = Signal(range(depth + 1))  # vectors in the accumulation's first pass
        self.tiles = Signal(range(max_tiles + 1))  # passes in the open accumulation
        # Registered comparisons, kept with the counters so that the check of a vector does
        # not wait for them (the host link's critical path at fast clocks):
        self.room = Signal()  # the open pass may take one more vector
        self.more_tiles = Signal()  # the open accumulation may take one more pass

    def allows(self, vector):
        starts = vector.acc_first
        continues = self.open_pass & ~self.acc_last & self.more_tiles
        same_flags = (vector.acc_first == self.acc_first) & (vector.acc_last == self.acc_last)
        return Mux(vector.first, starts | continues, self.open_pass & same_flags & self.room)

    def advance(self, vector):
        m = self.m
        with m.If(vector.first):
            tiles = Mux(vector.acc_first, 1, self.tiles + 1)
            first_length = Mux(vector.acc_first, 1, self.first_length)
            m.d.sync += [self.open_pass.eq(1), self.acc_first.eq(vector.acc_first),
                         self.acc_last.eq(vector.acc_last), self.length.eq(1),
                         self.tiles.eq(tiles), self.more_tiles.eq(tiles < self.max_tiles),
                         self.first_length.eq(first_length),
                         self.room.eq(Mux(vector.acc_first, 1 < self.depth,
                                          1 < first_length))]
        with m.Else():
            length = self.length + 1
            m.d.sync += [self.length.eq(length),
                         self.room.eq(Mux(self.acc_first, length < self.depth,
                                          length < self.first_length))]
            with m.If(self.acc_first):
                m.d.sync += self.first_length.eq(length)

    def clear(self):
        self.m.d.sync += self.open_pass.eq(0)
