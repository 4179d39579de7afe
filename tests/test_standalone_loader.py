# amaranth: UnusedElaboratable=no
# (the invalid-argument tests leave half-built components behind)
"""The image loader (hdl.standalone.loader): a program image byte by byte into the core's
memories; a good image runs bit-exact, a truncated, corrupted, foreign or too large one is
refused and never becomes runnable, and a good one loaded after it runs."""

import zlib

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring

from golden.compiler import compile_network
from golden.family import default_family
from golden.interpreter import Machine
from golden.program import HEADER_BYTES, channel_position, read_program
from golden.ptq import quantize_network
from hdl.standalone.core import StandaloneCore
from hdl.standalone.loader import ImageLoader, LoadError, header_checks
from hdl.standalone.io import InputWriter, OutputReader
from hdl.standalone.matmul import CodeMemory, share_memory
from tests.test_hdl_units import simulate
from tests.test_program import every_kind_net
from tests.test_standalone_matmul import memory_words

pytestmark = pytest.mark.sim

MEMORY_CODES = 1 << 13


def program_of(scheme, lanes, seed=31):
    rng = np.random.default_rng(seed)
    qnet = quantize_network(every_kind_net(4), scheme, 8, rng.normal(0, 1, (32, 2, 9, 9)))
    return compile_network(qnet, rows=lanes, cols=lanes, memory_codes=MEMORY_CODES), rng


