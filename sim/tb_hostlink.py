"""cocotb: host client <-> UART <-> the accelerator's host link: every kind of bad frame, a
fuzz of the line, and a noisy line.

The client (:class:`hdl.client.HostClient`) runs unchanged over a UART model. Bad frames
(CRC, unknown command, bad lengths, truncated, out-of-range config, broken bounds) must get
their ERROR and change nothing; a broken stream order must end in STALLED and a reset array;
legal traffic must never stall, however slowly the results drain. Stream monitors watch the
link's inner streams (executor to array, array to framer, framer to UART) in every test.
After all of it, layers still come out bit-exact.
"""

import cocotb
import numpy as np
from cocotb.triggers import Timer

from golden.arith import ScalingLimits
from golden.family import parse_family
from golden.layers import run_layer
from hdl.accelerator import config_layout
from hdl.client import DeviceError, HostClient
from hdl.protocol import (DEVICE_SYNC, HOST_SYNC, RETRYABLE, BuildInfo, Command, Error,
                          FrameDecoder, Reply, encode_frame)
from hdl.tiling import pack_payload
from .common import Scoreboard, params
from .streams import StreamWatch
from .tb_accelerator import random_layer
from .uart_model import start_line


async def _setup(dut, *, retries=3):
    p = params()
    uart = await start_line(dut, p["clocks_per_bit"], seed=p.get("seed", 0))
    client = HostClient(uart, timeout=p["timeout"], retries=retries)
    if not p.get("watch", True):  # a flattened netlist has no inner streams to watch
        return p, uart, client, None
    executor, framer = dut.executor, dut.framer
    ports = {name: (getattr(executor, f"{name}__valid"), getattr(executor, f"{name}__ready"),
                    getattr(executor, f"{name}__payload"))
             for name in ("config", "weights", "activations")}
    ports["results"] = (framer.results__valid, framer.results__ready, framer.results__payload)
    ports["tx"] = (framer.tx__valid, framer.tx__ready, framer.tx__payload)
    # The array's reset (RESET, BOUND, STALLED) may end an offer to it or from it.
    watch = StreamWatch(dut.clk, ports, resets={name: executor.array_reset for name in
                                                ("config", "weights", "activations", "results")})
    cocotb.start_soon(watch.run())
    return p, uart, client, watch


async def _check_layers(client, p, board, count, rng, *, shape=None):
    """``count`` random layers (of ``shape`` (M, K, N) if given) bit-exact over the link."""
    family, limits = parse_family(p["family"]), ScalingLimits(**p["limits"])
    for _ in range(count):
        M, K, N = shape or (int(rng.integers(1, 9)), int(rng.integers(1, p["max_K"] + 1)),
                            int(rng.integers(1, 2 * p["cols"] + 2)))
        a, w, layer = random_layer(family, limits, rng, M, K, N, nar_rate=0.05)
        codes, nars = await client.run_layer(a, w, layer)
        want, want_nar = run_layer(a, w, layer, limits=limits)
        board.compare(codes, want, None)
        board.compare(nars, want_nar.astype(np.int64), None)


def _finish(dut, watch, board):
    if watch is not None:
        transfers = watch.check()
        dut._log.info(f"stream transfers: {transfers}")
    board.check(dut._log)


@cocotb.test()
async def layers_through_the_uart(dut):
    """Layers bit-exact, with stall_cycles at its minimum: the results drain far slower than
    the array makes them (a RESULT frame takes hundreds of cycles; a 40-row layer fills the
    result FIFO many times over), and nothing stalls."""
    p, uart, client, watch = await _setup(dut)
    info = await client.info()
    assert info == BuildInfo(**p["build"]), (info, p["build"])
    board = Scoreboard("layers over the UART")
    rng = np.random.default_rng(1)
    await _check_layers(client, p, board, 1, rng, shape=(40, p["rows"], p["cols"]))
    await _check_layers(client, p, board, 2, rng)
    assert uart.framing_errors == 0 and client.resent == 0
    _finish(dut, watch, board)


def _fresh(client, command, payload=b""):
    client.seq = (client.seq + 1) % 256
    return encode_frame(HOST_SYNC, command, payload, seq=client.seq)


async def _expect_error(client, frame, code):
    try:
        await client.exchange(frame)
    except DeviceError as error:
        assert error.code == code, f"frame {frame.hex()}: {error.code.name}, expected {code.name}"
    else:
        raise AssertionError(f"frame {frame.hex()} was acknowledged, expected {code.name}")


