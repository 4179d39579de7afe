# amaranth: UnusedElaboratable=no
# (the invalid-argument tests leave half-built components behind)
"""The image loader (hdl.standalone.loader): a program image byte by byte into the core's
memories; a good image runs bit-exact, a truncated, corrupted, foreign or too large one is
refused and never becomes runnable, and a good one loaded after it runs."""

import zlib

import numpy as np
import pytest
from amaranth.hdl import Module, Mux

from golden.compiler import compile_network
from golden.family import default_family
from golden.interpreter import Machine
from golden.program import HEADER_BYTES, read_program
from golden.ptq import quantize_network
from hdl.standalone.core import StandaloneCore
from hdl.standalone.loader import ImageLoader, LoadError, header_checks
from hdl.standalone.matmul import CodeMemory
from tests.test_hdl_units import simulate
from tests.test_standalone_core import run_program
from tests.test_program import every_kind_net
from tests.test_standalone_matmul import memory_words

pytestmark = pytest.mark.sim

MEMORY_CODES = 1 << 13


def program_of(scheme, lanes, seed=31):
    rng = np.random.default_rng(seed)
    qnet = quantize_network(every_kind_net(4), scheme, 8, rng.normal(0, 1, (32, 2, 9, 9)))
    return compile_network(qnet, rows=lanes, cols=lanes, memory_codes=MEMORY_CODES), rng


def board(program, **build):
    """The loader, the core and a code memory built for ``program``'s family and limits
    (``build`` overrides the loader's capacities)."""
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
    m.submodules.core = core = StandaloneCore(
        family=family, lanes=lanes, depth=16, max_K=program.max_k, address_bits=address_bits,
        instructions=16, records=128, limits=program.limits)
    m.submodules.memory = memory = CodeMemory(n=family.n, lanes=lanes,
                                              words=MEMORY_CODES // lanes)
    loading = ~loader.valid  # the core's port once an image is loaded
    for name in ("address", "read", "write", "write_data"):
        m.d.comb += getattr(memory.port, name).eq(
            Mux(loading, getattr(loader.memory, name), getattr(core.memory, name)))
    m.d.comb += core.memory.read_data.eq(memory.port.read_data)
    for name in ("load_address", "load_instruction", "load_record", "load_data"):
        m.d.comb += getattr(core, name).eq(getattr(loader, name))
    return m, loader, core, memory


async def send(ctx, loader, image):
    """``image``'s bytes after a ``start``, one a cycle while the loader is ready."""
    ctx.set(loader.start, 1)
    await ctx.tick()
    ctx.set(loader.start, 0)
    for byte in image:
        ctx.set(loader.data.payload, byte)
        ctx.set(loader.data.valid, 1)
        await ctx.tick().until(loader.data.ready)
    ctx.set(loader.data.valid, 0)
    await ctx.tick()


def load_all(program, images, *, run=None, **build):
    """``(valid, error)`` after each of ``images`` is sent; with ``run`` (input codes), the
    logits of running the last image's program on them."""
    m, loader, core, memory = board(program, **build)
    outcome, logits = [], []
    lanes, n = program.rows, program.family.n

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
        # Only the input tensor's words: the weights must be the loader's.
        machine = Machine(program)
        before = memory_words(machine.memory, n, lanes)
        machine.load_image(run)
        for w, word in enumerate(memory_words(machine.memory, n, lanes)):
            if word != before[w]:
                ctx.set(memory.data[w], word)
        logits.append(await run_program(ctx, core, memory, program, cycles=200_000))
        assert not ctx.get(core.error)

    simulate(m, bench)
    return outcome, (logits[0] if logits else None)


def test_a_loaded_image_runs_bit_exact():
    program, rng = program_of("tfx-channel", 4)
    codes = program.input_codes(rng.normal(0, 1.5, (2, 9, 9)))
    outcome, logits = load_all(program, [program.to_bytes()], run=codes)
    assert outcome == [(1, LoadError.NONE)]
    np.testing.assert_array_equal(logits, Machine(program).run(codes))


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
    outcome, logits = load_all(program, [*bad, image], run=codes)
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