def board(program, **build):
    """The loader, the input writer, the core, the output reader and a code memory built for
    ``program``'s family and limits (``build`` overrides the loader's capacities); the
    memory's user is ``phase``: 0 the loader, 1 the writer, 2 the core, 3 the reader."""
    lanes, family = program.rows, program.family
    address_bits = (MEMORY_CODES - 1).bit_length()
    capacities = dict(instructions=16, records=128, max_K=program.max_k, max_window=64,
                      max_align=8)
    capacities.update(build)
    m = Module()
    m.submodules.loader = loader = ImageLoader(
        family=build.get("family", family), lanes=build.get("lanes", lanes),
        address_bits=address_bits, limits=program.limits,
        **{k: v for k, v in capacities.items() if k not in ("family", "lanes")})
    m.submodules.writer = writer = InputWriter(n=family.n, lanes=lanes,
                                               address_bits=address_bits)
    m.submodules.core = core = StandaloneCore(
        family=family, lanes=lanes, depth=16, max_K=program.max_k, address_bits=address_bits,
        instructions=capacities["instructions"], records=capacities["records"],
        limits=program.limits)
    m.submodules.reader = reader = OutputReader(family=family, lanes=lanes,
                                                address_bits=address_bits)
    m.submodules.memory = memory = CodeMemory(n=family.n, lanes=lanes,
                                              words=MEMORY_CODES // lanes)
    phase = Signal(2)
    share_memory(m, memory.port, [loader.memory, writer.memory, core.memory, reader.memory],
                 phase)
    wiring.connect(m, loader.load, core.load)
    m.d.comb += [writer.descriptor.eq(loader.input), reader.output.eq(loader.output)]
    return m, phase, loader, writer, core, reader


async def send(ctx, loader, image):
    """``image``'s bytes after a ``start``, taken while the loader is ready, with a gap of a
    cycle or two before every third byte."""
    ctx.set(loader.start, 1)
    await ctx.tick()
    ctx.set(loader.start, 0)
    for k, byte in enumerate(image):
        if k % 3 == 0:
            ctx.set(loader.data.valid, 0)
            await ctx.tick().repeat(1 + k % 2)
        ctx.set(loader.data.payload, byte)
        ctx.set(loader.data.valid, 1)
        await ctx.tick().until(loader.data.ready)
    ctx.set(loader.data.valid, 0)
    await ctx.tick()


async def pulse(ctx, signal):
    ctx.set(signal, 1)
    await ctx.tick()
    ctx.set(signal, 0)


async def read_out(ctx, reader):
    """``(label, codes)`` of the output tensor, from the reader's ``start`` to ``done``."""
    await pulse(ctx, reader.start)
    codes = []
    ctx.set(reader.codes.ready, 1)
    while not ctx.get(reader.done):
        _, _, valid, code = await ctx.tick().sample(reader.codes.valid, reader.codes.payload)
        if valid:
            codes.append(code)
    return ctx.get(reader.label), codes


def load_all(program, images, *, run=None, **build):
    """``(valid, error)`` after each of ``images`` is sent; with ``run`` (input codes), the
    class and logits of the last image's program on them, from the writer, the core and the
    reader."""
    m, phase, loader, writer, core, reader = board(program, **build)
    outcome, result = [], []

    async def bench(ctx):
        for image in images:
            await send(ctx, loader, image)
            outcome.append((ctx.get(loader.valid), LoadError(ctx.get(loader.error))))
        if run is None:
            return
        assert ctx.get(loader.valid)
        assert ctx.get(loader.crc) == zlib.crc32(images[-1][:-4])
        header = []
        for offset in range(HEADER_BYTES):
            ctx.set(loader.header_address, offset)
            await ctx.tick()
            header.append(ctx.get(loader.header_data))
        assert bytes(header) == images[-1][:HEADER_BYTES]
        ctx.set(phase, 1)
        await pulse(ctx, writer.start)
        for code in run:
            assert not ctx.get(writer.done)
            ctx.set(writer.codes.payload, int(code))
            ctx.set(writer.codes.valid, 1)
            await ctx.tick().until(writer.codes.ready)
        ctx.set(writer.codes.valid, 0)
        assert ctx.get(writer.done)
        ctx.set(phase, 2)
        await pulse(ctx, core.run)
        await ctx.tick().until(~core.busy)
        assert not ctx.get(core.error)
        ctx.set(phase, 3)
        result.append(await read_out(ctx, reader))

    simulate(m, bench)
    return outcome, (result[0] if result else None)


def test_a_loaded_image_runs_bit_exact():
    program, rng = program_of("tfx-channel", 4)
    codes = program.input_codes(rng.normal(0, 1.5, (2, 9, 9)))
    outcome, (label, logits) = load_all(program, [program.to_bytes()], run=codes)
    assert outcome == [(1, LoadError.NONE)]
    expected_label, expected = Machine(program).classify(codes)
    np.testing.assert_array_equal(logits, expected)
    assert label == expected_label


def flipped(image, bit):
    data = bytearray(image)
    data[bit // 8] ^= 1 << (bit % 8)
    return bytes(data)


def test_bad_images_are_refused_and_a_good_one_runs_after_them():
    program, rng = program_of("fxp-layer", 2, seed=32)
    image = program.to_bytes()
    wrong_version = bytearray(image)
    wrong_version[8] = 2
    bits = rng.choice(8 * len(image), 6, replace=False)
    corrupted = [flipped(image, int(b)) for b in bits]
    for bad in corrupted:  # the host's reader refuses them too
        with pytest.raises(ValueError):
            read_program(bad)
    bad = [image[:len(image) // 2], image[:-1], image[:HEADER_BYTES - 3], bytes(wrong_version),
           image + b"\0", *corrupted]
    codes = program.input_codes(rng.normal(0, 1.5, (2, 9, 9)))
    outcome, (label, logits) = load_all(program, [*bad, image], run=codes)
    assert outcome[:3] == [(0, LoadError.NONE)] * 3  # truncated: still waiting
    assert outcome[3] == (0, LoadError.VERSION)
    assert outcome[4] == (0, LoadError.LENGTH)
    assert all(valid == 0 for valid, _ in outcome[:-1])
    assert outcome[-1] == (1, LoadError.NONE)
    np.testing.assert_array_equal(logits, Machine(program).run(codes))


def test_a_flipped_weight_or_instruction_bit_fails_the_crc():
    program, _ = program_of("tfx", 2, seed=33)
    image = program.to_bytes()
    body = HEADER_BYTES * 8
    bits = [body + 5, body + 64 * 8 + 3, 8 * (len(image) - 5) + 1]  # instruction, ..., weight
    outcome, _ = load_all(program, [flipped(image, b) for b in bits])
    assert outcome == [(0, LoadError.CRC)] * 3


@pytest.mark.parametrize("build,error", [
    ({"lanes": 4}, LoadError.BUILD),
    ({"family": default_family("posit", 8)}, LoadError.BUILD),
    ({"instructions": 3}, LoadError.TOO_LARGE),
    ({"records": 2}, LoadError.TOO_LARGE),
    ({"max_K": 4}, LoadError.TOO_LARGE),
    ({"max_window": 3}, LoadError.TOO_LARGE),
    ({"max_align": 0}, LoadError.TOO_LARGE),
])
def test_an_image_for_another_build_is_refused(build, error):
    program, _ = program_of("tfx", 2, seed=34)
    outcome, _ = load_all(program, [program.to_bytes()], **build)
    assert outcome == [(0, error)]


def test_the_header_checks_cover_every_field_the_build_fixes():
    family = default_family("tfx", 8)
    checks = header_checks(family=family, lanes=4, limits=family.default_limits(), capacities={
        "instruction_count": 64, "param_count": 512, "weight_count": 1 << 17,
        "memory_codes": 1 << 17, "max_k": 1568, "max_window": 64, "max_align": 8})
    kinds = {error for _, _, error in checks.values()}
    assert kinds == {LoadError.MAGIC, LoadError.VERSION, LoadError.BUILD, LoadError.TOO_LARGE}
    assert sorted(checks)[:8] == list(range(8))  # the magic
    assert max(checks) < HEADER_BYTES


def test_the_loader_takes_a_byte_per_code():
    with pytest.raises(ValueError, match="the loader takes a byte per code: n must be at most "
                                         "8, not 10"):
        ImageLoader(family=default_family("fxp", 10), lanes=2, address_bits=8,
                    instructions=4, records=4, max_K=8, max_window=4, max_align=1)


def test_the_input_writer_places_codes_as_the_interpreter_does():
    lanes, n, address_bits = 4, 8, 8
    h, w, c, base, stride, group_channels, group_stride = 2, 3, 6, 5, 17, 4, 8
    codes = np.arange(1, h * w * c + 1)
    m = Module()
    m.submodules.writer = writer = InputWriter(n=n, lanes=lanes, address_bits=address_bits)
    m.submodules.memory = memory = CodeMemory(n=n, lanes=lanes,
                                              words=(1 << address_bits) // lanes)
    wiring.connect(m, writer.memory, memory.port)
    got = []

    async def bench(ctx):
        for name, value in dict(base=base, h=h, w=w, c=c, stride=stride,
                                group_channels=group_channels,
                                group_stride=group_stride).items():
            ctx.set(getattr(writer.descriptor, name), value)
        await pulse(ctx, writer.start)
        for code in codes:
            ctx.set(writer.codes.payload, int(code))
            ctx.set(writer.codes.valid, 1)
            await ctx.tick().until(writer.codes.ready)
        assert ctx.get(writer.done) and not ctx.get(writer.codes.ready)
        words = [ctx.get(memory.data[k]) for k in range(memory.data.depth)]
        got.extend((word >> (j * n)) & 0xFF for word in words for j in range(lanes))

    simulate(m, bench)
    expected = np.zeros(1 << address_bits, np.int64)
    pixel, channel = np.divmod(np.arange(codes.size), c)
    expected[base + pixel * stride + channel_position(channel, group_channels,
                                                      group_stride)] = codes
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("kind", ["tfx", "fxp", "posit", "fp"])
def test_the_output_reader_finds_the_first_largest_logit(kind):
    family = default_family(kind, 8)
    fmt = family.members()[0]
    rng = np.random.default_rng(35)
    logits = rng.integers(0, 256, 11)
    logits[[3, 8]] = logits[np.argmax(fmt.ordinals(logits))]  # a tie, the first one wins
    lanes, base = 4, 6
    flat = np.zeros(64, np.int64)
    flat[base:base + logits.size] = logits
    m = Module()
    m.submodules.reader = reader = OutputReader(family=family, lanes=lanes, address_bits=6)
    m.submodules.memory = memory = CodeMemory(n=8, lanes=lanes, words=16,
                                              init=memory_words(flat, 8, lanes))
    wiring.connect(m, reader.memory, memory.port)
    got = []

    async def bench(ctx):
        ctx.set(reader.output.base, base)
        ctx.set(reader.output.count, logits.size)
        label, codes = await read_out(ctx, reader)
        got.extend([*codes, label])

    simulate(m, bench)
    assert got[:-1] == list(logits)
    assert got[-1] == int(np.argmax(fmt.ordinals(logits))) == min(3, got[-1])
