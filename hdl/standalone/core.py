"""The standalone core: a sequencer that runs a whole program on the execution units.

Instructions and parameter records sit in block memories of their own, the codes in the
code memory outside (SPRAM on the iCE40, :class:`.matmul.CodeMemory` in simulation). The
sequencer fetches an instruction, starts the unit that runs it (:class:`.matmul.MatmulUnit`
or :class:`.elementwise.ElementwiseUnit`), waits for it, and goes on until ``END``: the
hardware of :meth:`golden.interpreter.Machine.run`.
"""

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden._checks import check_int
from golden.arith import DEFAULT_LIMITS
from golden.program import HEADER_BYTES, INSTRUCTION_BYTES, Op
from .elementwise import ElementwiseUnit
from .matmul import MatmulUnit, MemoryPort, check_lanes, instruction_struct, record_layout
from .schedule import check_fields

__all__ = ["StandaloneCore", "LoadPort", "image_words"]

_WORDS = INSTRUCTION_BYTES // 4  # 32-bit words per instruction record


def image_words(program):
    """The instruction and parameter memories' words of ``program``: each instruction record
    as 16 little-endian 32-bit words, each parameter record as one little-endian integer
    (what a loader stores as they arrive)."""
    instructions = [int.from_bytes(record[k:k + 4], "little")
                    for record in (i.pack() for i in program.instructions)
                    for k in range(0, INSTRUCTION_BYTES, 4)]
    data = program.to_bytes()
    start = HEADER_BYTES + len(program.instructions) * INSTRUCTION_BYTES
    size = program.record_bytes
    records = [int.from_bytes(data[start + k * size:start + (k + 1) * size], "little")
               for k in range(len(program.bias))]
    return instructions, records


class LoadPort(wiring.Signature):
    """The core's instruction and parameter memories, seen from a loader: ``data`` is one
    32-bit instruction word (``instruction``, 16 to a record, at word ``address``) or one
    whole parameter record (``record``, at record ``address``)."""

    def __init__(self, *, instructions, records, limits):
        super().__init__({
            "address": Out(range(max(instructions * _WORDS, records))),
            "instruction": Out(1), "record": Out(1),
            "data": Out(max(32, record_layout(limits).size))})


