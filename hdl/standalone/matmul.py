"""The ``MATMUL`` unit: one instruction of a standalone program on the existing array.

The unit reads a convolution's windows and weight tiles straight from the code memory (the
addresses of :mod:`.schedule`), drives the :class:`hdl.accelerator.Accelerator`'s config,
weight and activation streams, and writes its results back: the hardware of
:func:`golden.interpreter.matmul_schedule`.
"""

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden._checks import check_int
from golden.arith import DEFAULT_LIMITS
from golden.program import INSTRUCTION_BYTES, instruction_layout
from ..accelerator import Accelerator, external_scaling_layout
from .schedule import GEOMETRY_FIELDS, MatmulSchedule

__all__ = ["instruction_struct", "record_layout", "MemoryPort", "ParamPort", "CodeMemory",
           "MatmulUnit", "check_lanes", "unit_members", "drive_member", "share_memory"]


def instruction_struct():
    """An instruction record (:func:`golden.program.instruction_layout`) as a struct whose
    bits are the record's bytes, little endian (so a loader stores a record as it comes):
    formats as four signed bytes, ``clip`` signed, the rest unsigned, then 3 reserved
    bytes."""
    fields = {}
    for name, _, size in instruction_layout():
        if name.endswith("_fmt"):
            fields[name] = data.ArrayLayout(signed(8), 4)
        else:
            fields[name] = signed(8 * size) if name == "clip" else unsigned(8 * size)
    fields["reserved"] = unsigned(8 * INSTRUCTION_BYTES - sum(
        size for _, _, size in instruction_layout()) * 8)
    return data.StructLayout(fields)


def drive_member(m, target, family, fmt, prefix="", *, scale=True):
    """``target.<prefix>scale`` (unless not ``scale``) and ``target.<prefix><field>`` from an
    instruction's four format bytes ``fmt``: the scale, then the family's run-time fields in
    order (:func:`golden.program.format_bytes`)."""
    if scale:
        m.d.comb += getattr(target, f"{prefix}scale").eq(fmt[0])
    for index, name in enumerate(family.fields):
        m.d.comb += getattr(target, f"{prefix}{name}").eq(fmt[1 + index])


