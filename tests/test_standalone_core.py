# amaranth: UnusedElaboratable=no
# (the invalid-argument and area-script tests leave half-built components behind)
"""The standalone core (hdl.standalone.core): whole programs in the Amaranth simulator, the
logits of every image equal to the golden interpreter's and the integer engine's."""

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring

from golden.compiler import compile_network
from golden.datasets import load
from golden.family import default_family
from golden.interpreter import Machine
from golden.models import model_path
from golden.network import fold, load_network
from golden.onnx_import import import_onnx
from golden.program import CHANNEL_FIELDS, SIZE_FIELDS, Op
from golden.ptq import quantize_network
from hdl.standalone.core import StandaloneCore, image_words
from hdl.standalone.matmul import CodeMemory
from hdl.standalone.schedule import FieldBits
from tests.onnx_models import separable_model
from tests.test_hdl_units import simulate
from tests.test_program import every_kind_net
from tests.test_standalone_matmul import memory_words

pytestmark = pytest.mark.sim


def run_core(program, images, *, depth=16, limits=None):
    """Each image's logits from the core, and the cycles of each run; with ``limits`` (the
    pooling unit's max_window and max_align) the (error, pc) of each run instead of the
    cycles."""
    lanes, n = program.rows, program.family.n
    words = -(-program.memory_codes // lanes)
    address_bits = max(1, (words * lanes - 1).bit_length())
    machine = Machine(program)
    machine.load_image(images[0])
    m = Module()
    m.submodules.core = core = StandaloneCore(
        family=program.family, lanes=lanes, depth=depth, max_K=program.max_k,
        address_bits=address_bits, instructions=len(program.instructions),
        records=len(program.bias), limits=program.limits, init=image_words(program),
        **(limits or {}))
    m.submodules.memory = memory = CodeMemory(n=n, lanes=lanes, words=words,
                                              init=memory_words(machine.memory, n, lanes))
    wiring.connect(m, core.memory, memory.port)
    logits, cycles = [], []

    async def bench(ctx):
        for index, image in enumerate(images):
            if index:  # the next image into the input tensor, as the board's receiver does
                machine.load_image(image)
                for w, word in enumerate(memory_words(machine.memory, n, lanes)):
                    ctx.set(memory.data[w], word)
            logits.append(await run_program(ctx, core, memory, program))
            cycles.append(ctx.get(core.cycles) if limits is None
                          else (ctx.get(core.error), ctx.get(core.pc)))

    simulate(m, bench)
    return np.array(logits), cycles


async def run_program(ctx, core, memory, program, *, cycles=1_000_000):
    """Pulses the core's ``run`` and waits (``cycles`` at most) for the end: the output
    tensor's codes in ``memory``."""
    lanes, n = program.rows, program.family.n
    ctx.set(core.run, 1)
    await ctx.tick()
    ctx.set(core.run, 0)
    await ctx.tick()
    for _ in range(cycles):
        if not ctx.get(core.busy):
            break
        await ctx.tick()
    else:
        raise AssertionError(f"the core is still busy after {cycles:,} cycles")
    words = [ctx.get(memory.data[w]) for w in range(memory.data.depth)]
    flat = [(word >> (j * n)) & ((1 << n) - 1) for word in words for j in range(lanes)]
    out = program.output
    return flat[out["base"]:out["base"] + out["count"]]


def check(qnet, x, *, lanes, depth=16):
    program = compile_network(qnet, rows=lanes, cols=lanes, memory_codes=1 << 16)
    codes = program.input_codes(x)
    logits, cycles = run_core(program, list(codes), depth=depth)
    np.testing.assert_array_equal(logits, qnet.run_integer(x))
    machine = Machine(program)
    np.testing.assert_array_equal(logits, [machine.run(c) for c in codes])
    assert all(c > 0 for c in cycles)
    return cycles


@pytest.mark.parametrize("scheme,n,lanes", [
    ("tfx-channel", 8, 4), pytest.param("fxp-layer", 8, 2, marks=pytest.mark.whole)])
def test_the_every_kind_network_runs_whole_on_the_core(scheme, n, lanes):
    rng = np.random.default_rng(21)
    qnet = quantize_network(every_kind_net(4), scheme, n, rng.normal(0, 1, (32, 2, 9, 9)))
    check(qnet, rng.normal(0, 1.5, (2, 2, 9, 9)), lanes=lanes)


@pytest.mark.whole
def test_the_separable_relu6_model_runs_whole_on_the_core():
    rng = np.random.default_rng(22)
    network = fold(import_onnx(separable_model(np.random.default_rng(3))))
    qnet = quantize_network(network, "posit-channel", 8, rng.normal(0, 1, (32, 3, 10, 10)))
    check(qnet, rng.normal(0, 1, (1, 3, 10, 10)), lanes=4)


@pytest.mark.whole
def test_the_digits_convnet_classifies_on_the_core():
    network = fold(load_network(model_path("digits", "convnet", 0)))
    x, y = load("digits", "test")
    qnet = quantize_network(network, "tfx", 8, load("digits", "calibration")[0][:300])
    cycles = check(qnet, x[:1], lanes=4, depth=64)
    assert cycles[0] < 40_000


def test_a_program_beyond_the_pooling_units_limits_stops_with_an_error():
    rng = np.random.default_rng(23)
    qnet = quantize_network(every_kind_net(4), "tfx", 8, rng.normal(0, 1, (32, 2, 9, 9)))
    program = compile_network(qnet, rows=4, cols=4, memory_codes=1 << 16)
    assert (program.max_window, program.max_align) == (4, 1)
    ops = [i.op for i in program.instructions]
    codes = list(program.input_codes(rng.normal(0, 1, (1, 2, 9, 9))))
    _, stops = run_core(program, codes, limits={"max_window": 3})
    assert stops == [(1, ops.index(Op.AVGPOOL))]
    _, stops = run_core(program, codes, limits={"max_align": 0})
    assert stops == [(1, ops.index(Op.ADD))]
    logits, stops = run_core(program, codes, limits={"max_window": 4, "max_align": 1})
    assert stops == [(0, len(ops) - 1)]
    np.testing.assert_array_equal(logits[0], Machine(program).run(codes[0]))


@pytest.mark.parametrize("bits", [{"size": 3}, {"channels": 3}])
def test_an_instruction_beyond_the_cores_field_widths_stops_it(bits):
    rng = np.random.default_rng(24)
    qnet = quantize_network(every_kind_net(4), "tfx", 8, rng.normal(0, 1, (32, 2, 9, 9)))
    program = compile_network(qnet, rows=4, cols=4, memory_codes=1 << 16)
    fields = FieldBits(**bits)
    size, channels = fields.largest()
    first = next(k for k, i in enumerate(program.instructions)
                 if max(getattr(i, name) for name in SIZE_FIELDS) > size
                 or max(getattr(i, name) for name in CHANNEL_FIELDS) > channels)
    codes = list(program.input_codes(rng.normal(0, 1, (1, 2, 9, 9))))
    _, stops = run_core(program, codes, limits={"fields": fields})
    assert stops == [(1, first)]


def test_field_widths_are_checked():
    with pytest.raises(ValueError, match="size_bits must be an integer from 2 to 16, not 1"):
        FieldBits(size=1)
    with pytest.raises(ValueError, match="channel_bits must be an integer from 2 to 16, not 17"):
        FieldBits(channels=17)
    with pytest.raises(TypeError, match="fields must be a FieldBits, not 8"):
        StandaloneCore(family=default_family("fxp", 8), lanes=2, depth=4, max_K=8,
                       address_bits=8, fields=8)


def test_the_area_script_refuses_what_it_cannot_build(capsys):
    from scripts.fpga.standalone import main

    assert main(["--lanes", "3"]) == 2
    assert "needs a square array whose side is a power of two" in capsys.readouterr().err
    assert main(["--max-k", "0"]) == 2
    assert "--max-k must be an integer from 1 to 1048576, not 0" in capsys.readouterr().err


def test_only_a_shared_scaling_stage_can_be_lent():
    from hdl.accelerator import Accelerator

    with pytest.raises(ValueError, match=r'external_scaling needs scaling="shared" \(one stage '
                                         r"to share\), not scaling='per_column'"):
        Accelerator(family=default_family("fxp", 8), rows=2, cols=2, max_K=8,
                    external_scaling=20)
    with pytest.raises(ValueError, match="external_scaling must be an integer from 0 to 128"):
        Accelerator(family=default_family("fxp", 8), rows=2, cols=2, max_K=8,
                    scaling="shared", external_scaling=-1)