@cocotb.test()
async def bad_frames_change_nothing(dut):
    p, uart, client, watch = await _setup(dut, retries=0)
    build = await client.info()
    family = parse_family(build.family)
    layouts = build.stream_layouts()
    rng = np.random.default_rng(3)
    board = Scoreboard("layers after bad frames")
    await _check_layers(client, p, board, 1, rng)
    good_config = bytes(p["config_bytes"])
    bad_crc = bytearray(_fresh(client, Command.CONFIG, good_config))
    bad_crc[-1] ^= 0x01
    await _expect_error(client, bytes(bad_crc), Error.CHECKSUM)
    await _expect_error(client, _fresh(client, 0x77), Error.COMMAND)
    await _expect_error(client, _fresh(client, Command.INFO, b"\x00"), Error.LENGTH)
    await _expect_error(client, _fresh(client, Command.CONFIG, good_config[:-1]), Error.LENGTH)
    await _expect_error(client, _fresh(client, Command.WEIGHTS, bytes(p["weight_bytes"] + 1)),
                        Error.LENGTH)
    await _expect_error(client, _fresh(client, Command.ACTIVATIONS), Error.LENGTH)
    await _expect_error(client, _fresh(client, Command.ACTIVATIONS,
                                       bytes(p["max_payload"] + p["activation_bytes"])),
                        Error.TOO_LONG)
    whole = _fresh(client, Command.CONFIG, good_config)
    await _expect_error(client, whole[:len(whole) // 2], Error.TRUNCATED)
    # Out of range: M = 0 in every column (an all-zero config), then a bad IS or scale.
    await _expect_error(client, _fresh(client, Command.CONFIG, good_config), Error.RANGE)
    layout = config_layout(family, build.cols, build.limits)
    base = {"a_scale": 0, "w_scale": 0, "out_scale": 0, "relu": 0, "bias": [0] * build.cols,
            "M": [1] * build.cols, "shift": [0] * build.cols}
    bad_values = []
    for name, (low, high) in family.fields.items():
        base.update({f"{prefix}_{name}": low for prefix in ("a", "w", "out")})
        if low > 0:
            bad_values.append({f"a_{name}": low - 1})
        if high + 1 < 1 << high.bit_length():
            bad_values.append({f"out_{name}": high + 1})
    low, high = family.scale_range
    bad_values += [{"w_scale": high + 1}, {"a_scale": low - 1}]
    if build.shift_max + 1 < 1 << build.shift_max.bit_length():
        bad_values.append({"shift": [build.shift_max + 1] * build.cols})
    for change in bad_values:
        raw = pack_payload(layout, {**base, **change})
        await _expect_error(client, _fresh(client, Command.CONFIG, raw.to_bytes(
            p["config_bytes"], "little")), Error.RANGE)
    await _check_layers(client, p, board, 1, rng)  # nothing above changed anything

    def vector(first, acc_first, acc_last):
        raw = pack_payload(layouts["activations"], {"codes": [1] * build.rows, "first": first,
                                                     "acc_first": acc_first,
                                                     "acc_last": acc_last})
        return raw.to_bytes(p["activation_bytes"], "little")

    # A pass that continues no accumulation; more K-tiles than max_K allows: BOUND.
    await _expect_error(client, _fresh(client, Command.ACTIVATIONS, vector(1, 0, 1)),
                        Error.BOUND)
    await _check_layers(client, p, board, 1, rng)
    await client.send(Command.WEIGHTS, bytes(p["weight_bytes"]) * build.rows)
    await client.send(Command.ACTIVATIONS, vector(1, 1, 0))
    for _ in range(build.max_k_tiles - 1):
        await client.send(Command.WEIGHTS, bytes(p["weight_bytes"]) * build.rows)
        await client.send(Command.ACTIVATIONS, vector(1, 0, 0))
    await client.send(Command.WEIGHTS, bytes(p["weight_bytes"]) * build.rows)
    await _expect_error(client, _fresh(client, Command.ACTIVATIONS, vector(1, 0, 1)),
                        Error.BOUND)
    await _check_layers(client, p, board, 1, rng)
    # A pass longer than the buffer's depth; a continuing pass longer than its
    # accumulation's first pass: BOUND.
    per_frame = p["max_payload"] // p["activation_bytes"]
    opening = [vector(1, 1, 0)] + [vector(0, 1, 0)] * (build.depth - 1)
    await client.send(Command.WEIGHTS, bytes(p["weight_bytes"]) * build.rows)
    for i in range(0, len(opening), per_frame):
        await client.send(Command.ACTIVATIONS, b"".join(opening[i:i + per_frame]))
    await _expect_error(client, _fresh(client, Command.ACTIVATIONS, vector(0, 1, 0)),
                        Error.BOUND)
    await _check_layers(client, p, board, 1, rng)
    await client.send(Command.WEIGHTS, bytes(p["weight_bytes"]) * build.rows)
    await client.send(Command.ACTIVATIONS, vector(1, 1, 0))
    await client.send(Command.WEIGHTS, bytes(p["weight_bytes"]) * build.rows)
    await _expect_error(client, _fresh(client, Command.ACTIVATIONS,
                                       vector(1, 0, 1) + vector(0, 0, 1)), Error.BOUND)
    await _check_layers(client, p, board, 1, rng)
    # A pass's first vector before its weights: the array cannot take it.
    await _expect_error(client, _fresh(client, Command.ACTIVATIONS, vector(1, 1, 1)),
                        Error.STALLED)
    await _check_layers(client, p, board, 1, rng)
    await client.reset()
    await _check_layers(client, p, board, 1, rng)
    _finish(dut, watch, board)


class LineLog:
    """Every frame the device sent (as sent, before the line could damage it)."""

    def __init__(self, uart):
        self.uart, self.decoder, self.frames, self.seen = uart, FrameDecoder(DEVICE_SYNC), [], 0

    def update(self):
        data = self.uart.sent_by_device
        self.frames += self.decoder.feed(bytes(data[self.seen:]))
        self.seen = len(data)
        return self.frames


DAMAGED_SEQS = range(128, 256)  # the fuzz's damaged frames; the client's stay below


@cocotb.test()
async def fuzz_the_line(dut):
    """Rounds of random garbage on the line (random bytes with SYNCs among them, frames with
    1-3 flipped bits, noise inside a frame, truncated frames, framing errors, breaks), each
    followed by a valid command: it must be answered (the client may retry), no damaged frame
    may be executed (no reply but CHECKSUM, TRUNCATED or TOO_LONG to a damaged frame's SEQ),
    and layers afterwards are bit-exact."""
    p, uart, client, watch = await _setup(dut, retries=4)
    rng = np.random.default_rng(p.get("seed", 0))
    build = await client.info()
    log = LineLog(uart)
    board = Scoreboard("layers after the fuzz")
    kinds = ("random", "flipped", "inside", "truncated", "framing", "break")
    done = dict.fromkeys(kinds, 0)
    commands = [Command.RESET, Command.WEIGHTS, Command.ACTIVATIONS, Command.CONFIG,
                Command.INFO]
    for round_ in range(p["fuzz_rounds"]):
        client.seq %= 100  # the client's SEQs stay out of DAMAGED_SEQS (never the last one)
        kind = kinds[round_ % len(kinds)]
        done[kind] += 1
        command = commands[int(rng.integers(len(commands)))]
        payload = bytes(rng.integers(0, 256, int(rng.integers(0, p["max_payload"] + 1)),
                                     dtype=np.uint8))
        seq = int(rng.choice(DAMAGED_SEQS))
        frame = bytearray(encode_frame(HOST_SYNC, command, payload, seq=seq))
        if kind == "random":
            garbage = rng.integers(0, 256, int(rng.integers(1, 80)), dtype=np.uint8)
            garbage[rng.random(len(garbage)) < 0.1] = HOST_SYNC
            await uart.write(bytes(garbage))
        elif kind == "flipped":
            for bit in rng.choice(np.arange(8, 8 * len(frame)), int(rng.integers(1, 4)),
                                  replace=False):
                frame[bit // 8] ^= 1 << (bit % 8)
            await uart.write(bytes(frame))
        elif kind == "inside":
            at = int(rng.integers(1, len(frame)))
            noise = bytes(rng.integers(0, 256, int(rng.integers(1, 6)), dtype=np.uint8))
            await uart.write(bytes(frame[:at]) + noise + bytes(frame[at:]))
        elif kind == "truncated":
            await uart.write(bytes(frame[:int(rng.integers(1, len(frame) - 1))]))
        elif kind == "framing":
            for byte in frame[:int(rng.integers(1, len(frame)))]:
                if rng.random() < 0.3:
                    await uart.framing_error(byte)
                else:
                    await uart.write(bytes([byte]))
        else:
            await uart.write(bytes(frame[:int(rng.integers(0, len(frame)))]))
            await uart.line_break(int(rng.integers(10, 300)))
        # A valid command after the garbage: answered, perhaps after retries.
        if rng.random() < 0.5:
            await uart.idle(int(rng.integers(0, 2 * build.timeout_bits)))
        await client.reset()
    for frame in log.update():
        if frame.seq in DAMAGED_SEQS and frame.kind != Reply.RESULT:
            assert frame.kind == Reply.ERROR and frame.payload[0] in RETRYABLE, \
                f"a damaged frame (SEQ {frame.seq}) was executed: {frame}"
    await _check_layers(client, p, board, 2, rng)
    dut._log.info(f"fuzz: {p['fuzz_rounds']} rounds {done}, {client.resent} frames resent, "
                  f"{len(log.frames)} device frames")
    _finish(dut, watch, board)


@cocotb.test()
async def layers_over_a_noisy_line(dut):
    """Bit flips on both lines (about one byte in ``noise_bytes``): every layer still comes out
    bit-exact, the client resending frames and re-running layers as the protocol allows."""
    p, uart, client, watch = await _setup(dut, retries=8)
    await client.info()
    uart.flip_to_device = uart.flip_from_device = 1 / p["noise_bytes"]
    board = Scoreboard("layers over a noisy line")
    await _check_layers(client, p, board, p["noisy_layers"], np.random.default_rng(7))
    uart.flip_to_device = uart.flip_from_device = 0.0
    dut._log.info(f"noisy line: {uart.flipped} bytes damaged, {client.resent} resends")
    assert uart.flipped > 0
    await Timer(1, unit="us")
    _finish(dut, watch, board)
