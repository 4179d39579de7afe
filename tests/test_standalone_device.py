# amaranth: UnusedElaboratable=no
# (the invalid-argument tests leave half-built components behind)
"""The resident device (hdl.standalone.device) at the byte level, in the Amaranth simulator:
INFO, a program image loaded in chunks and checked, images classified bit-exact, and every
refusal the protocol names."""

import re
import zlib

import pytest
from amaranth.sim import Simulator

from golden.family import default_family
from golden.interpreter import Machine
from hdl.protocol import (DEVICE_SYNC, HOST_SYNC, Command, Error, FrameDecoder, Reply,
                          ResidentInfo, encode_frame)
from hdl.standalone.device import ResidentDevice, ResidentEngine
from sim.streams import StreamMonitor
from tests.test_standalone_loader import MEMORY_CODES, program_of

pytestmark = pytest.mark.sim


def engine_for(program, **overrides):
    build = dict(family=program.family, lanes=program.rows, depth=16, max_K=program.max_k,
                 address_bits=(MEMORY_CODES - 1).bit_length(), instructions=16, records=128,
                 limits=program.limits, max_payload=256, timeout=2000)
    build.update(overrides)
    return ResidentEngine(**build)


def converse(engine, frames):
    """The device's reply frames to each of ``frames`` (bytes sent one a cycle, the reply
    awaited before the next frame)."""
    replies = []

    async def listen(ctx):
        decoder, monitor = FrameDecoder(DEVICE_SYNC), StreamMonitor("tx")
        cycle = 0
        async for _, _, valid, ready, byte in ctx.tick().sample(
                engine.tx.valid, engine.tx.ready, engine.tx.payload):
            monitor.sample(valid, ready, byte if valid else None, cycle)
            if valid and ready:
                replies.extend(decoder.feed(bytes([byte])))
            cycle += 1
            ctx.set(engine.tx.ready, cycle % 3 != 0)  # back-pressure, as a transmitter's

    async def talk(ctx):
        for number, frame in enumerate(frames):
            for byte in frame:
                ctx.set(engine.rx.payload, byte)
                ctx.set(engine.rx.valid, 1)
                await ctx.tick()
            ctx.set(engine.rx.valid, 0)
            for _ in range(100_000):
                if len(replies) > number:
                    break
                await ctx.tick()
            assert len(replies) == number + 1, f"no reply to {frame[:8].hex()}..."
            await ctx.tick().repeat(4)  # the reply's last byte leaves; a line is slower

    _run(engine, listen, talk)
    return replies


def _run(engine, listen, talk):
    sim = Simulator(engine)
    sim.add_clock(1e-6)
    sim.add_process(listen)
    sim.add_testbench(talk)
    sim.run()


def stream_in(engine, loads, frames, *, byte_gap=8, cycles=400_000):
    """The device's reply frames when, after ``loads`` (each reply awaited), ``frames``
    arrive as a pipelining host sends them: each as soon as the reply to the frame two
    before it is in (so one frame at most waits in the device), a byte every ``byte_gap``
    cycles (8: five times the fastest line's rate, 10 bits of 4 cycles, so that the next
    frame's bytes come as near as they could to overtaking the codes being written)."""
    replies = []

    async def listen(ctx):
        decoder = FrameDecoder(DEVICE_SYNC)
        async for _, _, valid, byte in ctx.tick().sample(engine.tx.valid, engine.tx.payload):
            if valid:
                replies.extend(decoder.feed(bytes([byte])))

    async def send(ctx, data):
        for byte in data:
            ctx.set(engine.rx.payload, byte)
            ctx.set(engine.rx.valid, 1)
            await ctx.tick()
            ctx.set(engine.rx.valid, 0)
            await ctx.tick().repeat(byte_gap - 1)

    async def wait_for(ctx, count):
        for _ in range(cycles):
            if len(replies) >= count:
                return
            await ctx.tick()

    async def talk(ctx):
        ctx.set(engine.tx.ready, 1)
        for number, load in enumerate(loads):
            await send(ctx, load)
            await wait_for(ctx, number + 1)
            await ctx.tick().repeat(byte_gap)
        for number, data in enumerate(frames):
            await wait_for(ctx, len(loads) + number - 1)
            await ctx.tick().repeat(byte_gap)  # the reply's last byte crosses the line
            await send(ctx, data)
        await wait_for(ctx, len(loads) + len(frames))

    _run(engine, listen, talk)
    return replies


