"""Column serialiser: final totals of every column through one shared scaling stage."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from golden._checks import check_int
from . import names

__all__ = ["ColumnSerialiser"]


class ColumnSerialiser(wiring.Component):
    """Queues final total vectors, hands them to one scaling stage a column per cycle, and
    gathers the stage's codes back into result vectors.

    Parameters
    ----------
    entry : data.StructLayout
        One column's total: ``value`` (signed) and ``nar``.
    cols : int
        Columns per vector, 1 to 64.
    depth : int
        Vectors the queue holds (the accelerator's credit counter never lets more wait).
    result : data.StructLayout
        The result vector: ``codes`` (an ``ArrayLayout`` of ``cols`` codes) and ``nar``
        (``cols`` bits), :func:`hdl.accelerator.result_layout`.

    Members
    -------
    totals : In(ArrayLayout(entry, cols)), emit : In(1)
        A final total vector, queued when ``emit``.
    acc, nar, column, valid : Out
        To the scaling stage: column ``column``'s total and NaR flag, ``valid`` one cycle each.
    code, code_nar, code_valid : In
        From the scaling stage, in column order.
    result : Out(result), produced : Out(1)
        A gathered result vector; ``produced`` for one cycle when its last column arrives.

    Notes
    -----
    A vector's columns go out straight from the queue's output register, one per cycle, the
    next vector's first column in the cycle after the last (``cols`` cycles per vector);
    ``produced`` one cycle after the stage's last code.
    """

    def __init__(self, *, entry, cols, depth, result):
        if not (isinstance(entry, data.StructLayout) and set(entry.members) == {"value", "nar"}):
            raise TypeError(f"entry must be a StructLayout of value and nar, not {entry!r}")
        self._entry = entry
        self._cols = check_int("cols", cols, 1, 64)
        self._depth = check_int("depth", depth, 1, 1 << 16)
        totals = data.ArrayLayout(entry, cols)
        if not (isinstance(result, data.StructLayout) and set(result.members) == {"codes", "nar"}):
            raise TypeError(f"result must be a StructLayout of codes and nar, not {result!r}")
        code_shape = result.members["codes"].elem_shape
        super().__init__({
            "totals": In(totals), "emit": In(1),
            "acc": Out(entry.members["value"]),
            "nar": Out(1), "column": Out(range(cols)), "valid": Out(1),
            "code": In(code_shape), "code_nar": In(1), "code_valid": In(1),
            "result": Out(result), "produced": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cols = self._cols
        m.submodules[names.FINAL_QUEUE] = queue = SyncFIFOBuffered(
            width=self.totals.shape().size, depth=self._depth)
        m.d.comb += [queue.w_stream.payload.eq(self.totals), queue.w_stream.valid.eq(self.emit)]
        # The queue's output register holds the vector while its columns go out: no copy.
        head = Signal.like(self.totals)
        column = self.column
        last = column == cols - 1
        m.d.comb += [head.eq(queue.r_stream.payload), self.valid.eq(queue.r_stream.valid),
                     queue.r_stream.ready.eq(last)]
        with m.If(queue.r_stream.valid):
            m.d.sync += column.eq(Mux(last, 0, column + 1))
        m.d.comb += [self.acc.eq(head[column].value), self.nar.eq(head[column].nar)]
        gathered = Signal(range(cols))
        result = self.result
        with m.If(self.code_valid):
            m.d.sync += [result.codes[gathered].eq(self.code),
                         result.nar.bit_select(gathered, 1).eq(self.code_nar),
                         gathered.eq(Mux(gathered == cols - 1, 0, gathered + 1))]
        m.d.sync += self.produced.eq(self.code_valid & (gathered == cols - 1))
        return m
