"""cocotb: host client <-> UART <-> the accelerator's host link, and every kind of bad frame.

The client (:class:`hdl.client.HostClient`) runs unchanged over a UART model. Bad frames
(CRC, unknown command, bad lengths, truncated, out-of-range config) must get their ERROR and
change nothing; a broken stream order must end in STALLED and a reset array. After all of it,
layers still come out bit-exact.
"""

import cocotb
import numpy as np

from golden.arith import ScalingLimits
from golden.family import parse_family
from golden.layers import run_layer
from hdl.accelerator import config_layout
from hdl.client import DeviceError, HostClient
from hdl.protocol import HOST_SYNC, BuildInfo, Command, Error, encode_frame
from hdl.tiling import pack_payload
from .common import ClockedBench, Scoreboard, params
from .tb_accelerator import random_layer
from .uart_model import UARTModel


async def _setup(dut):
    p = params()
    bench = ClockedBench(dut)
    uart = UARTModel(dut, p["clocks_per_bit"])
    await bench.start()
    cocotb.start_soon(uart.receive_forever())
    client = HostClient(uart, timeout=p["timeout"])
    return p, uart, client


async def _check_layers(client, p, board, count, rng):
    family, limits = parse_family(p["family"]), ScalingLimits(**p["limits"])
    for _ in range(count):
        M, K, N = (int(rng.integers(1, 9)), int(rng.integers(1, p["max_K"] + 1)),
                   int(rng.integers(1, 2 * p["cols"] + 2)))
        a, w, layer = random_layer(family, limits, rng, M, K, N, nar_rate=0.05)
        codes, nars = await client.run_layer(a, w, layer)
        want, want_nar = run_layer(a, w, layer, limits=limits)
        board.compare(codes, want, None)
        board.compare(nars, want_nar.astype(np.int64), None)


@cocotb.test()
async def layers_through_the_uart(dut):
    p, uart, client = await _setup(dut)
    info = await client.info()
    assert info == BuildInfo(**p["build"]), (info, p["build"])
    board = Scoreboard("layers over the UART")
    await _check_layers(client, p, board, 3, np.random.default_rng(1))
    assert uart.framing_errors == 0
    board.check(dut._log)


async def _expect_error(client, frame, code):
    try:
        await client.exchange(frame)
    except DeviceError as error:
        assert error.code == code, f"frame {frame.hex()}: {error.code.name}, expected {code.name}"
    else:
        raise AssertionError(f"frame {frame.hex()} was acknowledged, expected {code.name}")


@cocotb.test()
async def bad_frames_change_nothing(dut):
    p, uart, client = await _setup(dut)
    build = await client.info()
    family = parse_family(build.family)
    rng = np.random.default_rng(3)
    board = Scoreboard("layers after bad frames")
    await _check_layers(client, p, board, 1, rng)
    good_config = encode_frame(HOST_SYNC, Command.CONFIG, bytes(p["config_bytes"]))
    bad_crc = bytearray(good_config)
    bad_crc[-1] ^= 0x01
    await _expect_error(client, bytes(bad_crc), Error.CHECKSUM)
    await _expect_error(client, encode_frame(HOST_SYNC, 0x77), Error.COMMAND)
    await _expect_error(client, encode_frame(HOST_SYNC, Command.INFO, b"\x00"), Error.LENGTH)
    await _expect_error(client, encode_frame(HOST_SYNC, Command.CONFIG,
                                             bytes(p["config_bytes"] - 1)), Error.LENGTH)
    await _expect_error(client, encode_frame(HOST_SYNC, Command.WEIGHTS,
                                             bytes(p["weight_bytes"] + 1)), Error.LENGTH)
    await _expect_error(client, encode_frame(HOST_SYNC, Command.ACTIVATIONS, b""), Error.LENGTH)
    await _expect_error(client, encode_frame(HOST_SYNC, Command.ACTIVATIONS,
                                             bytes(p["max_payload"] + p["activation_bytes"])),
                        Error.LENGTH)
    await _expect_error(client, good_config[:len(good_config) // 2], Error.TRUNCATED)
    # Out of range: M = 0 in every column (an all-zero config), then a bad IS or scale.
    await _expect_error(client, good_config, Error.RANGE)
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
        await _expect_error(client, encode_frame(HOST_SYNC, Command.CONFIG, raw.to_bytes(
            p["config_bytes"], "little")), Error.RANGE)
    await _check_layers(client, p, board, 1, rng)  # nothing above changed anything
    # A pass's first vector before its weights: the array cannot take it.
    vector = (1 << (family.n * build.rows)).to_bytes(p["activation_bytes"], "little")
    await _expect_error(client, encode_frame(HOST_SYNC, Command.ACTIVATIONS, vector),
                        Error.STALLED)
    await _check_layers(client, p, board, 1, rng)
    await client.reset()
    await _check_layers(client, p, board, 1, rng)
    board.check(dut._log)