def frame(command, payload=b"", seq=1):
    return encode_frame(HOST_SYNC, command, payload, seq=seq)


def codes_bytes(codes):
    return bytes(int(c) for c in codes)


def load_frames(image, chunk=200):
    return [frame(Command.LOAD_START), *(frame(Command.LOAD, image[k:k + chunk], seq=k % 251)
                                         for k in range(0, len(image), chunk))]


def test_a_program_loaded_in_chunks_classifies_bit_exact():
    program, rng = program_of("tfx-channel", 4)
    engine = engine_for(program)
    image = program.to_bytes()
    codes = program.input_codes(rng.normal(0, 1.5, (2, 2, 9, 9)))
    loads = load_frames(image)
    replies = converse(engine, [frame(Command.INFO), frame(Command.RUN, codes_bytes(codes[0])),
                                *loads, frame(Command.INFO, seq=7),
                                *(frame(Command.RUN, codes_bytes(c), seq=9 + k)
                                  for k, c in enumerate(codes)),
                                frame(Command.RUN, codes_bytes(codes[0][:-1]), seq=20),
                                frame(Command.RUN, codes_bytes(codes[0]) + b"\0", seq=21)])
    info, no_program, *acks = replies[:2 + len(loads)]
    assert ResidentInfo.from_payload(info.payload) == engine.info
    assert (no_program.kind, no_program.payload) == (Reply.ERROR,
                                                     bytes([Error.NO_PROGRAM, Command.RUN]))
    assert [(a.kind, a.payload) for a in acks] == [(Reply.ACK, bytes([f[1]])) for f in loads]
    loaded = ResidentInfo.from_payload(replies[2 + len(loads)].payload)
    assert (loaded.loaded, loaded.load_error, loaded.crc) == (True, 0, zlib.crc32(image[:-4]))
    for k, c in enumerate(codes):
        result = replies[3 + len(loads) + k]
        label, logits = Machine(program).classify(c)
        assert (result.kind, result.seq) == (Reply.RESULT, 9 + k)
        assert list(result.payload[:-2]) == list(logits)
        assert int.from_bytes(result.payload[-2:], "little") == label
    assert [r.payload for r in replies[-2:]] == [bytes([Error.LENGTH, Command.RUN])] * 2


