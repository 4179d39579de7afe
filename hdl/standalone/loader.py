"""The image loader: a program image (:mod:`golden.program`) byte by byte into the standalone
core's memories, checked against the build, and runnable only once its CRC-32 holds.

The image's sections arrive in order: the header (kept whole in a small memory, for the
input and output descriptors and INFO), the instruction records (into the core's instruction
memory, 32 bits at a time), the parameter records, the weight codes (into the code memory
from address 0, a lane at a time) and the CRC-32. Every header field that the build fixes is
compared as it arrives; sizes are compared with the build's capacities byte by byte, lowest
first, so no field is stored only to be checked.
"""

import contextlib
import enum

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden._checks import check_int
from golden.arith import DEFAULT_LIMITS
from golden.program import (CRC_BYTES, FORMAT_VERSION, HEADER_BYTES, INSTRUCTION_BYTES, MAGIC,
                            header_layout)
from .io import input_layout, output_layout
from .core import LoadPort
from .matmul import MemoryPort, check_lanes, record_layout
from .schedule import check_fields

__all__ = ["LoadError", "ImageLoader", "header_checks", "crc32_step"]

_CRC32_POLYNOMIAL = 0xEDB88320  # zlib's CRC-32, reflected


class LoadError(enum.IntEnum):
    """Why the loader refused an image (the first reason found)."""
    NONE = 0
    #: Not a tent program (the magic).
    MAGIC = 1
    #: Another format version or header size.
    VERSION = 2
    #: Made for another family, array shape or scaling registers.
    BUILD = 3
    #: More instructions, records, weights, memory, K, window or alignment than the build
    #: holds.
    TOO_LARGE = 4
    #: The CRC-32 does not match the contents: corrupted.
    CRC = 5
    #: A byte past the image's end.
    LENGTH = 6


def header_checks(*, family, lanes, limits, capacities):
    """What the loader checks in each header byte: ``{offset: (kind, value, error)}`` with
    ``kind`` ``"eq"`` (the byte is ``value``) or ``"le"`` (the little-endian field ending at
    or after this byte, read so far, is at most ``value``'s bytes so far: ``value`` is the
    whole field's capacity, the offset's own byte taken from it); ``capacities`` maps the
    header's size fields to the build's largest values."""
    fields = {name: (offset, size) for name, offset, size in header_layout()}
    fixed = {"magic": (MAGIC, LoadError.MAGIC),
             "version": (FORMAT_VERSION, LoadError.VERSION),
             "header_bytes": (HEADER_BYTES, LoadError.VERSION),
             "family_code": (family.protocol_code, LoadError.BUILD),
             "n": (family.n, LoadError.BUILD),
             "family_args": (bytes(family.protocol_args), LoadError.BUILD),
             "rows": (lanes, LoadError.BUILD), "cols": (lanes, LoadError.BUILD),
             "bias_bits": (limits.bias_bits, LoadError.BUILD),
             "m_bits": (limits.m_bits, LoadError.BUILD)}
    checks = {}
    for name, (value, error) in fixed.items():
        offset, size = fields[name]
        raw = value if isinstance(value, bytes) else value.to_bytes(size, "little")
        for k in range(size):
            checks[offset + k] = ("eq", raw[k], error)
    for name, capacity in {"shift_max": limits.shift_max, **capacities}.items():
        offset, size = fields[name]
        if capacity >= 1 << (8 * size):
            continue
        for k in range(size):
            checks[offset + k] = ("le", capacity, LoadError.TOO_LARGE)
    return checks


def crc32_step(m, crc, byte, name):
    """zlib's CRC-32 register after one more byte (combinational, a signal per bit step)."""
    value = crc ^ byte
    for step in range(8):
        bit = Signal(32, name=f"{name}_{step}")
        m.d.comb += bit.eq(Mux(value[0], (value >> 1) ^ _CRC32_POLYNOMIAL, value >> 1))
        value = bit
    return value


