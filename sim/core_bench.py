"""The standalone core on a whole program in an HDL simulator (:mod:`sim.tb_core`): its
memories hold the program and an image from the start, as after a load, and the bench counts
the cycles of one run and checks the logits and the class against the golden interpreter.
Verilator makes networks of a million cycles a matter of minutes (the Amaranth simulator
takes hours there)."""

import json

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from golden.interpreter import Machine
from hdl.standalone.core import StandaloneCore, image_words
from hdl.standalone.io import OutputReader
from hdl.standalone.matmul import CodeMemory, share_memory
from .runner import export_verilog, run_cocotb

__all__ = ["CoreHarness", "memory_words", "run_core_bench"]


def memory_words(memory, n, lanes):
    """The code memory's words: ``lanes`` codes of ``n`` bits each, lowest lane lowest."""
    words = []
    for start in range(0, len(memory), lanes):
        word = 0
        for j, code in enumerate(memory[start:start + lanes]):
            word |= int(code) << (j * n)
        words.append(word)
    return words


class CoreHarness(wiring.Component):
    """A :class:`hdl.standalone.core.StandaloneCore` with ``program`` and one image in its
    memories, and an :class:`hdl.standalone.io.OutputReader` that streams the logits once
    ``read`` is pulsed (the memory is the reader's from then on).

    Members
    -------
    run : In(1)
        Pulse: one run of the program.
    busy : Out(1), error : Out(1), cycles : Out(32)
        The core's.
    read : In(1)
        Pulse, after the run: stream the output tensor.
    codes : Out(stream.Signature(n))
        Its codes, in order.
    label : Out(16), done : Out(1)
        The class, once the last code has been taken.
    """

    def __init__(self, *, program, image_codes, depth):
        machine = Machine(program)
        machine.load_image(image_codes)
        lanes, n = program.rows, program.family.n
        self._program, self._depth = program, depth
        self._words = memory_words(machine.memory, n, lanes)
        self._address_bits = max(1, (len(self._words) * lanes - 1).bit_length())
        super().__init__({"run": In(1), "busy": Out(1), "error": Out(1), "cycles": Out(32),
                          "read": In(1), "codes": Out(stream.Signature(n)),
                          "label": Out(16), "done": Out(1)})

    def elaborate(self, platform):
        m = Module()
        p, lanes = self._program, self._program.rows
        m.submodules.core = core = StandaloneCore(
            family=p.family, lanes=lanes, depth=self._depth, max_K=p.max_k,
            address_bits=self._address_bits, instructions=len(p.instructions),
            records=len(p.bias), limits=p.limits, init=image_words(p))
        m.submodules.memory = memory = CodeMemory(n=p.family.n, lanes=lanes,
                                                  words=len(self._words), init=self._words)
        m.submodules.reader = reader = OutputReader(family=p.family, lanes=lanes,
                                                    address_bits=self._address_bits)
        reading = Signal()
        with m.If(self.read):
            m.d.sync += reading.eq(1)
        share_memory(m, memory.port, [core.memory, reader.memory], reading)
        m.d.comb += [core.run.eq(self.run), self.busy.eq(core.busy),
                     self.error.eq(core.error), self.cycles.eq(core.cycles),
                     reader.start.eq(self.read), reader.output.base.eq(p.output["base"]),
                     reader.output.count.eq(p.output["count"]),
                     self.label.eq(reader.label), self.done.eq(reader.done)]
        wiring.connect(m, reader.codes, wiring.flipped(self.codes))
        return m


def run_core_bench(program, image_codes, *, depth=64, simulator="verilator",
                   max_cycles=20_000_000):
    """One run of ``program`` on ``image_codes`` in the core (:class:`CoreHarness`); the
    logits and class must equal the golden interpreter's. Returns the run's cycles (the
    core's ``cycles`` counter); a ``RuntimeError`` with the log's path if the bench fails."""
    label, logits = Machine(program).classify(image_codes)
    harness = CoreHarness(program=program, image_codes=image_codes, depth=depth)
    result = run_cocotb(verilog_text=export_verilog(harness, "core_harness"),
                        toplevel="core_harness", test_module="sim.tb_core",
                        params={"label": int(label), "logits": [int(v) for v in logits],
                                "max_cycles": max_cycles}, simulator=simulator)
    if not result.passed:
        raise RuntimeError(f"the core bench failed: {result.log}")
    return json.loads((result.run_dir / "cycles.json").read_text())["cycles"]