def test_refused_images_and_frames_are_answered_with_their_reason():
    program, rng = program_of("fxp-layer", 2, seed=36)
    engine = engine_for(program)
    image = program.to_bytes()
    corrupted = bytearray(image)
    corrupted[len(image) // 2] ^= 0x10
    bad_crc = bytearray(frame(Command.INFO))
    bad_crc[-1] ^= 1
    codes = codes_bytes(program.input_codes(rng.normal(0, 1.5, (2, 9, 9))))
    loads = load_frames(bytes(corrupted))
    replies = converse(engine, [
        frame(Command.LOAD, image[:100]), *loads,
        frame(Command.LOAD, b"x"), frame(Command.RUN, codes), bytes(bad_crc),
        frame(Command.LOAD_START, b"\0"), frame(0x42)])
    codes_of = [r.payload[0] if r.kind == Reply.ERROR else None for r in replies]
    loading = codes_of[1:1 + len(loads)]
    refused = loading.index(Error.IMAGE_CRC)  # the chunk with the CRC's first byte
    assert loading[:refused] == [None] * refused  # acknowledged
    assert loading[refused + 1:] == [Error.NOT_LOADING] * (len(loads) - refused - 1)
    assert codes_of[:1] + codes_of[1 + len(loads):] == [
        Error.NOT_LOADING, Error.NOT_LOADING, Error.NO_PROGRAM, Error.CHECKSUM, Error.LENGTH,
        Error.COMMAND]


def test_the_next_image_arrives_while_this_one_is_computed():
    """Images sent back to back, as a pipelining host sends them: each waits, received
    whole, while the one before is computed, and every RESULT is bit-exact, in order. A
    frame damaged on the way waits too, and is answered after the RESULT before it."""
    program, rng = program_of("tfx-channel", 4, seed=41)
    engine = engine_for(program)
    codes = program.input_codes(rng.normal(0, 1.5, (3, 2, 9, 9)))
    damaged = bytearray(frame(Command.RUN, codes_bytes(codes[0]), seq=52))
    damaged[-1] ^= 1
    runs = [frame(Command.RUN, codes_bytes(codes[0]), seq=50),
            frame(Command.RUN, codes_bytes(codes[1]), seq=51), bytes(damaged),
            frame(Command.RUN, codes_bytes(codes[2]), seq=53)]
    loads = load_frames(program.to_bytes())
    replies = stream_in(engine, loads, runs)
    assert [r.kind for r in replies[:len(loads)]] == [Reply.ACK] * len(loads)
    results = replies[len(loads):]
    assert [(r.kind, r.seq) for r in results] == [(Reply.RESULT, 50), (Reply.RESULT, 51),
                                                   (Reply.ERROR, 52), (Reply.RESULT, 53)]
    assert results[2].payload == bytes([Error.CHECKSUM, Command.RUN])
    for result, c in zip([results[0], results[1], results[3]], codes):
        label, logits = Machine(program).classify(c)
        assert list(result.payload[:-2]) == list(logits)
        assert int.from_bytes(result.payload[-2:], "little") == label


def test_the_image_errors_follow_the_loaders_reasons():
    from hdl.standalone.loader import LoadError

    for reason in LoadError:
        if reason != LoadError.NONE:
            assert Error[f"IMAGE_{reason.name}"] == 16 + reason


def test_the_device_refuses_what_it_cannot_build():
    program, _ = program_of("tfx", 2, seed=37)
    with pytest.raises(ValueError, match="memory must be 'behavioural' or 'spram', not 'dram'"):
        engine_for(program, memory="dram")
    with pytest.raises(ValueError, match="the SPRAMs hold 2\\*\\*17 codes: address_bits must "
                                         "be 17, not 13"):
        engine_for(program, memory="spram")
    with pytest.raises(ValueError, match="clocks_per_bit must be an integer from 4 to 65536, "
                                         "not 2"):
        ResidentDevice(family=default_family("fxp", 8), lanes=2, depth=4, max_K=8,
                       clocks_per_bit=2)


@pytest.mark.cocotb
@pytest.mark.whole
def test_the_resident_device_over_the_uart_refuses_bad_images_then_classifies():
    from sim.hostlink_bench import run_resident_bench

    program, rng = program_of("fxp-layer", 2, seed=38)
    codes = program.input_codes(rng.normal(0, 1.5, (2, 2, 9, 9)))
    result = run_resident_bench(program, codes, simulator="verilator")
    assert result.passed, result.log


def test_the_client_names_what_a_program_needs_beyond_the_build():
    from dataclasses import replace

    from hdl.client import ResidentClient

    program, _ = program_of("tfx", 2, seed=39)
    client = ResidentClient(None)
    client.build = engine_for(program).info
    client.check_fits(program)
    for change, message in [
            ({"lanes": 4}, "the program needs the array 2x2; the device's build has 4x4"),
            ({"records": 3}, f"the program needs parameter records {len(program.bias)}; the "
                             f"device's build has 3"),
            ({"max_K": 4}, f"the program needs the longest dot product {program.max_k}; the "
                           f"device's build has 4"),
            ({"size_bits": 3}, f"the program needs the largest height or width "
                               f"{program.largest_size}; the device's build has 7")]:
        client.build = replace(engine_for(program).info, **change)
        with pytest.raises(ValueError, match=re.escape(message)):
            client.check_fits(program)


def test_an_image_in_input_frames_classifies_as_in_one():
    program, rng = program_of("fxp-layer", 2, seed=40)
    engine = engine_for(program)
    codes = codes_bytes(program.input_codes(rng.normal(0, 1.5, (2, 9, 9))))
    third = len(codes) // 3
    replies = converse(engine, [
        *load_frames(program.to_bytes()),
        frame(Command.INPUT, codes[:third], seq=30),
        frame(Command.INPUT, codes[third:2 * third], seq=31),
        frame(Command.RUN, codes[2 * third:], seq=32),
        frame(Command.INPUT, codes[:third], seq=33),
        frame(Command.RUN, codes[third:-1], seq=34),  # one code short: LENGTH
        frame(Command.INPUT, codes + b"\0", seq=35),  # one too many: LENGTH
        frame(Command.INPUT, codes[:third], seq=36),
        frame(Command.RUN, codes[third:], seq=37)])  # a new image after the refusals
    label, logits = Machine(program).classify(list(codes))
    tail = replies[-8:]
    assert [(r.kind, r.payload) for r in tail[:2]] == [(Reply.ACK, bytes([Command.INPUT]))] * 2
    for result, seq in ((tail[2], 32), (tail[7], 37)):
        assert (result.kind, result.seq) == (Reply.RESULT, seq)
        assert list(result.payload[:-2]) == list(logits)
        assert int.from_bytes(result.payload[-2:], "little") == label
    assert [(r.kind, r.payload) for r in tail[3:7]] == [
        (Reply.ACK, bytes([Command.INPUT])), (Reply.ERROR, bytes([Error.LENGTH, Command.RUN])),
        (Reply.ERROR, bytes([Error.LENGTH, Command.INPUT])),
        (Reply.ACK, bytes([Command.INPUT]))]


@pytest.mark.whole
@pytest.mark.cocotb
def test_resnet8_loads_and_classifies_over_the_uart():
    """ResNet-8 (MLPerf Tiny's architecture, random weights) on a device of the iCEBreaker
    build's capacities (128 K codes, 1,024-byte frames): the 80 KB program loads over the
    UART model, the 3,072-code image goes in INPUT frames, the class and logits are
    bit-exact (Verilator, about 6 minutes)."""
    import numpy as np

    from golden.compiler import compile_network
    from golden.ptq import quantize_network
    from scripts.bench.standalone import resnet8
    from scripts.fpga.flow import RESIDENT_CAPACITIES, SynthConfig
    from sim.hostlink_bench import run_resident_bench

    images = np.random.default_rng(8).uniform(0, 1, (65, 3, 32, 32))
    config = SynthConfig(mode="resident", format="fxp", rows=4, cols=4).resolved()
    qnet = quantize_network(resnet8(), "fxp-layer", 8, images[:64], family=config.family,
                            limits=config.limits)
    program = compile_network(qnet, rows=4, cols=4, memory_codes=1 << 17)
    device = ResidentDevice(family=program.family, lanes=4, depth=64, max_K=program.max_k,
                            limits=program.limits, clocks_per_bit=4, **RESIDENT_CAPACITIES)
    result = run_resident_bench(program, program.input_codes(images[64:]), device=device,
                                fuzz=False, simulator="verilator", timeout=0.05)
    assert result.passed, result.log


class _PipelineLine:
    """A transport to a model of the resident device's frame handling: one image computing
    and one frame waiting; a frame beyond that is lost, as the device ignores it. Each read
    finishes the oldest image: its RESULT (the image's codes summed, and its length)."""

    def __init__(self, *, damage=()):
        self.decoder, self.queue, self.most_outstanding = FrameDecoder(HOST_SYNC), [], 0
        self.damage = set(damage)  # indices of RESULTs damaged on the way, once each
        self.answered = 0

    def clock(self):
        return 0.0

    async def write(self, data):
        for f in self.decoder.feed(data):
            if len(self.queue) < 2:
                self.queue.append(f)
        self.most_outstanding = max(self.most_outstanding, len(self.queue))

    async def read(self, timeout):
        if not self.queue:
            raise TimeoutError
        f = self.queue.pop(0)
        payload = bytes([sum(f.payload) % 256, len(f.payload) % 256, 0])
        reply = bytearray(encode_frame(DEVICE_SYNC, Reply.RESULT, payload, seq=f.seq))
        if self.answered in self.damage:
            self.damage.discard(self.answered)
            reply[-1] ^= 1
        self.answered += 1
        return bytes(reply)


@pytest.mark.parametrize("damage", [(), (1,)], ids=["clean", "damaged"])
def test_the_client_sends_the_next_image_while_the_device_computes(damage):
    """classify_many keeps one image waiting in the device while one computes, never more,
    and returns the results in order; a RESULT damaged on the way is asked for again."""
    import asyncio

    from hdl.client import ResidentClient

    program, rng = program_of("fxp-layer", 2, seed=42)
    line = _PipelineLine(damage=damage)
    client = ResidentClient(line, timeout=1.0, retries=3)
    client.build, client._in_session = engine_for(program).info, True
    images = [[k, k + 1, 2 * k] for k in range(6)]
    seen = []
    results = asyncio.run(client.classify_many(images, on_result=lambda k, r: seen.append(k)))
    assert results == [(len(codes), [sum(codes) % 256]) for codes in images]
    assert seen == list(range(len(images)))
    assert line.most_outstanding == 2
