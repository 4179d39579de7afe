"""The standalone design's MATMUL unit (hdl.standalone.matmul) on the existing array: after
each matrix product of a compiled network, the code memory equals the golden interpreter's,
every code of it."""

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory

from golden.compiler import compile_network
from golden.interpreter import Machine
from golden.network import fold
from golden.onnx_import import import_onnx
from golden.program import Op
from golden.ptq import quantize_network
from hdl.standalone.core import image_words
from hdl.standalone.elementwise import ElementwiseUnit
from hdl.standalone.matmul import CodeMemory, MatmulUnit, check_lanes, record_layout
from sim.core_bench import memory_words
from tests.onnx_models import separable_model
from tests.test_hdl_units import simulate
from tests.test_program import every_kind_net

pytestmark = pytest.mark.sim


def run_unit(make_unit, program, instruction, before):
    """The code memory after ``instruction`` runs from ``before`` on the unit that
    ``make_unit(address_bits)`` builds."""
    lanes, n = program.rows, program.family.n
    words = -(-program.memory_codes // lanes)
    address_bits = max(1, (words * lanes - 1).bit_length())
    m = Module()
    m.submodules.unit = unit = make_unit(address_bits)
    m.submodules.memory = memory = CodeMemory(n=n, lanes=lanes, words=words,
                                              init=memory_words(before, n, lanes))
    m.submodules.params = params = Memory(shape=record_layout(program.limits).size,
                                          depth=len(program.bias),
                                          init=image_words(program)[1])
    wiring.connect(m, unit.memory, memory.port)
    read = params.read_port()
    m.d.comb += [read.addr.eq(unit.params.address), unit.params.read_data.eq(read.data)]
    after = []

    async def bench(ctx):
        ctx.set(unit.instruction.as_value(), int.from_bytes(instruction.pack(), "little"))
        ctx.set(unit.start, 1)
        await ctx.tick()
        ctx.set(unit.start, 0)
        cycles = 0
        while ctx.get(unit.busy):
            await ctx.tick()
            cycles += 1
            assert cycles < 200_000, "the unit never finished"
        after.extend(ctx.get(memory.data[w]) for w in range(words))

    simulate(m, bench)
    return after


def check_network(qnet, image, *, lanes=4, depth=8, ops=(Op.MATMUL,)):
    """Every instruction of ``ops`` in ``qnet``'s program on its unit, from the interpreter's
    memory before it, leaves the interpreter's memory after it."""
    program = compile_network(qnet, rows=lanes, cols=lanes, memory_codes=1 << 14)
    units = {Op.MATMUL: lambda bits: MatmulUnit(
        family=program.family, lanes=lanes, depth=depth, max_K=program.max_k,
        address_bits=bits, limits=program.limits)}
    for op in (Op.MAXPOOL, Op.AVGPOOL, Op.ADD):
        units[op] = lambda bits: ElementwiseUnit(family=program.family, lanes=lanes,
                                                 address_bits=bits, limits=program.limits)
    checked = 0
    machine = Machine(program, depth=depth)
    machine.load_image(program.input_codes(image))
    for instruction in program.instructions:
        before = machine.memory.copy()
        if instruction.op == Op.END:
            break
        getattr(machine, f"_{Op(instruction.op).name.lower()}")(instruction)
        if instruction.op in ops:
            got = run_unit(units[instruction.op], program, instruction, before)
            assert got == memory_words(machine.memory, program.family.n, lanes), \
                instruction.node
            checked += 1
    return checked


@pytest.mark.parametrize("scheme,n", [("tfx", 8), ("fxp-layer", 6)])
def test_every_matrix_product_of_a_network_leaves_the_interpreters_memory(scheme, n):
    rng = np.random.default_rng(5)
    qnet = quantize_network(every_kind_net(), scheme, n, rng.normal(0, 1, (32, 2, 9, 9)))
    assert check_network(qnet, rng.normal(0, 1, (2, 9, 9))) == 6


@pytest.mark.whole
@pytest.mark.parametrize("scheme,n,lanes", [("posit-channel", 8, 2), ("fp", 8, 4)])
def test_the_separable_relu6_model_on_the_unit(scheme, n, lanes):
    rng = np.random.default_rng(6)
    network = fold(import_onnx(separable_model(np.random.default_rng(3))))
    qnet = quantize_network(network, scheme, n, rng.normal(0, 1, (32, 3, 10, 10)))
    assert check_network(qnet, rng.normal(0, 1, (3, 10, 10)), lanes=lanes, depth=5) == 5


@pytest.mark.parametrize("scheme,n,lanes", [("tfx", 8, 4), ("fxp-layer", 6, 2),
                                            ("posit", 8, 4), ("fp-channel", 8, 2)])
def test_pooling_and_addition_leave_the_interpreters_memory(scheme, n, lanes):
    rng = np.random.default_rng(8)
    qnet = quantize_network(every_kind_net(3), scheme, n, rng.normal(0, 1, (32, 2, 9, 9)))
    ops = (Op.MAXPOOL, Op.AVGPOOL, Op.ADD)
    assert check_network(qnet, rng.normal(0, 2, (2, 9, 9)), lanes=lanes, ops=ops) == 3
    network = fold(import_onnx(separable_model(np.random.default_rng(3))))
    qnet = quantize_network(network, scheme, n, rng.normal(0, 1, (32, 3, 10, 10)))
    assert check_network(qnet, rng.normal(0, 1, (3, 10, 10)), lanes=lanes, ops=ops) == 1


def test_the_unit_refuses_arrays_it_cannot_address():
    with pytest.raises(ValueError, match="needs a square array whose side is a power of two"
                                         r".* not 3x3"):
        check_lanes(3, 3)
    with pytest.raises(ValueError, match="not 2x4"):
        check_lanes(2, 4)
