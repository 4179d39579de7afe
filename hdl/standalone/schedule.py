"""The address generators of a ``MATMUL`` instruction: im2col on chip.

Three small generators walk the loops of :func:`golden.interpreter.matmul_schedule` (group,
column tile, chunk of at most ``depth`` output pixels, K-tile, pixel) and emit, as streams,
the addresses that the sequencer reads and writes: one per pass (the weight tile), one per
activation vector (its window's first lane, or padding) and one per result. Each runs on its
own, so that a consumer can take each stream at its own pace. No multiplier: every product
of two instruction fields is a running sum, and the few that set up an instruction are
repeated additions (``in_w + 2 * stride + pad_top + pad_left + out_h`` cycles at most).
Address sums are taken modulo ``2**address_bits``.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden._checks import check_int
from golden.program import CHANNEL_FIELDS, SIZE_FIELDS, instruction_layout

__all__ = ["GEOMETRY_FIELDS", "FieldBits", "check_fields",
           "geometry_layout", "PassAddresses", "VectorAddresses",
           "WriteAddresses", "MatmulSchedule", "repeated_addition"]

#: The instruction fields the generators read.
GEOMETRY_FIELDS = ("src", "dst", "weights", "groups", "in_h", "in_w", "in_c", "out_h", "out_w",
                   "out_c", "group_in", "group_out", "group_stride", "kernel_h", "kernel_w",
                   "stride", "pad_top", "pad_left")
_ADDRESSES = ("src", "dst", "weights")


class FieldBits:
    """How wide the hardware holds an instruction's sizes: ``size`` bits for heights and
    widths (:data:`SIZE_FIELDS`), ``channels`` bits for channel counts and groups
    (:data:`CHANNEL_FIELDS`); the record's fields are 16 bits, and the counters that walk
    them cost logic by the bit. The core refuses an instruction beyond them
    (:meth:`oversized`)."""

    def __init__(self, *, size=8, channels=12):
        self.size = check_int("size_bits", size, 2, 16)
        self.channels = check_int("channel_bits", channels, 2, 16)

    def width(self, name):
        """The bits of field ``name`` (a size or channel field)."""
        return self.size if name in SIZE_FIELDS else self.channels

    def oversized(self, instruction):
        """A value, true when a size or channel field of ``instruction`` (a struct view with
        the record's fields) needs more bits than these."""
        high = [getattr(instruction, name)[self.width(name):]
                for name in SIZE_FIELDS + CHANNEL_FIELDS]
        return Cat(*high).any()

    def largest(self):
        """``(size, channels)``: the largest values held."""
        return (1 << self.size) - 1, (1 << self.channels) - 1

    def __eq__(self, other):
        return isinstance(other, FieldBits) and vars(self) == vars(other)

    def __repr__(self):
        return f"FieldBits(size={self.size}, channels={self.channels})"


def geometry_layout(address_bits, fields=None):
    """The geometry fields as a struct: addresses of ``address_bits``, sizes and channels as
    ``fields`` (:class:`FieldBits`, default ones) holds them, the rest as wide as the
    instruction record's fields (:func:`golden.program.instruction_layout`)."""
    fields = fields or FieldBits()
    widths = {name: 8 * size for name, _, size in instruction_layout()}
    return data.StructLayout({
        name: unsigned(address_bits if name in _ADDRESSES
                       else fields.width(name) if name in SIZE_FIELDS + CHANNEL_FIELDS
                       else widths[name]) for name in GEOMETRY_FIELDS})


class _Loops:
    """Counters of the nested loops every generator shares: group, column tile, K-tile
    (ky, kx, lane group), output pixel (oy, ox)."""

    def __init__(self, geometry, rows, cols, fields):
        self.g = Signal(fields.channels)
        self.tile = Signal(fields.channels + 1)  # g * tiles + t
        self.t_left = Signal(signed(fields.channels + 2))  # group_out - t * cols
        self.ky = Signal(8)
        self.kx = Signal(8)
        self.c0 = Signal(fields.channels)
        self.oy = Signal(fields.size)
        self.ox = Signal(fields.size)
        self.geometry, self.rows, self.cols = geometry, rows, cols

    @property
    def last_group(self):
        return self.g == self.geometry.groups - 1

    @property
    def last_tile_of_group(self):
        return self.t_left <= self.cols

    @property
    def last_k_tile(self):
        geometry = self.geometry
        return ((self.ky == geometry.kernel_h - 1) & (self.kx == geometry.kernel_w - 1)
                & (self.c0 + self.rows == geometry.group_in))

    @property
    def last_pixel(self):
        return (self.oy == self.geometry.out_h - 1) & (self.ox == self.geometry.out_w - 1)


class _Generator(wiring.Component):
    """Common ports: ``geometry`` (held while busy), ``start`` (a pulse while idle) and the
    ``busy`` flag; subclasses add their output stream."""

    def __init__(self, *, rows, cols, depth, address_bits, fields, payload):
        self._rows = check_int("rows", rows, 1, 64)
        self._cols = check_int("cols", cols, 1, 64)
        self._depth = check_int("depth", depth, 1, 1 << 16)
        self._address_bits = check_int("address_bits", address_bits, 1, 32)
        self._fields = fields
        super().__init__({"geometry": In(geometry_layout(address_bits, fields)), "start": In(1),
                          "busy": Out(1), "addresses": Out(stream.Signature(payload))})

    rows = property(lambda self: self._rows)
    cols = property(lambda self: self._cols)
    depth = property(lambda self: self._depth)


class PassAddresses(_Generator):
    """One transfer per pass: the weight tile's code address, the tile index ``tile`` (its
    parameter records are ``params + tile * cols ...``), ``new_tile`` on the first pass of a
    column tile (a new config), ``acc_first`` and ``acc_last``.

    Members
    -------
    geometry : In(geometry_layout(address_bits, fields)), start : In(1), busy : Out(1)
    addresses : Out(stream.Signature(StructLayout))
        ``address``, ``tile``, ``new_tile``, ``acc_first``, ``acc_last``.
    """

    def __init__(self, *, rows, cols, depth, address_bits, fields=None):
        fields = check_fields(fields)
        super().__init__(rows=rows, cols=cols, depth=depth, address_bits=address_bits,
                         fields=fields,
                         payload=data.StructLayout({
                             "address": unsigned(address_bits), "tile": unsigned(fields.channels + 1),
                             "new_tile": 1, "acc_first": 1, "acc_last": 1}))

    def elaborate(self, platform):
        m = Module()
        geometry, out = self.geometry, self.addresses
        loops = _Loops(geometry, self.rows, self.cols, self._fields)
        address, tile_start = Signal(self._address_bits), Signal(self._address_bits)
        in_chunk = Signal(range(self.depth))  # pixels of the chunk before this one's end
        first_chunk, first_k = Signal(), Signal()
        tile_step = self.rows * self.cols
        m.d.comb += [out.payload.address.eq(address), out.payload.tile.eq(loops.tile),
                     out.payload.new_tile.eq(first_chunk & first_k),
                     out.payload.acc_first.eq(first_k),
                     out.payload.acc_last.eq(loops.last_k_tile)]
        # Chunks are counted by walking their pixels' (oy, ox) without emitting them.
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [address.eq(geometry.weights), tile_start.eq(geometry.weights),
                                 loops.g.eq(0), loops.tile.eq(0),
                                 loops.t_left.eq(geometry.group_out), loops.oy.eq(0),
                                 loops.ox.eq(0), in_chunk.eq(0), first_chunk.eq(1)]
                    m.next = "CHUNK"
            with m.State("CHUNK"):  # skip to the chunk's last pixel
                m.d.comb += self.busy.eq(1)
                end = loops.last_pixel | (in_chunk == self.depth - 1)
                with m.If(end):
                    m.d.sync += [loops.ky.eq(0), loops.kx.eq(0), loops.c0.eq(0),
                                 first_k.eq(1)]
                    m.next = "EMIT"
                with m.Else():
                    m.d.sync += in_chunk.eq(in_chunk + 1)
                    _advance_pixel(m, loops)
            with m.State("EMIT"):
                m.d.comb += [self.busy.eq(1), out.valid.eq(1)]
                with m.If(out.ready):
                    m.d.sync += [address.eq(address + tile_step), first_k.eq(0)]
                    _advance_k_tile(m, loops)
                    with m.If(loops.last_k_tile):
                        m.d.sync += [first_chunk.eq(0), in_chunk.eq(0)]
                        with m.If(~loops.last_pixel):  # the next chunk, same tile
                            m.d.sync += address.eq(tile_start)
                            _advance_pixel(m, loops)
                            m.next = "CHUNK"
                        with m.Else():
                            m.d.sync += [loops.oy.eq(0), loops.ox.eq(0), first_chunk.eq(1),
                                         tile_start.eq(address + tile_step)]
                            _next_tile(m, loops, "CHUNK")
        return m


def check_fields(fields):
    """``fields`` validated: a :class:`FieldBits`, or the default one for ``None``."""
    if fields is None:
        return FieldBits()
    if not isinstance(fields, FieldBits):
        raise TypeError(f"fields must be a FieldBits, not {fields!r}")
    return fields


def repeated_addition(m, name, *, count, times, updates, busy, then):
    """An FSM state ``name`` that makes products of instruction fields without a multiplier:
    ``updates`` (running sums) ``times`` times, counted in ``count``, with ``busy`` high;
    then ``count`` back to 0 and ``then``, the next state's name or a function that picks
    it."""
    with m.State(name):
        m.d.comb += busy.eq(1)
        with m.If(count == times):
            m.d.sync += count.eq(0)
            if isinstance(then, str):
                m.next = then
            else:
                then()
        with m.Else():
            m.d.sync += [*updates, count.eq(count + 1)]


def _advance_pixel(m, loops):
    with m.If(loops.ox == loops.geometry.out_w - 1):
        m.d.sync += [loops.ox.eq(0), loops.oy.eq(loops.oy + 1)]
    with m.Else():
        m.d.sync += loops.ox.eq(loops.ox + 1)


def _advance_k_tile(m, loops, *, on_kx=None, on_ky=None):
    """The next K-tile: the next lane group, else the next tap (``on_kx`` or ``on_ky``
    called where kx or ky steps)."""
    geometry = loops.geometry
    with m.If(loops.c0 + loops.rows == geometry.group_in):
        m.d.sync += loops.c0.eq(0)
        with m.If(loops.kx == geometry.kernel_w - 1):
            m.d.sync += [loops.kx.eq(0), loops.ky.eq(loops.ky + 1)]
            if on_ky:
                on_ky()
        with m.Else():
            m.d.sync += loops.kx.eq(loops.kx + 1)
            if on_kx:
                on_kx()
    with m.Else():
        m.d.sync += loops.c0.eq(loops.c0 + loops.rows)


def _next_tile(m, loops, next_state, *, on_group=None):
    """After a column tile's last pass: the next tile of the group, the next group's first
    (``on_group`` called), or IDLE."""
    geometry = loops.geometry
    m.d.sync += loops.tile.eq(loops.tile + 1)
    with m.If(~loops.last_tile_of_group):
        m.d.sync += loops.t_left.eq(loops.t_left - loops.cols)
        m.next = next_state
    with m.Elif(~loops.last_group):
        m.d.sync += [loops.t_left.eq(geometry.group_out), loops.g.eq(loops.g + 1)]
        if on_group:
            on_group()
        m.next = next_state
    with m.Else():
        m.next = "IDLE"


class VectorAddresses(_Generator):
    """One transfer per activation vector, in pass order: the code address of its first
    lane (``rows`` codes from there) and ``pad`` where the window lies outside the input
    (the vector is zeros, nothing is read); ``first`` on a pass's first vector,
    ``acc_first``, ``acc_last`` and ``tile`` as for the pass.

    Members
    -------
    geometry : In(geometry_layout(address_bits, fields)), start : In(1), busy : Out(1)
    addresses : Out(stream.Signature(StructLayout))
        ``address``, ``pad``, ``first``, ``acc_first``, ``acc_last``, ``tile``.

    Notes
    -----
    After ``start``, ``in_w + 2 * stride + pad_top + pad_left + 4`` cycles of set-up
    (repeated additions), then one vector per cycle while ``ready``, with one idle cycle
    before each pass.
    """

    def __init__(self, *, rows, cols, depth, address_bits, fields=None):
        fields = check_fields(fields)
        super().__init__(rows=rows, cols=cols, depth=depth, address_bits=address_bits,
                         fields=fields,
                         payload=data.StructLayout({
                             "address": unsigned(address_bits), "pad": 1, "first": 1,
                             "acc_first": 1, "acc_last": 1, "tile": unsigned(fields.channels + 1)}))

    def elaborate(self, platform):
        m = Module()
        geometry, out = self.geometry, self.addresses
        loops = _Loops(geometry, self.rows, self.cols, self._fields)
        # Addresses are sums modulo 2**address_bits: a window corner left or above the input
        # wraps, but its vectors are padding (told by the coordinates), never read.
        wide = unsigned(self._address_bits)
        # Set-up: row = in_w * in_c, step_x = stride * in_c, step_y = stride * row,
        # origin = src - pad_top * row - pad_left * in_c (the first window's corner).
        row, step_x, step_y, origin = (Signal(wide, name=n)
                                       for n in ("row", "step_x", "step_y", "origin"))
        count = Signal(max(8, self._fields.size))
        # The current pixel's window corner, its row's first one, its input coordinates, and
        # the pixel counters: saved at a chunk's first pixel, restored for each K-tile.
        corner, row_start = Signal(wide), Signal(wide)
        iy, ix = Signal(signed(self._fields.size + 2)), Signal(signed(self._fields.size + 2))
        state = (corner, row_start, iy, ix, loops.oy, loops.ox)
        saved = [Signal.like(v, name=f"saved_{v.name}") for v in state]
        y_offset, x_offset, group_offset = Signal(wide), Signal(wide), Signal(wide)
        in_chunk = Signal(range(self.depth))
        first = Signal()
        y, x = iy + loops.ky, ix + loops.kx
        address = corner + y_offset + x_offset + group_offset + loops.c0
        m.d.comb += [
            out.payload.address.eq(address[:self._address_bits]),
            out.payload.pad.eq((y < 0) | (y >= geometry.in_h) | (x < 0) | (x >= geometry.in_w)),
            out.payload.first.eq(first),
            out.payload.acc_first.eq((loops.ky == 0) & (loops.kx == 0) & (loops.c0 == 0)),
            out.payload.acc_last.eq(loops.last_k_tile), out.payload.tile.eq(loops.tile)]

        def repeat(name, times, updates, next_state):
            repeated_addition(m, name, count=count, times=times, updates=updates,
                              busy=self.busy, then=next_state)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [row.eq(0), step_x.eq(0), step_y.eq(0), origin.eq(geometry.src),
                                 count.eq(0), loops.g.eq(0), loops.tile.eq(0),
                                 loops.t_left.eq(geometry.group_out), group_offset.eq(0)]
                    m.next = "ROW"
            repeat("ROW", geometry.in_w, [row.eq(row + geometry.in_c)], "STEP")
            repeat("STEP", geometry.stride, [step_x.eq(step_x + geometry.in_c),
                                             step_y.eq(step_y + row)], "PAD_TOP")
            repeat("PAD_TOP", geometry.pad_top, [origin.eq(origin - row)], "PAD_LEFT")
            repeat("PAD_LEFT", geometry.pad_left, [origin.eq(origin - geometry.in_c)], "TILE")
            with m.State("TILE"):  # a column tile walks every pixel from the first
                m.d.comb += self.busy.eq(1)
                m.d.sync += [corner.eq(origin), row_start.eq(origin),
                             iy.eq(-geometry.pad_top), ix.eq(-geometry.pad_left),
                             loops.oy.eq(0), loops.ox.eq(0)]
                m.next = "CHUNK"
            with m.State("CHUNK"):  # a chunk's first K-tile: remember its first pixel
                m.d.comb += self.busy.eq(1)
                m.d.sync += [s.eq(v) for s, v in zip(saved, state)]
                m.d.sync += [loops.ky.eq(0), loops.kx.eq(0), loops.c0.eq(0), y_offset.eq(0),
                             x_offset.eq(0), in_chunk.eq(0), first.eq(1)]
                m.next = "EMIT"
            with m.State("REWIND"):  # the chunk's next K-tile, from its first pixel
                m.d.comb += self.busy.eq(1)
                m.d.sync += [v.eq(s) for s, v in zip(saved, state)]
                m.d.sync += [in_chunk.eq(0), first.eq(1)]
                m.next = "EMIT"
            with m.State("EMIT"):
                m.d.comb += [self.busy.eq(1), out.valid.eq(1)]
                chunk_end = loops.last_pixel | (in_chunk == self.depth - 1)
                with m.If(out.ready):
                    m.d.sync += [first.eq(0), in_chunk.eq(in_chunk + 1)]
                    with m.If(loops.ox == geometry.out_w - 1):
                        m.d.sync += [corner.eq(row_start + step_y),
                                     row_start.eq(row_start + step_y),
                                     iy.eq(iy + geometry.stride), ix.eq(-geometry.pad_left)]
                    with m.Else():
                        m.d.sync += [corner.eq(corner + step_x), ix.eq(ix + geometry.stride)]
                    _advance_pixel(m, loops)
                    with m.If(chunk_end):
                        with m.If(~loops.last_k_tile):
                            _advance_k_tile(
                                m, loops,
                                on_kx=lambda: m.d.sync.__iadd__(
                                    x_offset.eq(x_offset + geometry.in_c)),
                                on_ky=lambda: m.d.sync.__iadd__(
                                    [x_offset.eq(0), y_offset.eq(y_offset + row)]))
                            m.next = "REWIND"
                        with m.Elif(~loops.last_pixel):
                            m.next = "CHUNK"
                        with m.Else():
                            _next_tile(m, loops, "TILE", on_group=lambda: m.d.sync.__iadd__(
                                group_offset.eq(group_offset + geometry.group_in)))
        return m


class WriteAddresses(_Generator):
    """One transfer per result, in the order the array returns them: the code address of
    its column 0 and ``width``, its valid columns (the rest are not written).

    Members
    -------
    geometry : In(geometry_layout(address_bits, fields)), start : In(1), busy : Out(1)
    addresses : Out(stream.Signature(StructLayout))
        ``address``, ``width``.
    """

    def __init__(self, *, rows, cols, depth, address_bits, fields=None):
        fields = check_fields(fields)
        super().__init__(rows=rows, cols=cols, depth=depth, address_bits=address_bits,
                         fields=fields,
                         payload=data.StructLayout({"address": unsigned(address_bits),
                                                    "width": range(cols + 1)}))

    def elaborate(self, platform):
        m = Module()
        geometry, out = self.geometry, self.addresses
        loops = _Loops(geometry, self.rows, self.cols, self._fields)
        tile_base, address = Signal(self._address_bits + 1), Signal(self._address_bits + 1)
        group_base = Signal(self._address_bits + 1)
        m.d.comb += [out.payload.address.eq(address),
                     out.payload.width.eq(Mux(loops.last_tile_of_group, loops.t_left,
                                              self.cols))]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [loops.g.eq(0), loops.tile.eq(0), group_base.eq(geometry.dst),
                                 tile_base.eq(geometry.dst), address.eq(geometry.dst),
                                 loops.t_left.eq(geometry.group_out), loops.oy.eq(0),
                                 loops.ox.eq(0)]
                    m.next = "EMIT"
            with m.State("EMIT"):
                m.d.comb += [self.busy.eq(1), out.valid.eq(1)]
                with m.If(out.ready):
                    m.d.sync += address.eq(address + geometry.out_c)
                    _advance_pixel(m, loops)
                    with m.If(loops.last_pixel):
                        m.d.sync += [loops.oy.eq(0), loops.ox.eq(0),
                                     tile_base.eq(tile_base + self.cols),
                                     address.eq(tile_base + self.cols)]

                        def next_group():
                            base = group_base + geometry.group_stride
                            m.d.sync += [group_base.eq(base), tile_base.eq(base),
                                         address.eq(base)]

                        _next_tile(m, loops, "EMIT", on_group=next_group)
        return m


class MatmulSchedule(wiring.Component):
    """The three address generators of a ``MATMUL`` (:class:`PassAddresses`,
    :class:`VectorAddresses`, :class:`WriteAddresses`), started together on one geometry.

    Members
    -------
    geometry : In(geometry_layout(address_bits, fields))
        Held from ``start`` until not ``busy``.
    start : In(1)
        A pulse while not ``busy``.
    busy : Out(1)
        Until every generator has emitted its last transfer.
    passes, vectors, writes : Out(stream.Signature(...))
        The generators' streams.
    """

    def __init__(self, *, rows, cols, depth, address_bits, fields=None):
        fields = check_fields(fields)
        arguments = dict(rows=rows, cols=cols, depth=depth, address_bits=address_bits,
                         fields=fields)
        self._parts = {"passes": PassAddresses(**arguments),
                       "vectors": VectorAddresses(**arguments),
                       "writes": WriteAddresses(**arguments)}
        super().__init__({"geometry": In(geometry_layout(address_bits, fields)),
                          "start": In(1), "busy": Out(1),
                          **{name: Out(part.addresses.signature)
                             for name, part in self._parts.items()}})

    def elaborate(self, platform):
        m = Module()
        launch = Signal()  # the generators start the cycle after ``start``
        m.d.sync += launch.eq(self.start & ~self.busy)
        busy = [launch]
        for name, part in self._parts.items():
            m.submodules[name] = part
            m.d.comb += [part.geometry.eq(self.geometry), part.start.eq(launch)]
            wiring.connect(m, part.addresses, wiring.flipped(getattr(self, name)))
            busy.append(part.busy)
        m.d.comb += self.busy.eq(Cat(*busy).any())
        return m
