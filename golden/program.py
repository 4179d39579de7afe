"""Standalone programs: a quantized network as one binary image for the board.

:func:`golden.compiler.compile_network` turns a :class:`golden.ptq.QuantizedNetwork` into a
:class:`Program`: layer instructions, per-channel parameter records and weight codes, laid
out for an array of ``rows x cols`` PEs and one code memory. :meth:`Program.to_bytes` writes
the versioned image (``docs/design/standalone.md`` gives every byte); :func:`read_program`
reads it back and refuses anything malformed. :class:`golden.interpreter.Machine` executes
a program as the hardware does, with the same memory, addresses and order of passes: it is
the sequencer's specification, and its logits equal
:meth:`golden.ptq.QuantizedNetwork.run_integer` bit for bit, because every pass is exact and
the scaling stage rounds once.

Memory. One array of codes (one slot per code: a byte for n <= 8, two bytes beyond). The
weights sit at address 0, the activations above them. A tensor of C channels, H x W, is
stored pixel after pixel, ``(y * W + x) * stride + position(c)``: its :class:`Layout` pads
the channels (of each group, for a tensor a grouped convolution reads) to a multiple of
``rows`` so that every vector of ``rows`` codes the array takes is one aligned run.
Positions that hold no channel are padding: matrix products give them zero weights, so
whatever they hold never reaches a valid output.

Instructions (:class:`Op`):

``MATMUL``
    A convolution (padding, stride, groups) or a dense layer (a 1 x 1 convolution of a
    1 x 1 image whose channels are the whole input tensor, flattened by the weight rows'
    order). For every group, column tile of ``cols`` outputs, chunk of at most ``depth``
    output pixels and K-tile of ``rows`` (in that order) one pass: the tile's weights and,
    per pixel, the ``rows`` codes of its window at that K-tile (im2col on chip, positions
    outside the input read as code 0). After the last K-tile the scaling stage (bias, M,
    shift, ReLU) rounds each sum once; a clipped ReLU then takes the smaller ordinal of the
    result and the ceiling's code.
``MAXPOOL``, ``AVGPOOL``
    Windows without padding over every position; the maximum of ordinals, or the exact sum
    of the integers scaled by ``M * 2**-shift`` (one parameter record).
``ADD``
    Two tensors of one layout, aligned to the finer scale, summed exactly, rounded once
    (ReLU and clip as for ``MATMUL``).
``END``
    The logits are the output's ``count`` codes; the class is the first of the largest.
"""

import enum
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from .family import family_from_protocol

__all__ = ["FORMAT_VERSION", "MAGIC", "Op", "Flag", "Layout", "Instruction", "Program",
           "INSTRUCTION_FIELDS", "INSTRUCTION_BYTES", "HEADER_FIELDS", "HEADER_BYTES",
           "CRC_BYTES", "ALIGN", "UP5K_MEMORY_CODES", "ProgramError", "read_program",
           "check_program", "checked_instruction", "format_bytes", "format_from",
           "instruction_layout", "header_layout", "add_alignment", "channel_position",
           "SIZE_FIELDS", "CHANNEL_FIELDS"]

MAGIC = b"TENTPROG"
FORMAT_VERSION = 1
#: The iCE40 UP5K's four SPRAMs (4 x 32 KB), one code per byte.
UP5K_MEMORY_CODES = 4 * 32 * 1024
#: Tensors start at multiples of this many codes (and of ``rows``).
ALIGN = 16


class Op(enum.IntEnum):
    END = 0
    MATMUL = 1
    MAXPOOL = 2
    AVGPOOL = 3
    ADD = 4


class Flag(enum.IntFlag):
    RELU = 1
    CLIP = 2


