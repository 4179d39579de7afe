"""An image into the program's input tensor, and its logits and class out of the output
tensor: the hardware of :meth:`golden.interpreter.Machine.load_image` and ``classify``."""

from amaranth.hdl import Const, Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden._checks import check_int
from ..formats import hardware_for
from .matmul import MemoryPort, check_lanes
from .schedule import check_fields

__all__ = ["input_layout", "output_layout", "InputWriter", "OutputReader"]


def input_layout(address_bits, fields):
    """The input tensor's descriptor (the program header's ``input_*`` fields): ``base`` and
    ``stride`` as code addresses, sizes and channels as ``fields`` holds them."""
    return data.StructLayout({
        "base": unsigned(address_bits), "h": unsigned(fields.size), "w": unsigned(fields.size),
        "c": unsigned(fields.channels), "stride": unsigned(address_bits),
        "group_channels": unsigned(fields.channels),
        "group_stride": unsigned(fields.channels)})


def output_layout(address_bits):
    """The output tensor's descriptor: ``base`` (a code address) and ``count`` (codes)."""
    return data.StructLayout({"base": unsigned(address_bits), "count": unsigned(16)})


class InputWriter(wiring.Component):
    """Writes one image's codes, in (y, x, c) order, into the input tensor: code ``c`` of
    pixel ``p`` at ``base + p * stride + channel_position(c)``
    (:func:`golden.program.channel_position`), a lane a code; running sums, no multiplier.

    Parameters
    ----------
    n, lanes : int
        Code width and codes per memory word (:func:`.matmul.check_lanes`).
    address_bits : int
    fields : FieldBits, optional
        How wide sizes and channel counts are held (:class:`.schedule.FieldBits`).

    Members
    -------
    descriptor : In(input_layout(address_bits, fields))
        Held from ``start`` until ``done``.
    start : In(1)
        An image begins.
    codes : In(stream.Signature(n))
        Its codes; one written a cycle; not ready once ``done``.
    done : Out(1)
        Every code of the image is written (``h * w * c``), until the next ``start``.
    memory : Out(MemoryPort)
        Writes only.
    """

    def __init__(self, *, n, lanes, address_bits, fields=None):
        self._n = check_int("n", n, 2, 16)
        self._lanes = check_lanes(lanes, lanes)
        self._address_bits = check_int("address_bits", address_bits, 1, 32)
        self._fields = check_fields(fields)
        super().__init__({"descriptor": In(input_layout(address_bits, self._fields)),
                          "start": In(1), "codes": In(stream.Signature(n)), "done": Out(1),
                          "memory": Out(MemoryPort.for_codes(n=n, lanes=lanes,
                                                             address_bits=address_bits))})

    def elaborate(self, platform):
        m = Module()
        lanes, shift = self._lanes, (self._lanes - 1).bit_length()
        d, fields = self.descriptor, self._fields
        x, y = Signal(fields.size), Signal(fields.size)
        c, in_group = Signal(fields.channels), Signal(fields.channels)
        pixel, group = Signal(self._address_bits), Signal(self._address_bits)
        address = (pixel + group + in_group)[:self._address_bits]
        lane = address[:shift] if shift else Const(0, 1)
        take = self.codes.valid & ~self.done
        m.d.comb += [self.codes.ready.eq(~self.done),
                     self.memory.address.eq(address >> shift),
                     self.memory.write.eq(take << lane)]
        for j in range(lanes):
            m.d.comb += self.memory.write_data[j].eq(self.codes.payload)
        with m.If(self.start):
            m.d.sync += [x.eq(0), y.eq(0), c.eq(0), in_group.eq(0), pixel.eq(d.base),
                         group.eq(0), self.done.eq(0)]
        with m.Elif(take):
            with m.If(c == d.c - 1):  # the pixel's last channel
                m.d.sync += [c.eq(0), in_group.eq(0), group.eq(0), pixel.eq(pixel + d.stride)]
                with m.If(x == d.w - 1):
                    m.d.sync += [x.eq(0), y.eq(y + 1)]
                    with m.If(y == d.h - 1):
                        m.d.sync += self.done.eq(1)
                with m.Else():
                    m.d.sync += x.eq(x + 1)
            with m.Elif(in_group == d.group_channels - 1):
                m.d.sync += [c.eq(c + 1), in_group.eq(0), group.eq(group + d.group_stride)]
            with m.Else():
                m.d.sync += [c.eq(c + 1), in_group.eq(in_group + 1)]
        return m


class OutputReader(wiring.Component):
    """Reads the output tensor's codes in order and finds the class: the index of the first
    code of the largest value (its family's ordinal, as
    :meth:`golden.interpreter.Machine.classify`).

    Parameters
    ----------
    family : golden.family.Family
    lanes, address_bits : int

    Members
    -------
    output : In(output_layout(address_bits))
        Held from ``start`` until ``done``.
    start : In(1)
        Before the first read or once ``done``.
    codes : Out(stream.Signature(n))
        The logits, in order; each read takes three cycles.
    label : Out(16), done : Out(1)
        The class, once the last code has been taken (``done``, until the next ``start``).
    memory : Out(MemoryPort)
        Reads only.
    """

    def __init__(self, *, family, lanes, address_bits):
        self._family = family
        self._lanes = check_lanes(lanes, lanes)
        self._address_bits = check_int("address_bits", address_bits, 1, 32)
        super().__init__({"output": In(output_layout(address_bits)), "start": In(1),
                          "codes": Out(stream.Signature(family.n)), "label": Out(16),
                          "done": Out(1),
                          "memory": Out(MemoryPort.for_codes(n=family.n, lanes=lanes,
                                                             address_bits=address_bits))})

    def elaborate(self, platform):
        m = Module()
        family, lanes, shift = self._family, self._lanes, (self._lanes - 1).bit_length()
        ordinal = hardware_for(family).ordinal
        index = Signal(16)
        address = (self.output.base + index)[:self._address_bits]
        lane = Signal(range(lanes))
        code, best = Signal(family.n), Signal(family.n)
        m.d.comb += [self.memory.address.eq(address >> shift), self.codes.payload.eq(code)]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [index.eq(0), self.done.eq(0)]
                    m.next = "READ"
            with m.State("READ"):
                with m.If(index == self.output.count):
                    m.d.sync += self.done.eq(1)
                    m.next = "IDLE"
                with m.Else():
                    m.d.comb += self.memory.read.eq(1)
                    m.d.sync += lane.eq(address[:shift] if shift else 0)
                    m.next = "LATCH"
            with m.State("LATCH"):
                m.d.sync += code.eq(self.memory.read_data.as_value().word_select(
                    lane, family.n) if lanes > 1 else self.memory.read_data[0])
                m.next = "EMIT"
            with m.State("EMIT"):
                m.d.comb += self.codes.valid.eq(1)
                with m.If(self.codes.ready):
                    with m.If((index == 0) | (ordinal(family, code) > ordinal(family, best))):
                        m.d.sync += [best.eq(code), self.label.eq(index)]
                    m.d.sync += index.eq(index + 1)
                    m.next = "READ"
        return m