class StandaloneCore(wiring.Component):
    """Runs a program's instructions from ``pc`` 0 to ``END``, fetching each record 32 bits a
    cycle (16 cycles) into the instruction register.

    Parameters
    ----------
    family : golden.family.Family
    lanes : int
        The array's side (:func:`.matmul.check_lanes`); a memory word is ``lanes`` codes.
    depth, max_K : int
        The accumulator buffer's depth and the longest dot product (the array's).
    address_bits : int
        Code addresses.
    instructions, records : int
        Capacities of the instruction and parameter memories.
    limits : golden.arith.ScalingLimits
    init : tuple, optional
        The instruction and record memories' contents, for simulation: each record of the
        image as a little-endian integer (:func:`image_words`); a board loads them over its
        ``load`` port instead.
    accelerator : dict, optional
        More arguments of the array (:class:`hdl.accelerator.Accelerator`); its scaling is
        ``"shared"``, and the pooling unit borrows that stage.
    max_window, max_align : int
        The pooling unit's limits (:class:`.elementwise.ElementwiseUnit`).
    fields : FieldBits, optional
        How wide the units hold sizes and channel counts (:class:`.schedule.FieldBits`: 8
        and 12 bits by default).

    Members
    -------
    run : In(1)
        A pulse while not ``busy``: run the program from its first instruction.
    busy : Out(1)
        From the cycle after ``run`` until ``END`` has been fetched and every unit is idle.
    memory : Out(MemoryPort)
        The code memory, driven by the unit that runs.
    load : In(LoadPort)
        Writes one 32-bit instruction word or one parameter record (while not ``busy``).
    cycles : Out(32)
        Cycles of the last run.
    error : Out(1), pc : Out(16)
        The last run stopped at instruction ``pc`` because it passes the build: a size or
        channel count beyond ``fields``, or the pooling unit's ``max_window`` or
        ``max_align`` (the loader refuses such programs first).
    """

    def __init__(self, *, family, lanes, depth, max_K, address_bits, instructions=256,
                 records=4096, limits=DEFAULT_LIMITS, init=((), ()), accelerator=None,
                 max_window=64, max_align=8, fields=None):
        self._family = family
        self._lanes = check_lanes(lanes, lanes)
        self._instructions = check_int("instructions", instructions, 1, 1 << 16)
        self._records = check_int("records", records, 1, 1 << 16)
        self._limits = limits
        self._layout = instruction_struct()
        self._record_layout = record_layout(limits)
        self._fields = fields = check_fields(fields)
        # One scaling stage, the array's, serves the pooling and addition unit too.
        self._elementwise = ElementwiseUnit(family=family, lanes=lanes,
                                            address_bits=address_bits, limits=limits,
                                            max_window=max_window, max_align=max_align,
                                            shared_scaling=True, fields=fields)
        self._matmul = MatmulUnit(family=family, lanes=lanes, depth=depth, max_K=max_K,
                                  address_bits=address_bits, limits=limits,
                                  accelerator={"scaling": "shared", **(accelerator or {})},
                                  external_scaling=self._elementwise.sum_width,
                                  fields=fields)
        self._program = Memory(shape=unsigned(32), depth=instructions * _WORDS,
                               init=list(init[0]))
        self._params = Memory(shape=unsigned(self._record_layout.size), depth=records,
                              init=list(init[1]))
        super().__init__({
            "run": In(1), "busy": Out(1),
            "memory": Out(MemoryPort.for_codes(n=family.n, lanes=lanes,
                                               address_bits=address_bits)),
            "load": In(LoadPort(instructions=instructions, records=records, limits=limits)),
            "cycles": Out(32), "error": Out(1), "pc": Out(16),
        })

    instruction_layout = property(lambda self: self._layout)

    def elaborate(self, platform):
        m = Module()
        m.submodules.matmul = matmul = self._matmul
        m.submodules.elementwise = elementwise = self._elementwise
        m.d.comb += [matmul.scaling.eq(elementwise.scaling),
                     elementwise.scaled_code.eq(matmul.scaled_code),
                     elementwise.scaled_valid.eq(matmul.scaled_valid)]
        m.submodules.program = program = self._program
        m.submodules.params = params = self._params
        fetch = program.read_port()
        load_program = program.write_port()
        record = params.read_port()
        load_params = params.write_port()
        load = self.load
        m.d.comb += [load_program.addr.eq(load.address), load_program.data.eq(load.data),
                     load_program.en.eq(load.instruction & ~self.busy),
                     load_params.addr.eq(load.address), load_params.data.eq(load.data),
                     load_params.en.eq(load.record & ~self.busy)]

        pc = self.pc
        instruction = Signal(self._layout)
        part = Signal(range(_WORDS + 1))  # the instruction's words are read one per cycle
        m.d.comb += fetch.addr.eq(pc * _WORDS + part)
        is_matmul = instruction.op == Op.MATMUL
        for unit in (matmul, elementwise):
            m.d.comb += [unit.instruction.eq(instruction),
                         unit.params.read_data.eq(record.data)]
        m.d.comb += record.addr.eq(Mux(is_matmul, matmul.params.address,
                                       elementwise.params.address))
        for name in ("address", "read", "write", "write_data"):
            m.d.comb += getattr(self.memory, name).eq(Mux(
                is_matmul, getattr(matmul.memory, name), getattr(elementwise.memory, name)))
        for unit in (matmul, elementwise):
            m.d.comb += unit.memory.read_data.eq(self.memory.read_data)

        with m.If(self.busy):
            m.d.sync += self.cycles.eq(self.cycles + 1)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.run):
                    m.d.sync += [pc.eq(0), part.eq(0), self.cycles.eq(0), self.error.eq(0)]
                    m.next = "FETCH"
            with m.State("FETCH"):  # word k arrives the cycle after its address
                m.d.comb += self.busy.eq(1)
                m.d.sync += part.eq(part + 1)
                with m.Switch(part):
                    for k in range(1, _WORDS + 1):
                        with m.Case(k):
                            m.d.sync += instruction.as_value()[32 * (k - 1):32 * k].eq(
                                fetch.data)
                with m.If(part == _WORDS):
                    m.next = "DISPATCH"
            with m.State("DISPATCH"):
                m.d.comb += self.busy.eq(1)
                with m.If(instruction.op == Op.END):
                    m.next = "IDLE"
                with m.Elif(self._fields.oversized(instruction)):
                    m.d.sync += self.error.eq(1)
                    m.next = "IDLE"
                with m.Else():
                    m.d.comb += [matmul.start.eq(is_matmul), elementwise.start.eq(~is_matmul)]
                    m.next = "WAIT"
            with m.State("WAIT"):
                m.d.comb += self.busy.eq(1)
                with m.If(elementwise.error):
                    m.d.sync += self.error.eq(1)
                    m.next = "IDLE"
                with m.Elif(~matmul.busy & ~elementwise.busy):
                    m.d.sync += [pc.eq(pc + 1), part.eq(0)]
                    m.next = "FETCH"
        return m