class ImageLoader(wiring.Component):
    """Loads one program image into the standalone core: its instructions and parameter
    records through the core's ``load`` members, its weights into the code memory.

    Parameters
    ----------
    family : golden.family.Family
        The build's family (n at most 8: a byte per code).
    lanes : int
        Codes per memory word, the array's side (:func:`.matmul.check_lanes`).
    address_bits : int
        Code addresses: the build holds ``2**address_bits`` codes.
    instructions, records : int
        The core's instruction and parameter memories.
    limits : golden.arith.ScalingLimits
        The build's scaling registers; an image must have the same ``bias_bits`` and
        ``m_bits`` (the same records) and a ``shift_max`` no larger.
    max_K, max_window, max_align : int
        The build's longest dot product and pooling limits; an image needing more is
        refused.
    fields : FieldBits, optional
        How wide the build holds sizes and channel counts (:class:`.schedule.FieldBits`): an
        input tensor beyond them is refused.

    Members
    -------
    data : In(stream.Signature(8))
        The image's bytes in order; ``ready`` but for a cycle between sections.
    start : In(1)
        A new image begins: the loaded one is forgotten (``valid`` falls at once).
    valid : Out(1)
        Every byte of an image has arrived, its header fits the build and its CRC-32 holds:
        the core may run it. Falls with ``start`` or a byte past the end.
    error : Out(LoadError)
        The first reason the image was refused (every later byte is ignored until
        ``start``); ``NONE`` while an image arrives or once it is valid.
    crc : Out(32)
        The loaded image's CRC-32 (with ``valid``).
    memory : Out(MemoryPort)
        Weight writes, one lane a byte, from code address 0.
    load : Out(LoadPort)
        To the core's ``load``: a 32-bit instruction word, or a whole parameter record.
    header_address : In(range(HEADER_BYTES)), header_data : Out(8)
        The loaded header, a byte the cycle after its address.
    input : Out(input_layout(address_bits, fields)), output : Out(output_layout(...))
        The loaded image's input and output tensors (with ``valid``).

    Notes
    -----
    One byte per cycle; the writes are made in the cycle a byte arrives. Nothing checks an
    instruction's own fields: the CRC vouches for what the compiler wrote, and the core
    stops at an instruction beyond the build (:class:`.core.StandaloneCore`'s ``error``).
    """

    def __init__(self, *, family, lanes, address_bits, instructions, records,
                 limits=DEFAULT_LIMITS, max_K, max_window, max_align, fields=None):
        if family.n > 8:
            raise ValueError(f"the loader takes a byte per code: n must be at most 8, "
                             f"not {family.n}")
        self._family = family
        self._lanes = check_lanes(lanes, lanes)
        self._address_bits = check_int("address_bits", address_bits, 1, 32)
        self._instructions = check_int("instructions", instructions, 1, 1 << 16)
        self._records = check_int("records", records, 1, 1 << 16)
        self._limits = limits
        self._record_bytes = record_layout(limits).size // 8
        self._fields = fields = check_fields(fields)
        size, channels = fields.largest()
        address = (1 << address_bits) - 1
        self._checks = header_checks(family=family, lanes=lanes, limits=limits, capacities={
            "instruction_count": instructions, "param_count": records,
            "weight_count": 1 << address_bits, "memory_codes": 1 << address_bits,
            "max_k": check_int("max_K", max_K, 1, 1 << 24),
            "max_window": check_int("max_window", max_window, 1, 255 * 255),
            "max_align": check_int("max_align", max_align, 0, 64),
            "input_base": address, "input_h": size, "input_w": size, "input_c": channels,
            "input_stride": address, "input_group_channels": channels,
            "input_group_stride": channels, "output_base": address})
        self._header = Memory(shape=8, depth=HEADER_BYTES, init=[])
        super().__init__({
            "data": In(stream.Signature(8)), "start": In(1),
            "valid": Out(1), "error": Out(LoadError), "crc": Out(32),
            "memory": Out(MemoryPort.for_codes(n=family.n, lanes=lanes,
                                               address_bits=address_bits)),
            "load": Out(LoadPort(instructions=instructions, records=records, limits=limits)),
            "header_address": In(range(HEADER_BYTES)), "header_data": Out(8),
            "input": Out(input_layout(address_bits, fields)),
            "output": Out(output_layout(address_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        lanes, shift, n = self._lanes, (self._lanes - 1).bit_length(), self._family.n
        byte = self.data.payload
        got = self.data.valid & self.data.ready
        m.d.comb += self.data.ready.eq(1)
        fields = {name: (offset, size) for name, offset, size in header_layout()}

        m.submodules.header = header = self._header
        keep = header.write_port()
        show = header.read_port()
        m.d.comb += [show.addr.eq(self.header_address), self.header_data.eq(show.data)]

        crc = Signal(32, init=0xFFFFFFFF)
        next_crc = crc32_step(m, crc, byte, "crc")
        offset = Signal(range(HEADER_BYTES))
        index = Signal(max(16, self._address_bits + 1))  # item (or weight code) of a section
        part = Signal(range(max(INSTRUCTION_BYTES, self._record_bytes, CRC_BYTES)))
        within = Signal()  # the "le" comparison of the field so far holds
        counts = {name: Signal(bits, name=name) for name, bits in (
            ("instruction_count", 16), ("param_count", 16),
            ("weight_count", self._address_bits + 1))}
        kept = {**counts, **{f"input_{name}": getattr(self.input, name)
                             for name in self.input.shape().members},
                **{f"output_{name}": getattr(self.output, name)
                   for name in self.output.shape().members}}
        assembled = Signal(self.load.data.shape())  # bytes of a word or record, low first
        with_byte = Cat(assembled[8:], byte)  # ``assembled`` shifted down, this byte on top

        def refuse(error):
            m.d.sync += [self.error.eq(error), self.valid.eq(0)]
            m.next = "REFUSED"

        @contextlib.contextmanager
        def state(name):
            """A state left for HEADER by ``start``, whatever it is doing."""
            with m.State(name):
                with m.If(self.start):
                    m.d.sync += [self.valid.eq(0), self.error.eq(LoadError.NONE),
                                 offset.eq(0), crc.eq(crc.init)]
                    m.next = "HEADER"
                with m.Else():
                    yield

        with m.FSM():
            with state("REFUSED"):  # also the state before the first image
                pass
            with state("HEADER"):
                with m.If(got):
                    m.d.comb += [keep.addr.eq(offset), keep.data.eq(byte), keep.en.eq(1)]
                    m.d.sync += [crc.eq(next_crc), offset.eq(offset + 1)]
                    self._check_header(m, offset, byte, within, refuse)
                    for name, signal in kept.items():
                        first, size = fields[name]
                        for k in range(size):
                            if 8 * k < len(signal):
                                with m.If(offset == first + k):
                                    m.d.sync += signal[8 * k:8 * k + 8].eq(byte)
                    with m.If(offset == HEADER_BYTES - 1):
                        m.d.sync += [index.eq(0), part.eq(0)]
                        m.next = "INSTRUCTIONS"
            with state("INSTRUCTIONS"):
                self._section(m, got, crc, next_crc, part, index, INSTRUCTION_BYTES,
                              counts["instruction_count"], "PARAMS")
                with m.If(got):
                    m.d.sync += assembled.eq(with_byte)
                words = INSTRUCTION_BYTES // 4
                m.d.comb += [self.load.address.eq(index * words + (part >> 2)),
                             self.load.data.eq(with_byte[-32:]),
                             self.load.instruction.eq(got & (part[:2] == 3))]
            with state("PARAMS"):
                self._section(m, got, crc, next_crc, part, index, self._record_bytes,
                              counts["param_count"], "WEIGHTS")
                with m.If(got):
                    m.d.sync += assembled.eq(with_byte)
                record = with_byte[-8 * self._record_bytes:]
                m.d.comb += [self.load.address.eq(index), self.load.data.eq(record),
                             self.load.record.eq(got & (part == self._record_bytes - 1))]
            with state("WEIGHTS"):
                self._section(m, got, crc, next_crc, part, index, 1,
                              counts["weight_count"], "CRC")
                lane = index[:shift] if shift else Const(0, 1)
                m.d.comb += [self.memory.address.eq(index >> shift),
                             self.memory.write.eq(Mux(got, 1 << lane, 0))]
                for j in range(lanes):
                    m.d.comb += self.memory.write_data[j].eq(byte[:n])
            with state("CRC"):  # the image's CRC-32, low byte first
                final = ~crc
                with m.If(got):
                    m.d.sync += part.eq(part + 1)
                    with m.If(byte != final.word_select(part[:2], 8)):
                        refuse(LoadError.CRC)
                    with m.Elif(part == CRC_BYTES - 1):
                        m.d.sync += [self.valid.eq(1), self.crc.eq(final)]
                        m.next = "LOADED"
            with state("LOADED"):
                with m.If(got):
                    refuse(LoadError.LENGTH)
        return m

    def _check_header(self, m, offset, byte, within, refuse):
        """The header byte at ``offset`` against the build (:func:`header_checks`)."""
        fields = sorted((offset_, size) for _, offset_, size in header_layout())
        field_of = {o + k: (o, size) for o, size in fields for k in range(size)}
        with m.Switch(offset):
            for at, (kind, value, error) in sorted(self._checks.items()):
                with m.Case(at):
                    if kind == "eq":
                        with m.If(byte != value):
                            refuse(error)
                        continue
                    first, size = field_of[at]
                    limit = (value >> (8 * (at - first))) & 0xFF
                    so_far = (byte < limit) | ((byte == limit) & (within if at > first else 1))
                    if at == first + size - 1:
                        with m.If(~so_far):
                            refuse(error)
                    else:
                        m.d.sync += within.eq(so_far)

    def _section(self, m, got, crc, next_crc, part, index, item_bytes, count, then):
        """A section of ``count`` items of ``item_bytes``: ``part`` counts an item's bytes and
        ``index`` its items; ``then`` after the last (at once for an empty section)."""
        m.d.comb += self.data.ready.eq(index != count)
        with m.If(index == count):
            m.d.sync += [index.eq(0), part.eq(0)]
            m.next = then
        with m.Elif(self.data.valid):
            m.d.sync += crc.eq(next_crc)
            with m.If(part == item_bytes - 1):
                m.d.sync += [part.eq(0), index.eq(index + 1)]
            with m.Else():
                m.d.sync += part.eq(part + 1)