def record_layout(limits):
    """One parameter record as the image stores it (little endian): ``bias`` (accumulator
    units, whole bytes), ``M`` (whole bytes), ``shift`` (a byte)."""
    return data.StructLayout({"bias": signed(8 * -(-limits.bias_bits // 8)),
                              "M": unsigned(8 * -(-limits.m_bits // 8)),
                              "shift": unsigned(8)})


def check_lanes(rows, cols):
    """The standalone design's array: square, a power of two wide (memory words of ``rows``
    codes, addresses split by bits)."""
    rows = check_int("rows", rows, 1, 64)
    cols = check_int("cols", cols, 1, 64)
    if rows != cols or rows & (rows - 1):
        raise ValueError(f"the standalone design needs a square array whose side is a power "
                         f"of two (1, 2, 4, 8, ...), not {rows}x{cols}")
    return rows


class MemoryPort(wiring.Signature):
    """A single-port code memory of words of ``lanes`` codes, seen from its user: one read
    (data a cycle later) or one write (a lane mask) per cycle."""

    def __init__(self, *, n, lanes, address_bits):
        super().__init__({"address": Out(unsigned(address_bits)), "read": Out(1),
                          "read_data": In(data.ArrayLayout(n, lanes)), "write": Out(lanes),
                          "write_data": Out(data.ArrayLayout(n, lanes))})

    @classmethod
    def for_codes(cls, *, n, lanes, address_bits):
        """The port of a memory of ``2**address_bits`` codes: its word addresses drop the
        lane bits."""
        return cls(n=n, lanes=lanes,
                   address_bits=max(1, address_bits - (lanes - 1).bit_length()))


class ParamPort(wiring.Signature):
    """The parameter records' memory, seen from its user: record ``address`` a cycle later."""

    def __init__(self, *, limits, address_bits=16):
        super().__init__({"address": Out(unsigned(address_bits)),
                          "read_data": In(record_layout(limits))})


def share_memory(m, port, users, select):
    """Connects the code memory ``port`` (the memory's side of a :class:`MemoryPort`) to
    ``users[select]`` (the users' sides); every user sees its read data."""
    for name in ("address", "read", "write", "write_data"):
        with m.Switch(select):
            for k, user in enumerate(users):
                with m.Case(k):
                    m.d.comb += getattr(port, name).eq(getattr(user, name))
    for user in users:
        m.d.comb += user.read_data.eq(port.read_data)


def unit_members(*, family, lanes, address_bits, limits):
    """The members of every execution unit of the standalone design: ``instruction`` (held
    from ``start`` until not ``busy``), ``start``, ``busy``, its ``memory`` port (word
    addresses) and its ``params`` port."""
    return {"instruction": In(instruction_struct()), "start": In(1),
            "busy": Out(1),
            "memory": Out(MemoryPort.for_codes(n=family.n, lanes=lanes,
                                               address_bits=address_bits)),
            "params": Out(ParamPort(limits=limits))}


class CodeMemory(wiring.Component):
    """A behavioural code memory (simulation and the ASIC flow; SPRAM on the iCE40): ``words``
    words of ``lanes`` codes behind a :class:`MemoryPort`; ``init`` gives the words as
    integers, lane 0 in the low bits.

    Members
    -------
    port : In(MemoryPort)
        Word addresses (code address divided by ``lanes``); the read data of a word is valid
        the cycle after ``read``; ``write`` masks the lanes written.
    """

    def __init__(self, *, n, lanes, words, init=()):
        self._n, self._lanes = check_int("n", n, 2, 16), check_int("lanes", lanes, 1, 64)
        self._words = check_int("words", words, 1, 1 << 24)
        self._memory = Memory(shape=unsigned(n * lanes), depth=words, init=list(init))
        super().__init__({"port": In(MemoryPort(n=n, lanes=lanes,
                                                address_bits=max(1, (words - 1).bit_length())))})

    @property
    def data(self):
        """The words as integers, lane 0 in the low bits (:class:`amaranth.hdl.MemoryData`;
        for testbenches)."""
        return self._memory.data

    def elaborate(self, platform):
        m = Module()
        m.submodules.memory = memory = self._memory
        read = memory.read_port()
        write = memory.write_port(granularity=self._n)
        m.d.comb += [read.addr.eq(self.port.address), read.en.eq(self.port.read),
                     self.port.read_data.eq(read.data), write.addr.eq(self.port.address),
                     write.data.eq(self.port.write_data), write.en.eq(self.port.write)]
        return m


class MatmulUnit(wiring.Component):
    """Runs one ``MATMUL`` instruction: windows and weights from the code memory through an
    :class:`~hdl.accelerator.Accelerator`, results back into the memory.

    Parameters
    ----------
    family : golden.family.Family
    lanes : int
        The array's rows and columns (square, a power of two: :func:`check_lanes`); a memory
        word holds ``lanes`` codes.
    depth : int
        Output pixels per chunk (the accumulator buffer's depth).
    max_K : int
        The longest dot product (K-tiles times ``lanes``).
    address_bits : int
        Code addresses.
    limits : golden.arith.ScalingLimits
    accelerator : dict
        More arguments of the :class:`~hdl.accelerator.Accelerator` (form, DSPs, pipelining).
    external_scaling : int
        Lend the array's shared scaling stage (``scaling="shared"`` in ``accelerator``) to
        another unit's accumulators of this width (the ``scaling`` members); 0: not.
    fields : FieldBits, optional
        How wide the address generators hold sizes and channel counts (8 and 12 bits by
        default); the core refuses an instruction beyond them.

    Members
    -------
    instruction : In(instruction_struct())
        Held from ``start`` until not ``busy``.
    start : In(1), busy : Out(1)
        ``busy`` from the cycle after ``start`` until the last result is in the memory.
    memory : Out(MemoryPort)
        Writes have priority over weight reads, weight reads over window reads.
    params : Out(ParamPort)
    scaling : In(external_scaling_layout), scaled_code : Out(n), scaled_valid : Out(1)
        With ``external_scaling``: the array's ``external`` members.

    Notes
    -----
    The accelerator's control order holds: tile t's config goes out once every window of
    tile t - 1 has been taken and before any of tile t's windows or weights, so each column
    tile's bias, M and shift apply to its own passes. A clipped ReLU's ceiling is an
    unsigned compare of codes: ``CLIP`` comes with ``RELU``, and a nonnegative code is its
    own ordinal in every family.
    """

    FIFO_DEPTH = 4

    def __init__(self, *, family, lanes, depth, max_K, address_bits,
                 limits=DEFAULT_LIMITS, accelerator=None, external_scaling=0, fields=None):
        self._family = family
        self._lanes = check_lanes(lanes, lanes)
        self._depth = check_int("depth", depth, 1, 4096)
        self._address_bits = check_int("address_bits", address_bits, 1, 32)
        self._limits = limits
        self._accelerator = Accelerator(family=family, rows=lanes, cols=lanes, max_K=max_K,
                                        depth=depth, limits=limits,
                                        external_scaling=external_scaling,
                                        **(accelerator or {}))
        self._schedule = MatmulSchedule(rows=lanes, cols=lanes, depth=depth,
                                        address_bits=address_bits, fields=fields)
        members = unit_members(family=family, lanes=lanes, address_bits=address_bits,
                               limits=limits)
        if external_scaling:
            members.update({"scaling": In(external_scaling_layout(family, limits,
                                                                  external_scaling)),
                            "scaled_code": Out(family.n), "scaled_valid": Out(1)})
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        lanes, n = self._lanes, self._family.n
        shift = (lanes - 1).bit_length()
        m.submodules.schedule = schedule = self._schedule
        m.submodules.accelerator = array = self._accelerator
        if "scaling" in self.signature.members:  # lent to another unit while this one idles
            m.d.comb += [array.external.eq(self.scaling),
                         self.scaled_code.eq(array.external_code),
                         self.scaled_valid.eq(array.external_valid)]
        held = self.instruction
        launch = Signal()
        m.d.sync += launch.eq(self.start & ~self.busy)
        m.d.comb += [getattr(schedule.geometry, name).eq(getattr(held, name))
                     for name in GEOMETRY_FIELDS]
        m.d.comb += schedule.start.eq(launch)

        # Configs: tile t's records fetched, offered once tile t's windows are at the head.
        tile_shape = schedule.passes.payload.tile.shape()
        configured = Signal(tile_shape)  # configs taken
        fetched = Signal(range(lanes + 2))
        records = Signal(data.ArrayLayout(record_layout(self._limits), lanes))
        config = array.config.payload
        for prefix, fmt in (("a_", held.a_fmt), ("w_", held.b_fmt), ("out_", held.out_fmt)):
            drive_member(m, config, self._family, fmt, prefix)
        m.d.comb += config.relu.eq(held.flags[0])
        for j in range(lanes):
            m.d.comb += [config.bias[j].eq(records[j].bias), config.M[j].eq(records[j].M),
                         config.shift[j].eq(records[j].shift)]
        m.d.comb += self.params.address.eq(held.params + (configured << shift) + fetched)
        with m.If(launch):
            m.d.sync += [configured.eq(0), fetched.eq(0)]
        with m.Elif(fetched <= lanes):
            m.d.sync += fetched.eq(fetched + 1)
            for j in range(lanes):
                with m.If(fetched == j + 1):
                    m.d.sync += records[j].eq(self.params.read_data)

        # Window reads and weight reads share the memory port with the result writes.
        vectors, passes = schedule.vectors, schedule.passes
        window_layout = data.StructLayout({"codes": data.ArrayLayout(n, lanes), "first": 1,
                                           "acc_first": 1, "acc_last": 1,
                                           "tile": tile_shape})
        m.submodules.windows = windows = SyncFIFO(width=window_layout.size,
                                                  depth=self.FIFO_DEPTH)
        m.submodules.weights = weights = SyncFIFO(width=n * lanes, depth=self.FIFO_DEPTH)
        window_in_flight, weight_in_flight = Signal(), Signal()
        window_meta = Signal(window_layout)
        weight_row = Signal(range(lanes))
        window_room = windows.level + window_in_flight < self.FIFO_DEPTH
        weight_room = weights.level + weight_in_flight < self.FIFO_DEPTH

        writing = Signal()  # the result writer wants the port
        write_word, write_mask = Signal(self.memory.address.shape()), Signal(lanes)
        write_data = Signal(data.ArrayLayout(n, lanes))
        want_weight = passes.valid & (passes.payload.tile < configured) & weight_room
        want_window = vectors.valid & ~vectors.payload.pad & window_room
        grant_weight = ~writing & want_weight
        grant_window = ~writing & ~want_weight & want_window
        m.d.comb += [
            self.memory.address.eq(Mux(writing, write_word,
                                       Mux(want_weight,
                                           (passes.payload.address >> shift) + weight_row,
                                           vectors.payload.address >> shift))),
            self.memory.read.eq(grant_weight | grant_window),
            self.memory.write.eq(Mux(writing, write_mask, 0)),
            self.memory.write_data.eq(write_data),
        ]
        m.d.sync += [window_in_flight.eq(grant_window), weight_in_flight.eq(grant_weight)]
        # A window's flags without codes: a padding window's entry, or a read's until it lands.
        flags = Signal(window_layout)
        m.d.comb += [flags.first.eq(vectors.payload.first),
                     flags.acc_first.eq(vectors.payload.acc_first),
                     flags.acc_last.eq(vectors.payload.acc_last),
                     flags.tile.eq(vectors.payload.tile)]
        with m.If(grant_window):
            m.d.sync += window_meta.eq(flags)
        with m.If(grant_weight):
            m.d.sync += weight_row.eq(Mux(weight_row == lanes - 1, 0, weight_row + 1))
        m.d.comb += passes.ready.eq(grant_weight & (weight_row == lanes - 1))
        # A padding window needs no read: it enters the queue when no read lands.
        pad_now = vectors.valid & vectors.payload.pad & ~window_in_flight & window_room
        m.d.comb += vectors.ready.eq(grant_window | pad_now)
        landed = Signal(window_layout)
        m.d.comb += [landed.eq(window_meta), landed.codes.eq(self.memory.read_data)]
        m.d.comb += [windows.w_data.eq(Mux(window_in_flight, landed, flags)),
                     windows.w_en.eq(window_in_flight | pad_now),
                     weights.w_data.eq(self.memory.read_data), weights.w_en.eq(weight_in_flight)]

        head = Signal(window_layout)
        m.d.comb += head.eq(windows.r_data)
        m.d.comb += [array.activations.payload.codes.eq(head.codes),
                     array.activations.payload.first.eq(head.first),
                     array.activations.payload.acc_first.eq(head.acc_first),
                     array.activations.payload.acc_last.eq(head.acc_last),
                     array.activations.valid.eq(windows.r_rdy & (head.tile < configured)),
                     windows.r_en.eq(array.activations.ready & (head.tile < configured)),
                     array.weights.payload.eq(weights.r_data), array.weights.valid.eq(weights.r_rdy),
                     weights.r_en.eq(array.weights.ready)]
        m.d.comb += array.config.valid.eq(windows.r_rdy & (head.tile == configured)
                                          & (fetched > lanes))
        with m.If(array.config.valid & array.config.ready):
            m.d.sync += [configured.eq(configured + 1), fetched.eq(0)]

        # Results: clipped, then written whole (aligned, every column) or code by code.
        writes = schedule.writes
        codes = Signal(data.ArrayLayout(n, lanes))
        for j in range(lanes):
            code = array.results.payload.codes[j]
            m.d.comb += codes[j].eq(Mux(held.flags[1] & (code > held.clip[:n]),
                                        held.clip[:n], code))
        current = Signal(data.ArrayLayout(n, lanes))
        address, width, column = (Signal(self._address_bits), Signal(range(lanes + 1)),
                                  Signal(range(lanes + 1)))
        m.d.comb += [write_word.eq((address + column) >> shift)]
        lane = (address + column)[:shift] if shift else Const(0, 1)
        whole = (address[:shift] == 0 if shift else Const(1, 1)) & (width == lanes)
        with m.FSM():
            with m.State("TAKE"):
                m.d.comb += [array.results.ready.eq(writes.valid),
                             writes.ready.eq(array.results.valid)]
                with m.If(array.results.valid & writes.valid):
                    m.d.sync += [current.eq(codes), address.eq(writes.payload.address),
                                 width.eq(writes.payload.width), column.eq(0)]
                    m.next = "WRITE"
            with m.State("WRITE"):
                m.d.comb += writing.eq(1)
                with m.If(whole):
                    m.d.comb += [write_mask.eq((1 << lanes) - 1), write_data.eq(current)]
                    m.next = "TAKE"
                with m.Else():
                    m.d.comb += [write_mask.eq(1 << lane)]
                    for j in range(lanes):
                        m.d.comb += write_data[j].eq(current.as_value().word_select(
                            column[:max(1, shift)] if lanes > 1 else 0, n))
                    m.d.sync += column.eq(column + 1)
                    with m.If(column + 1 == width):
                        m.next = "TAKE"

        idle = (~schedule.busy & ~windows.r_rdy & ~weights.r_rdy & array.idle
                & ~array.results.valid & ~writing & ~window_in_flight & ~weight_in_flight)
        m.d.comb += self.busy.eq(launch | ~idle)
        return m