#: An instruction's fields in the order of its 64-byte record, with their ``struct`` codes
#: (little endian). A format is four signed bytes: its scale, then the family's run-time
#: fields (:attr:`golden.family.Family.fields`) in order, zeros after them; ``b_fmt`` is the
#: weights' (``MATMUL``) or the second input's (``ADD``).
INSTRUCTION_FIELDS = (
    ("op", "B"), ("flags", "B"), ("groups", "H"),
    ("src", "I"), ("src2", "I"), ("dst", "I"), ("weights", "I"), ("params", "I"),
    ("in_h", "H"), ("in_w", "H"), ("in_c", "H"),
    ("out_h", "H"), ("out_w", "H"), ("out_c", "H"),
    ("group_in", "H"), ("group_out", "H"), ("group_stride", "H"),
    ("kernel_h", "B"), ("kernel_w", "B"), ("stride", "B"), ("pad_top", "B"), ("pad_left", "B"),
    ("clip", "h"), ("a_fmt", "4s"), ("b_fmt", "4s"), ("out_fmt", "4s"),
)
#: An instruction's heights and widths, and its channel counts, strides and groups: what a
#: build holds in ``size_bits`` and ``channel_bits`` (:attr:`Program.largest_size`).
SIZE_FIELDS = ("in_h", "in_w", "out_h", "out_w")
CHANNEL_FIELDS = ("groups", "in_c", "out_c", "group_in", "group_out", "group_stride")
_INSTRUCTION = struct.Struct("<" + "".join(code for _, code in INSTRUCTION_FIELDS) + "3x")
INSTRUCTION_BYTES = _INSTRUCTION.size

_HEADER = struct.Struct("<8sHH" "BB2B" "BBBBB" "HIIII" "HB" "I" "HHHHHH4s" "IH4s" "16s")
#: Header fields in order (after the magic): see ``docs/design/standalone.md``.
HEADER_FIELDS = ("version", "header_bytes", "family_code", "n", "family_args",
                 "rows", "cols", "bias_bits", "m_bits", "shift_max",
                 "instruction_count", "param_count", "weight_count", "memory_codes",
                 "max_k", "max_window", "max_align", "input_base", "input_h", "input_w", "input_c", "input_stride",
                 "input_group_channels", "input_group_stride", "input_fmt",
                 "output_base", "output_count", "output_fmt", "name")
HEADER_BYTES = _HEADER.size
CRC_BYTES = 4


def _offsets(codes):
    """(field, offset, bytes) of packed little-endian ``struct`` codes, in order."""
    offset, layout = 0, []
    for name, code in codes:
        size = struct.calcsize("<" + code)
        layout.append((name, offset, size))
        offset += size
    return layout


def instruction_layout():
    """(field, byte offset, bytes) of every field of an instruction record."""
    return _offsets(INSTRUCTION_FIELDS)


def header_layout():
    """(field, byte offset, bytes) of every field of the header, the magic first."""
    codes = ["8s", "H", "H", "B", "B", "2B", "B", "B", "B", "B", "B", "H", "I", "I", "I",
             "I", "H", "B", "I", "H", "H", "H", "H", "H", "H", "4s", "I", "H", "4s", "16s"]
    return _offsets(zip(("magic",) + HEADER_FIELDS, codes))


class ProgramError(ValueError):
    """A network the program cannot express, or a malformed program image."""


def _fits(where, name, value, bits, signed=False):
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not low <= value <= high:
        raise ProgramError(f"{where}: {name} = {value} does not fit the program's {bits}-bit "
                           f"field ({low} to {high})")
    return value


