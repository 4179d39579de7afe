"""The code memory on the iCE40 UP5K: its four SPRAMs (SB_SPRAM256KA, 16K x 16 bits each).

SPRAM cannot be initialised from the bitstream; the loader fills it at run time.
"""

from amaranth.hdl import Cat, ClockSignal, Const, Instance, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from golden._checks import check_int
from .matmul import MemoryPort

__all__ = ["SPRAMCodeMemory", "SPRAM_WORDS", "SPRAMS"]

SPRAM_WORDS = 16 * 1024
SPRAMS = 4


class SPRAMCodeMemory(wiring.Component):
    """The four SPRAMs as a code memory of words of ``lanes`` codes, a byte per code.

    ``lanes / 2`` SPRAMs side by side make a bank of 16K words; the ``8 / lanes`` banks
    follow each other (word address bits above 14 pick the bank), so every build holds
    131,072 codes. Lane ``2k`` is the low byte of the bank's SPRAM ``k``, lane ``2k + 1`` its
    high byte; a lane's write enables the two nibbles of its byte.

    Parameters
    ----------
    n : int
        Code width, 1 to 8.
    lanes : int
        2, 4 or 8.

    Members
    -------
    port : In(MemoryPort)
        As :class:`.matmul.CodeMemory`: a read's data the cycle after, or a write (a lane
        mask); never both in one cycle.
    """

    def __init__(self, *, n, lanes):
        self._n = check_int("n", n, 1, 8)
        if lanes not in (2, 4, 8):
            raise ValueError(f"the SPRAM code memory holds 2, 4 or 8 lanes a word, not "
                             f"{lanes!r}")
        self._lanes = lanes
        self._banks = 2 * SPRAMS // lanes
        super().__init__({"port": In(MemoryPort(
            n=n, lanes=lanes, address_bits=(self._banks * SPRAM_WORDS - 1).bit_length()))})

    @property
    def words(self):
        return self._banks * SPRAM_WORDS

    def elaborate(self, platform):
        m = Module()
        port, n, lanes = self.port, self._n, self._lanes
        bank = port.address[14:] if self._banks > 1 else Const(0, 1)
        read_bank = Signal.like(bank)
        m.d.sync += read_bank.eq(bank)
        outputs = []
        for b in range(self._banks):
            selected = bank == b
            words = []
            for k in range(lanes // 2):
                low, high = port.write_data[2 * k], port.write_data[2 * k + 1]
                mask = Cat(port.write[2 * k].replicate(2), port.write[2 * k + 1].replicate(2))
                dataout = Signal(16, name=f"dataout_{b}_{k}")
                m.submodules[f"spram_{b}_{k}"] = Instance(
                    "SB_SPRAM256KA",
                    i_ADDRESS=port.address[:14], i_DATAIN=Cat(low, Const(0, 8 - n),
                                                              high, Const(0, 8 - n)),
                    i_MASKWREN=mask, i_WREN=port.write.any(),
                    i_CHIPSELECT=selected & (port.read | port.write.any()),
                    i_CLOCK=ClockSignal("sync"), i_STANDBY=0, i_SLEEP=0,
                    i_POWEROFF=1, o_DATAOUT=dataout)
                words += [dataout[:n], dataout[8:8 + n]]
            outputs.append(Cat(*words))
        for b, word in enumerate(outputs):
            with m.If(read_bank == b):
                m.d.comb += port.read_data.eq(word)
        return m

