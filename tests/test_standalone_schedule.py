"""The standalone design's address generators (hdl.standalone.schedule) against the golden
interpreter's pass order (golden.interpreter.matmul_schedule): every address of every pass,
vector and result, on compiled networks and random geometries, under back-pressure."""

import numpy as np
import pytest

from golden.compiler import compile_network
from golden.interpreter import matmul_schedule
from golden.onnx_import import import_onnx
from golden.network import fold
from golden.program import Instruction, Op
from golden.ptq import quantize_network
from hdl.standalone.schedule import GEOMETRY_FIELDS, MatmulSchedule
from sim.streams import StreamMonitor
from tests.onnx_models import separable_model
from tests.test_hdl_units import simulate
from tests.test_program import every_kind_net

pytestmark = pytest.mark.sim

ADDRESS_BITS = 17


def expected_streams(i, rows, cols, depth):
    """The three streams the generators must emit for instruction ``i``."""
    passes, vectors, writes = [], [], []
    seen = set()
    for step in matmul_schedule(i, rows=rows, cols=cols, depth=depth):
        passes.append((step.weights, step.tile, step.tile not in seen, step.acc_first,
                       step.acc_last))
        seen.add(step.tile)
        vectors += [(None if read < 0 else int(read), read < 0, index == 0, step.acc_first,
                     step.acc_last, step.tile) for index, read in enumerate(step.reads)]
        if step.acc_last:
            writes += [(int(w), step.width) for w in step.writes]
    return passes, vectors, writes


def simulate_schedule(instructions, rows, cols, depth, *, stall=0.3, seed=0):
    """Run each instruction through a MatmulSchedule with random back-pressure; the three
    streams' transfers per instruction, the stream rules checked."""
    dut = MatmulSchedule(rows=rows, cols=cols, depth=depth, address_bits=ADDRESS_BITS)
    rng = np.random.default_rng(seed)
    got = []
    names = ("passes", "vectors", "writes")

    def decode(name, payload):
        if name == "passes":
            return (payload.address, payload.tile, bool(payload.new_tile),
                    bool(payload.acc_first), bool(payload.acc_last))
        if name == "vectors":
            pad = bool(payload.pad)
            return (None if pad else payload.address, pad, bool(payload.first),
                    bool(payload.acc_first), bool(payload.acc_last), payload.tile)
        return (payload.address, payload.width)

    async def bench(ctx):
        monitors = {name: StreamMonitor(name) for name in names}
        cycle = 0
        for i in instructions:
            for field in GEOMETRY_FIELDS:
                ctx.set(getattr(dut.geometry, field), getattr(i, field))
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            streams = {name: [] for name in names}
            while True:
                for name in names:
                    port = getattr(dut, name)
                    ready = int(rng.random() >= stall)
                    ctx.set(port.ready, ready)
                    valid = ctx.get(port.valid)
                    payload = ctx.get(port.payload)
                    monitors[name].sample(valid, ready, ctx.get(port.payload.as_value())
                                          if valid else None, cycle)
                    if valid and ready:
                        streams[name].append(decode(name, payload))
                if not ctx.get(dut.busy):
                    break
                await ctx.tick()
                cycle += 1
            got.append(streams)

    simulate(dut, bench)
    return got


def _matmuls(program):
    return [i for i in program.instructions if i.op == Op.MATMUL]


def _check(instructions, rows, cols, depth, **kwargs):
    for i, streams in zip(instructions, simulate_schedule(instructions, rows, cols, depth,
                                                          **kwargs)):
        passes, vectors, writes = expected_streams(i, rows, cols, depth)
        assert streams["passes"] == passes, i.node
        assert streams["vectors"] == vectors, i.node
        assert streams["writes"] == writes, i.node


@pytest.mark.parametrize("rows,cols,depth", [(4, 4, 32), (3, 3, 7), (2, 5, 1)])
def test_every_kind_of_layer_addresses_like_the_interpreter(rows, cols, depth):
    rng = np.random.default_rng(rows * 10 + cols)
    qnet = quantize_network(every_kind_net(), "tfx", 8, rng.normal(0, 1, (32, 2, 9, 9)))
    program = compile_network(qnet, rows=rows, cols=cols, memory_codes=1 << ADDRESS_BITS)
    _check(_matmuls(program), rows, cols, depth)


def test_the_separable_model_addresses_like_the_interpreter():
    network = fold(import_onnx(separable_model(np.random.default_rng(3))))
    qnet = quantize_network(network, "fxp-layer", 8,
                            np.random.default_rng(4).normal(0, 1, (32, 3, 10, 10)))
    program = compile_network(qnet, rows=4, cols=4, memory_codes=1 << ADDRESS_BITS)
    _check(_matmuls(program), 4, 4, 16, stall=0.0)


def random_geometry(rng, rows, cols):
    groups = int(rng.integers(1, 4))
    group_in = rows * int(rng.integers(1, 3))
    kh, kw = (int(v) for v in rng.integers(1, 4, 2))
    stride = int(rng.integers(1, 3))
    top, left, bottom, right = (int(v) for v in rng.integers(0, 3, 4))
    in_h, in_w = (int(v) for v in rng.integers(1, 7, 2))
    out_h = max(1, (in_h + top + bottom - kh) // stride + 1)
    out_w = max(1, (in_w + left + right - kw) // stride + 1)
    group_out = int(rng.integers(1, 2 * cols + 2))
    group_stride = group_out + int(rng.integers(0, 3))
    out_c = (groups - 1) * group_stride + group_out + int(rng.integers(0, 3))
    return Instruction(Op.MATMUL, groups=groups, src=int(rng.integers(0, 5000)),
                       dst=int(rng.integers(0, 5000)), weights=int(rng.integers(0, 5000)),
                       in_h=in_h, in_w=in_w, in_c=groups * group_in + int(rng.integers(0, 3)),
                       out_h=out_h, out_w=out_w, out_c=out_c, group_in=group_in,
                       group_out=group_out, group_stride=group_stride, kernel_h=kh,
                       kernel_w=kw, stride=stride, pad_top=top, pad_left=left, node="random")


@pytest.mark.parametrize("rows,cols,depth", [(4, 4, 5), (3, 2, 64), (1, 3, 2)])
def test_random_geometries_address_like_the_interpreter(rows, cols, depth):
    rng = np.random.default_rng(100 + rows)
    _check([random_geometry(rng, rows, cols) for _ in range(12)], rows, cols, depth)


def test_a_wrong_reference_is_caught():
    """Teeth: the comparison fails when the interpreter's chunks are one pixel longer."""
    instruction = Instruction(Op.MATMUL, in_h=4, in_w=4, in_c=2, out_h=4, out_w=4, out_c=2,
                              group_in=2, group_out=2, kernel_h=3, kernel_w=3, pad_top=1,
                              pad_left=1, src=100, dst=200, weights=0)
    (streams,) = simulate_schedule([instruction], 2, 2, 3)
    assert (streams["passes"], streams["vectors"]) == expected_streams(instruction, 2, 2, 3)[:2]
    passes, vectors, _ = expected_streams(instruction, 2, 2, 4)
    assert streams["passes"] != passes and streams["vectors"] != vectors