def channel_position(c, group_channels, group_stride):
    """Where channel ``c`` sits in a pixel's run of a tensor stored in groups of
    ``group_channels`` channels, each padded to ``group_stride`` positions."""
    c = np.asarray(c)
    return (c // group_channels) * group_stride + c % group_channels


@dataclass(frozen=True)
class Layout:
    """Where a tensor's channels sit in each pixel's run of memory.

    ``channels`` channels in ``groups`` groups (1: none); each group's channels are padded
    to ``group_stride``, a multiple of ``lanes``; a pixel takes ``stride = groups *
    group_stride`` codes. Channel ``c`` is at :meth:`position` ``(c // per_group) *
    group_stride + c % per_group``.
    """

    channels: int
    groups: int = 1
    lanes: int = 1

    @property
    def group_channels(self):
        return self.channels // self.groups

    @property
    def group_stride(self):
        return -(-self.group_channels // self.lanes) * self.lanes

    @property
    def stride(self):
        return self.groups * self.group_stride

    def position(self, c):
        return channel_position(c, self.group_channels, self.group_stride)

    def channel_at(self):
        """The channel at every position of a pixel's run, -1 for padding (stride,)."""
        channel = np.full(self.stride, -1, dtype=np.int64)
        channel[self.position(np.arange(self.channels))] = np.arange(self.channels)
        return channel


@dataclass(frozen=True)
class Instruction:
    """One instruction's field values (:data:`INSTRUCTION_FIELDS`); formats as 4 bytes."""

    op: int
    flags: int = 0
    groups: int = 1
    src: int = 0
    src2: int = 0
    dst: int = 0
    weights: int = 0
    params: int = 0
    in_h: int = 1
    in_w: int = 1
    in_c: int = 0
    out_h: int = 1
    out_w: int = 1
    out_c: int = 0
    group_in: int = 0
    group_out: int = 0
    group_stride: int = 0
    kernel_h: int = 1
    kernel_w: int = 1
    stride: int = 1
    pad_top: int = 0
    pad_left: int = 0
    clip: int = 0
    a_fmt: bytes = bytes(4)
    b_fmt: bytes = bytes(4)
    out_fmt: bytes = bytes(4)
    #: The network node it runs (not stored in the image).
    node: str = field(default="", compare=False)

    def pack(self):
        values = [getattr(self, name) for name, _ in INSTRUCTION_FIELDS]
        try:
            return _INSTRUCTION.pack(*values)
        except struct.error:
            checked_instruction(self, f"node {self.node!r}")  # names the field
            raise

    @classmethod
    def unpack(cls, data):
        return cls(**dict(zip((name for name, _ in INSTRUCTION_FIELDS), _INSTRUCTION.unpack(data))))


def format_bytes(family, fmt):
    registers = family.registers(fmt)
    values = [registers["scale"]] + [registers[name] for name in family.fields]
    return struct.pack("<4b", *values, *[0] * (4 - len(values)))


def format_from(family, data, where="the program"):
    scale_, *values = struct.unpack("<4b", data)
    names = list(family.fields)
    try:
        fmt = family.member_from(dict(zip(names, values)), scale_)
        family.check_member(fmt)
    except (ValueError, TypeError) as error:
        raise ProgramError(f"{where}: format bytes {data.hex()} are not a member of "
                           f"{family.label}: {error}") from None
    return fmt


@dataclass(frozen=True)
class Program:
    """A compiled network: header values, instructions, parameter records and weights.

    Attributes
    ----------
    family : golden.family.Family
        The hardware family it runs on.
    rows, cols : int
        The array shape it is laid out for.
    limits : golden.arith.ScalingLimits
        The scaling stage's register sizes (bias, M, shift).
    instructions : tuple of Instruction
        Ending with one ``END``.
    bias, M, shift : numpy.ndarray
        The parameter records (bias in accumulator units).
    weights : numpy.ndarray
        The weight codes, memory addresses 0 onwards.
    memory_codes : int
        The memory the program needs (codes).
    max_k : int
        The longest dot product a pass sequence accumulates (K-tiles times ``rows``).
    max_window, max_align : int
        The largest average-pooling window (taps) and the largest difference of an
        ``ADD``'s two operand exponents: what the pooling unit's sums must hold.
    input, output : dict
        ``input``: base, h, w, c, stride, group_channels, group_stride, fmt (4 bytes);
        ``output``: base, count, fmt.
    name : str
        Up to 16 ASCII characters (the network's file stem).
    """

    family: object
    rows: int
    cols: int
    limits: object
    instructions: tuple
    bias: np.ndarray
    M: np.ndarray
    shift: np.ndarray
    weights: np.ndarray
    memory_codes: int
    max_k: int
    max_window: int
    max_align: int
    input: dict
    output: dict
    name: str = ""

    @property
    def slot_bytes(self):
        """Bytes per code in the image and per memory slot."""
        return 1 if self.family.n <= 8 else 2

    @property
    def bias_bytes(self):
        return -(-self.limits.bias_bits // 8)

    @property
    def m_bytes(self):
        return -(-self.limits.m_bits // 8)

    @property
    def largest_size(self):
        """The largest height or width an instruction or the input tensor has."""
        return max([self.input["h"], self.input["w"],
                    *(getattr(i, name) for i in self.instructions for name in SIZE_FIELDS)])

    @property
    def largest_channels(self):
        """The largest channel count, channel stride or group count an instruction or the
        input tensor has."""
        return max([self.input["c"], self.input["group_channels"], self.input["group_stride"],
                    *(getattr(i, name) for i in self.instructions for name in CHANNEL_FIELDS)])

    @property
    def array_macs(self):
        """Multiply-accumulates the array does in one run: each MATMUL's outputs times its
        dot product's length (a group's input channels, padded to whole lanes, times the
        kernel's taps); more than the network's own where channels are padded."""
        return sum(i.out_h * i.out_w * i.out_c * i.group_in * i.kernel_h * i.kernel_w
                   for i in self.instructions if i.op == Op.MATMUL)

    @property
    def record_bytes(self):
        """Bytes of one parameter record: bias (signed), M, shift."""
        return self.bias_bytes + self.m_bytes + 1

    @property
    def input_fmt(self):
        return format_from(self.family, self.input["fmt"], "the input")

    @property
    def output_fmt(self):
        return format_from(self.family, self.output["fmt"], "the output")

    @property
    def image_codes(self):
        """Codes of one input image, in (y, x, c) order."""
        return self.input["h"] * self.input["w"] * self.input["c"]

    def input_codes(self, x):
        """The codes the board takes for preprocessed images ``x`` (B, C, H, W) or one image
        (C, H, W): quantized to the input format, in (y, x, c) order, (B, H*W*C)."""
        x = np.asarray(x, dtype=np.float64)
        single = x.ndim == 3
        x = x[None] if single else x
        shape = (self.input["c"], self.input["h"], self.input["w"])
        if x.ndim != 4 or x.shape[1:] != shape:
            raise ProgramError(f"images must have shape (B, {', '.join(map(str, shape))}), "
                               f"not {x.shape}")
        codes = self.input_fmt.quantize(x).transpose(0, 2, 3, 1).reshape(len(x), -1)
        return codes[0] if single else codes

    def to_bytes(self):
        """The binary image: header, instructions, parameter records, weights, CRC-32."""
        family = self.family
        header = _HEADER.pack(
            MAGIC, FORMAT_VERSION, HEADER_BYTES, family.protocol_code, family.n,
            *family.protocol_args, self.rows, self.cols, self.limits.bias_bits,
            self.limits.m_bits, self.limits.shift_max, len(self.instructions), len(self.bias),
            len(self.weights), self.memory_codes, self.max_k, self.max_window,
            self.max_align, self.input["base"],
            self.input["h"], self.input["w"], self.input["c"], self.input["stride"],
            self.input["group_channels"], self.input["group_stride"], self.input["fmt"],
            self.output["base"], self.output["count"], self.output["fmt"],
            self.name.encode("ascii"))
        records = b"".join(
            int(b).to_bytes(self.bias_bytes, "little", signed=True)
            + int(m).to_bytes(self.m_bytes, "little") + int(s).to_bytes(1, "little")
            for b, m, s in zip(self.bias, self.M, self.shift))
        dtype = "<u1" if self.slot_bytes == 1 else "<u2"
        body = (header + b"".join(i.pack() for i in self.instructions) + records
                + np.asarray(self.weights).astype(dtype).tobytes())
        return body + zlib.crc32(body).to_bytes(CRC_BYTES, "little")

    def summary(self):
        """A one-line description: name, family, array, sizes."""
        ops = sum(i.op != Op.END for i in self.instructions)
        return (f"{self.name or 'program'}: {self.family.label} on a {self.rows}x{self.cols} "
                f"array; {ops} instructions, {len(self.weights):,} weight codes, "
                f"{len(self.bias):,} parameter records; memory {self.memory_codes:,} codes; "
                f"longest dot product {self.max_k}")


def read_program(data):
    """The :class:`Program` of a binary image (bytes); a :class:`ProgramError` naming what
    is wrong (magic, version, size, CRC, a field) for anything else."""
    data = bytes(data)
    if len(data) < HEADER_BYTES + CRC_BYTES:
        raise ProgramError(f"the image has {len(data)} bytes, fewer than a header and CRC "
                           f"({HEADER_BYTES + CRC_BYTES})")
    if data[:8] != MAGIC:
        raise ProgramError(f"not a tent program: it starts with {data[:8]!r}, not {MAGIC!r}")
    values = dict(zip(HEADER_FIELDS, _unpack_header(data)))
    if values["version"] != FORMAT_VERSION:
        raise ProgramError(f"program format version {values['version']}; this build reads "
                           f"version {FORMAT_VERSION}")
    if values["header_bytes"] != HEADER_BYTES:
        raise ProgramError(f"header of {values['header_bytes']} bytes; version "
                           f"{FORMAT_VERSION} has {HEADER_BYTES}")
    try:
        family = family_from_protocol(values["family_code"], values["n"], values["family_args"])
    except (ValueError, TypeError) as error:
        raise ProgramError(f"the header names no known format family: {error}") from None
    from .arith import ScalingLimits
    try:
        limits = ScalingLimits(values["bias_bits"], values["m_bits"], values["shift_max"])
    except (ValueError, TypeError) as error:
        raise ProgramError(f"the header's scaling limits are out of range: {error}") from None
    slot = 1 if family.n <= 8 else 2
    record = -(-limits.bias_bits // 8) + -(-limits.m_bits // 8) + 1
    sizes = (values["instruction_count"] * INSTRUCTION_BYTES, values["param_count"] * record,
             values["weight_count"] * slot)
    expected = HEADER_BYTES + sum(sizes) + CRC_BYTES
    if len(data) != expected:
        raise ProgramError(f"the image has {len(data)} bytes; its header describes "
                           f"{expected}")
    crc = int.from_bytes(data[-CRC_BYTES:], "little")
    if zlib.crc32(data[:-CRC_BYTES]) != crc:
        raise ProgramError("the image's CRC-32 does not match its contents (corrupted)")
    offset = HEADER_BYTES
    instructions = tuple(Instruction.unpack(data[offset + i * INSTRUCTION_BYTES:
                                                 offset + (i + 1) * INSTRUCTION_BYTES])
                         for i in range(values["instruction_count"]))
    offset += sizes[0]
    raw = data[offset:offset + sizes[1]]
    bias_bytes, m_bytes = -(-limits.bias_bits // 8), -(-limits.m_bits // 8)
    records = [raw[i:i + record] for i in range(0, len(raw), record)]
    bias = np.array([int.from_bytes(r[:bias_bytes], "little", signed=True) for r in records],
                    dtype=np.int64 if limits.bias_bits <= 64 else object)
    M = np.array([int.from_bytes(r[bias_bytes:bias_bytes + m_bytes], "little")
                  for r in records], dtype=np.int64)
    shift = np.array([r[-1] for r in records], dtype=np.int64)
    offset += sizes[1]
    weights = np.frombuffer(data[offset:offset + sizes[2]],
                            dtype="<u1" if slot == 1 else "<u2").astype(np.int64)
    program = Program(
        family, values["rows"], values["cols"], limits, instructions, bias, M, shift,
        weights, values["memory_codes"], values["max_k"], values["max_window"],
        values["max_align"],
        {key: values[f"input_{key}"] for key in ("base", "h", "w", "c", "stride",
                                                  "group_channels", "group_stride", "fmt")},
        {key: values[f"output_{key}"] for key in ("base", "count", "fmt")},
        values["name"].rstrip(b"\0").decode("ascii", errors="replace"))
    check_program(program)
    return program


def _unpack_header(data):
    _, *rest = _HEADER.unpack(data[:HEADER_BYTES])  # after the magic; family_args is 2 bytes
    return rest[:4] + [tuple(rest[4:6])] + rest[6:]


def check_program(program):
    """A :class:`ProgramError` unless every instruction is well formed and every address it
    reaches lies in the program's memory (what the sequencer relies on)."""
    if program.rows < 1 or program.cols < 1:
        raise ProgramError(f"the array shape {program.rows}x{program.cols} is empty")
    if len(program.weights) > program.memory_codes:
        raise ProgramError("the weights do not fit the program's memory")
    if program.weights.size and program.weights.max() >= 1 << program.family.n:
        raise ProgramError(f"a weight code exceeds {program.family.n} bits")
    if not program.instructions or program.instructions[-1].op != Op.END:
        raise ProgramError("the program does not end with END")
    if (program.M < 1).any() or (program.M >= 1 << program.limits.m_bits).any() or (
            program.shift > program.limits.shift_max).any():
        raise ProgramError("a parameter record's M or shift is out of the limits' range")
    memory = program.memory_codes
    inp = program.input
    _check_span("the input", inp["base"], inp["h"] * inp["w"] * inp["stride"], memory)
    format_from(program.family, inp["fmt"], "the input")
    _check_span("the output", program.output["base"], program.output["count"], memory)
    format_from(program.family, program.output["fmt"], "the output")
    for index, instruction in enumerate(program.instructions):
        _check_instruction(program, instruction, f"instruction {index}")


def add_alignment(family, instruction):
    """How far an ``ADD`` shifts the coarser operand: the difference of the two operands'
    exponents."""
    a, b = (format_from(family, getattr(instruction, f)) for f in ("a_fmt", "b_fmt"))
    return abs(a.int_exponent - b.int_exponent)


def _check_span(where, base, count, memory):
    if count < 0 or base + count > memory:
        raise ProgramError(f"{where} reaches address {base + count - 1}, beyond the "
                           f"program's memory of {memory} codes")


def _check_instruction(program, i, where):
    if i.op not in Op.__members__.values():
        raise ProgramError(f"{where}: unknown op {i.op}")
    if i.op == Op.END:
        return
    if i.flags & ~(Flag.RELU | Flag.CLIP) or (i.flags & Flag.CLIP and (
            not i.flags & Flag.RELU or i.clip < 0)):
        raise ProgramError(f"{where}: flags {i.flags} and clip {i.clip}: CLIP needs RELU and "
                           f"a nonnegative ceiling")
    family, memory = program.family, program.memory_codes
    format_from(family, i.a_fmt, where)
    if i.op != Op.MAXPOOL:
        format_from(family, i.out_fmt, where)
    if i.op in (Op.MATMUL, Op.ADD):
        format_from(family, i.b_fmt, where)
    for name in ("in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "kernel_h", "kernel_w",
                 "stride", "groups"):
        if getattr(i, name) < 1:
            raise ProgramError(f"{where}: {name} must be positive, not {getattr(i, name)}")
    _check_span(f"{where}'s input", i.src, i.in_h * i.in_w * i.in_c, memory)
    _check_span(f"{where}'s output", i.dst, i.out_h * i.out_w * i.out_c, memory)
    if i.op == Op.ADD:
        _check_span(f"{where}'s second input", i.src2, i.in_h * i.in_w * i.in_c, memory)
    if i.op in (Op.MAXPOOL, Op.AVGPOOL) and (
            i.out_c != i.in_c or (i.out_h - 1) * i.stride + i.kernel_h > i.in_h
            or (i.out_w - 1) * i.stride + i.kernel_w > i.in_w):
        raise ProgramError(f"{where}: the pooling windows leave the input")
    if i.op == Op.AVGPOOL and i.params >= len(program.bias):
        raise ProgramError(f"{where}: parameter record {i.params} does not exist")
    if i.op == Op.AVGPOOL and i.kernel_h * i.kernel_w > program.max_window:
        raise ProgramError(f"{where}: a window of {i.kernel_h * i.kernel_w} exceeds the "
                           f"header's max_window = {program.max_window}")
    if i.op == Op.ADD and add_alignment(family, i) > program.max_align:
        raise ProgramError(f"{where}: an alignment of {add_alignment(family, i)} exceeds the "
                           f"header's max_align = {program.max_align}")
    if i.op != Op.MATMUL:
        return
    rows, cols = program.rows, program.cols
    if i.group_in < 1 or i.group_in % rows or i.groups * i.group_in > i.in_c:
        raise ProgramError(f"{where}: group_in = {i.group_in} must be a positive multiple "
                           f"of rows = {rows} within in_c = {i.in_c} per group")
    if i.group_out < 1 or (i.groups - 1) * i.group_stride + i.group_out > i.out_c:
        raise ProgramError(f"{where}: {i.groups} groups of {i.group_out} outputs at stride "
                           f"{i.group_stride} leave out_c = {i.out_c}")
    k = i.kernel_h * i.kernel_w * i.group_in
    if k > program.max_k:
        raise ProgramError(f"{where}: a dot product of {k} exceeds the header's max_k = "
                           f"{program.max_k}")
    tiles = i.groups * -(-i.group_out // cols)
    _check_span(f"{where}'s weights", i.weights, tiles * (k // rows) * rows * cols,
                len(program.weights))
    if i.params + tiles * cols > len(program.bias):
        raise ProgramError(f"{where}: its parameter records pass the last one")


def checked_instruction(instruction, where):
    """``instruction``, or a :class:`ProgramError` naming a field its value overflows."""
    for name, code in INSTRUCTION_FIELDS:
        if code != "4s":
            _fits(where, name, getattr(instruction, name), 8 * struct.calcsize(code),
                  code.islower())
    return instruction
