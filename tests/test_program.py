"""Standalone programs (golden.program): the compiler, the binary image and the interpreter
that specifies the sequencer, against the integer engine on every layer kind and family."""

import struct
import zlib

import numpy as np
import pytest

from golden.datasets import load
from golden.models import model_path
from golden.network import Network, Node, fold, load_network
from golden.onnx_import import import_onnx
from golden.compiler import compile_network
from golden.interpreter import Machine
from golden.program import (HEADER_BYTES, INSTRUCTION_BYTES, UP5K_MEMORY_CODES, Op,
                            ProgramError, read_program)
from golden.ptq import quantize_network
from tests.onnx_models import separable_model

RNG = np.random.default_rng(11)


def _conv(name, source, c_in, c_out, rng, *, k=3, stride=1, padding=1, groups=1, relu=False):
    return Node("conv", name, {"input": source, "stride": stride, "padding": padding,
                               "relu": relu, "groups": groups},
                {"weight": rng.normal(0, 0.6, (c_out, c_in // groups, k, k)),
                 "bias": rng.normal(0.1, 0.2, c_out)})


def every_kind_net(seed=0, *, second_groups=1):
    """Asymmetric padding, depthwise into depthwise, a residual add with a clipped ReLU,
    max and windowed average pooling, a convolution reading a grouped tensor, flatten and a
    dense chain. ``second_groups`` > 1 makes the tensor layouts conflict."""
    rng = np.random.default_rng(seed)
    nodes = [_conv("c0", "input", 2, 6, rng, padding=[1, 0, 2, 1], relu=True),
             _conv("d1", "c0", 6, 6, rng, stride=2, groups=6, relu=6.0),
             _conv("d2", "d1", 6, 6, rng, groups=6),
             Node("add", "a1", {"inputs": ["d2", "d1"], "relu": 4.0}),
             Node("maxpool", "m1", {"input": "a1", "kernel": 2, "stride": 1}),
             Node("avgpool", "p1", {"input": "m1", "kernel": 2, "stride": 1}),
             _conv("g1", "p1", 6, 4, rng, k=2, padding=0, groups=second_groups, relu=True),
             Node("flatten", "f", {"input": "g1"}),
             Node("dense", "fc1", {"input": "f", "relu": True},
                  {"weight": rng.normal(0, 0.5, (8, 5)), "bias": rng.normal(0, 0.1, 5)}),
             Node("dense", "fc2", {"input": "fc1", "relu": False},
                  {"weight": rng.normal(0, 0.5, (5, 3)), "bias": rng.normal(0, 0.1, 3)})]
    return Network(nodes, (2, 9, 9), {"made": "test"})


def _check(qnet, x, *, rows, cols, depth=256, memory=1 << 20):
    """The interpreter's logits equal the integer engine's on every image; the program."""
    program = read_program(compile_network(qnet, rows=rows, cols=cols,
                                           memory_codes=memory).to_bytes())
    machine = Machine(program, depth=depth)
    expected = qnet.run_integer(x)
    for codes, logits in zip(program.input_codes(x), expected):
        np.testing.assert_array_equal(machine.run(codes), logits)
    return program, machine


SCHEMES = [("tfx", 8), ("tfx-channel", 6), ("fxp-layer", 8), ("fxp-channel-signed", 5),
           ("posit-channel", 8), ("fp", 8), ("fp-channel", 6)]


@pytest.mark.parametrize("scheme,n", SCHEMES)
@pytest.mark.parametrize("rows,cols", [(3, 3), (4, 4), (2, 5)])
def test_every_layer_kind_runs_bit_exact(scheme, n, rows, cols):
    network = every_kind_net()
    x = RNG.normal(0, 1, (6, 2, 9, 9))
    qnet = quantize_network(network, scheme, n, RNG.normal(0, 1, (64, 2, 9, 9)))
    program, _ = _check(qnet, x, rows=rows, cols=cols)
    ops = [Op(i.op).name for i in program.instructions]
    assert ops == ["MATMUL"] * 3 + ["ADD", "MAXPOOL", "AVGPOOL"] + ["MATMUL"] * 3 + ["END"]
    d1 = program.instructions[1]
    # the depthwise layers read and write one padded run of lanes per channel
    assert (d1.groups, d1.group_in, d1.group_out, d1.out_c) == (6, rows, rows, 6 * rows)
    assert program.instructions[3].flags == 3  # ReLU and clip


@pytest.mark.parametrize("scheme,n", [("tfx-channel", 8), ("fxp-channel-signed", 8),
                                      ("posit", 6), ("fp-channel", 8)])
def test_depthwise_separable_relu6_model_runs_bit_exact(scheme, n):
    network = fold(import_onnx(separable_model(np.random.default_rng(3))))
    x = RNG.normal(0, 1, (6, 3, 10, 10))
    qnet = quantize_network(network, scheme, n, RNG.normal(0, 1, (64, 3, 10, 10)))
    program, _ = _check(qnet, x, rows=4, cols=4)
    assert any(i.flags & 2 for i in program.instructions)  # ReLU6 clips


def test_the_order_of_passes_and_stale_memory_never_change_a_result():
    qnet = quantize_network(every_kind_net(1), "tfx-channel", 8, RNG.normal(0, 1, (64, 2, 9, 9)))
    x = RNG.normal(0, 1, (3, 2, 9, 9))
    program, machine = _check(qnet, x, rows=3, cols=3, depth=1)
    fresh = Machine(program, depth=1000)
    codes = program.input_codes(x)
    for image in codes:
        fresh.run(image)
    # Padding positions hold whatever earlier tensors left; refill every activation code.
    used = len(program.weights)
    fresh.memory[used:] = RNG.integers(0, 1 << 8, program.memory_codes - used)
    np.testing.assert_array_equal(fresh.run(codes[0]), qnet.run_integer(x[:1])[0])
    assert machine.passes > fresh.passes  # depth 1 reloads every tile per pixel


def test_a_broken_interpreter_is_caught():
    """Teeth: a machine whose scaling stage forgets the clip disagrees."""
    qnet = quantize_network(every_kind_net(2), "tfx", 8, RNG.normal(0, 1, (64, 2, 9, 9)))
    x = RNG.normal(0, 3, (8, 2, 9, 9))
    program = compile_network(qnet, rows=4, cols=4, memory_codes=1 << 20)

    class NoClip(Machine):
        def _finish(self, i, acc, fmt, M=1, shift=0):
            return super()._finish(type(i)(**{**i.__dict__, "flags": i.flags & 1}), acc, fmt,
                                   M, shift)

    expected = qnet.run_integer(x)
    broken = NoClip(program)
    assert any(not np.array_equal(broken.run(c), e)
               for c, e in zip(program.input_codes(x), expected))


@pytest.mark.parametrize("scheme,n", [("tfx", 8), ("fxp-layer", 8)])
def test_shipped_convnets_compile_fit_the_up5k_and_classify_like_the_engine(scheme, n):
    for dataset in ("digits", "fashion-mnist"):
        network = fold(load_network(model_path(dataset, "convnet", 0)))
        x, _ = load(dataset, "test")
        x = x[:3]
        qnet = quantize_network(network, scheme, n, load(dataset, "calibration")[0][:500])
        program, machine = _check(qnet, x, rows=4, cols=4, memory=UP5K_MEMORY_CODES)
        assert program.memory_codes <= UP5K_MEMORY_CODES
        classes = [machine.classify(codes)[0] for codes in program.input_codes(x)]
        assert classes == list(qnet.predict(x))


def test_the_shipped_resnet_runs_bit_exact_but_does_not_fit_the_up5k():
    network = fold(load_network(model_path("digits", "resnet", 0)))
    x, _ = load("digits", "test")
    qnet = quantize_network(network, "tfx", 8, load("digits", "calibration")[0][:300])
    _check(qnet, x[:2], rows=4, cols=4)
    with pytest.raises(ProgramError, match=r"needs [\d,]+ codes of memory .* at its peak at "
                                           r"layer '\w+'\); the memory holds 131,072"):
        compile_network(qnet, rows=4, cols=4)


def test_the_image_round_trips_and_every_section_is_where_the_header_says():
    qnet = quantize_network(every_kind_net(), "fp-channel", 8, RNG.normal(0, 1, (64, 2, 9, 9)))
    program = compile_network(qnet, rows=4, cols=4, memory_codes=1 << 20, name="kinds")
    data = program.to_bytes()
    again = read_program(data)
    assert again.to_bytes() == data and again.name == "kinds"
    assert again.instructions == program.instructions
    np.testing.assert_array_equal(again.weights, program.weights)
    np.testing.assert_array_equal(again.bias, program.bias)
    count = len(program.instructions)
    assert data[:8] == b"TENTPROG" and struct.unpack_from("<H", data, 8)[0] == 1
    start = HEADER_BYTES + count * INSTRUCTION_BYTES + len(program.bias) * program.record_bytes
    assert data[start:-4] == program.weights.astype(np.uint8).tobytes()
    assert data[-4:] == zlib.crc32(data[:-4]).to_bytes(4, "little")


def _image():
    qnet = quantize_network(every_kind_net(), "tfx", 8, RNG.normal(0, 1, (64, 2, 9, 9)))
    return compile_network(qnet, rows=4, cols=4, memory_codes=1 << 20).to_bytes()


def _with_crc(body):
    return body + zlib.crc32(body).to_bytes(4, "little")


@pytest.mark.parametrize("change,message", [
    (lambda d: d[:20], "fewer than a header and CRC"),
    (lambda d: b"NOTAPROG" + d[8:], "not a tent program"),
    (lambda d: _with_crc(d[:8] + b"\x02\x00" + d[10:-4]),
     "format version 2; this build reads version 1"),
    (lambda d: d[:-1], "bytes; its header describes"),
    (lambda d: d + b"\0", "bytes; its header describes"),
    (lambda d: d[:-10] + bytes([d[-10] ^ 1]) + d[-9:], "CRC-32 does not match"),
    (lambda d: _with_crc(d[:12] + b"\x09" + d[13:-4]), "no known format family"),
    (lambda d: _with_crc(d[:HEADER_BYTES] + b"\x09" + d[HEADER_BYTES + 1:-4]),
     "instruction 0: unknown op 9"),
])
def test_malformed_images_are_refused_with_their_reason(change, message):
    with pytest.raises(ProgramError, match=message):
        read_program(change(_image()))


def test_every_corrupted_byte_is_refused():
    data = _image()
    rng = np.random.default_rng(5)
    for position in rng.choice(len(data), 200, replace=False):
        corrupted = bytearray(data)
        corrupted[position] ^= 1 << int(rng.integers(8))
        with pytest.raises(ProgramError):
            read_program(bytes(corrupted))


def test_an_instruction_reaching_past_memory_is_refused_even_with_a_good_crc():
    data = bytearray(_image()[:-4])
    offset = HEADER_BYTES + 4 * 2 + 4  # the first instruction's dst
    struct.pack_into("<I", data, offset, 1 << 30)
    with pytest.raises(ProgramError, match="instruction 0's output reaches address"):
        read_program(_with_crc(bytes(data)))


def test_an_instruction_beyond_the_headers_limits_is_refused():
    qnet = quantize_network(every_kind_net(), "tfx", 8, RNG.normal(0, 1, (64, 2, 9, 9)))
    program = compile_network(qnet, rows=4, cols=4, memory_codes=1 << 20)
    assert program.max_window == 4  # the 2x2 average pool
    data = bytearray(program.to_bytes()[:-4])
    struct.pack_into("<H", data, 39, 3)  # max_window
    with pytest.raises(ProgramError, match=r"instruction 5: a window of 4 exceeds the "
                                           r"header's max_window = 3"):
        read_program(_with_crc(bytes(data)))


def test_a_clip_without_relu_is_refused():
    data = bytearray(_image()[:-4])
    data[HEADER_BYTES + 1] = 2  # the first instruction's flags: CLIP alone
    with pytest.raises(ProgramError, match="instruction 0: flags 2 .* CLIP needs RELU"):
        read_program(_with_crc(bytes(data)))


def test_what_the_board_cannot_run_is_one_line_naming_the_layer():
    calibration = RNG.normal(0, 1, (64, 2, 9, 9))
    with pytest.raises(ProgramError, match=r"layer 'g1' reads its input in 2 groups, but "
                                           r"layer 'd2' reads .* in 6"):
        compile_network(quantize_network(every_kind_net(second_groups=2), "tfx", 8,
                                         calibration), rows=4, cols=4)
    with pytest.raises(ProgramError, match=r"tfx-channel-unsigned has unsigned tensors "
                                           r"\(TFX8/IS<=3\+U\): the standalone core does not "
                                           r"build unsigned activations yet"):
        compile_network(quantize_network(every_kind_net(), "tfx-channel-unsigned", 8,
                                         calibration), rows=4, cols=4)
    with pytest.raises(ProgramError, match=r"fxp-mx has block-scaled weights \(W-MX\): the "
                                           r"standalone core does not build them yet"):
        compile_network(quantize_network(every_kind_net(), "fxp-mx", 8, calibration),
                        rows=4, cols=4)
    qnet = quantize_network(every_kind_net(), "tfx", 8, calibration)
    with pytest.raises(ProgramError, match=r"the memory holds 100"):
        compile_network(qnet, rows=4, cols=4, memory_codes=100)
    with pytest.raises(ValueError, match="rows must be an integer from 1 to 64, not 0"):
        compile_network(qnet, rows=0, cols=4)
    with pytest.raises(ValueError, match="name must be up to 16 printable ASCII characters"):
        compile_network(qnet, rows=4, cols=4, name="a name far too long")
    with pytest.raises(ValueError, match="name must be up to 16 printable ASCII"):
        compile_network(qnet, rows=4, cols=4, name="réseau")
    with pytest.raises(TypeError, match="qnet must be a golden.ptq.QuantizedNetwork"):
        compile_network(qnet.network, rows=4, cols=4)


def test_the_design_page_gives_every_field_at_its_offset():
    import re
    from pathlib import Path

    from golden.program import header_layout, instruction_layout

    page = (Path(__file__).parent.parent / "docs/design/standalone.md").read_text()
    tables = re.findall(r"\| offset \| bytes \| field \|\n\|---\|---\|---\|\n((?:\|.*\n)+)", page)
    rows = [[(name, int(offset), int(size)) for offset, size, name in
             re.findall(r"\| (\d+) \| (\d+) \| `(\w+)` \|", table)] for table in tables]
    assert rows == [instruction_layout(), header_layout()]
    assert f"header ({HEADER_BYTES} bytes)" in page
