"""Weight loader: weight tiles, row by row, into the systolic core's shadow registers."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden._checks import check_bool, check_int
from .operand import check_family

__all__ = ["WeightLoader"]


class WeightLoader(wiring.Component):
    """Takes one weight tile (``rows`` transfers, row 0 first) into the core's shadow
    registers while the previous tile computes.

    Row ``r`` of the next tile is taken once the previous tile's swap has passed PE row ``r``
    (``r + cols`` cycles after that tile's first activation vector): the core's load contract
    (:class:`hdl.systolic.SystolicCore`).

    Parameters
    ----------
    family : golden.family.Family
    rows, cols : int
        The array size, 1 to 64 each.
    serial : bool
        Write a row one column per cycle (for the core's one shared weight decoder): the row
        is held for ``cols`` cycles and taken with its last column.

    Members
    -------
    weights : In(stream.Signature(ArrayLayout(n, cols)))
        Weight rows.
    hold : In(1)
        Take nothing (a config waits: weights after it must be decoded with its IS).
    swap : In(1)
        The first activation vector of a pass is accepted: the shadow tile becomes active.
    w_codes : Out(ArrayLayout(n, cols)), w_row : Out(range(rows)), w_load : Out(1)
        To the core: write ``w_codes`` into row ``w_row``'s shadow registers.
    w_col : Out(range(cols))
        With ``serial``: the one column of ``w_codes`` to write.
    mid_row : Out(1)
        With ``serial``: a row is part written (its rest goes in whatever ``hold`` says, so
        the formats it is decoded with must not change).
    full : Out(1)
        A whole tile waits in the shadow registers (a pass may start).

    Notes
    -----
    Combinational from ``weights`` to the core (a row is written in the cycle it is taken,
    or with ``serial`` its columns in that cycle and the ``cols - 1`` before it); ``full`` one
    cycle after the last row.
    """

    def __init__(self, *, family, rows, cols, serial=False):
        self._family = check_family(family)
        self._rows = check_int("rows", rows, 1, 64)
        self._cols = check_int("cols", cols, 1, 64)
        self._serial = check_bool("serial", serial)
        codes = data.ArrayLayout(family.n, cols)
        members = {
            "weights": In(stream.Signature(codes)), "hold": In(1), "swap": In(1),
            "w_codes": Out(codes), "w_row": Out(range(rows)), "w_load": Out(1), "full": Out(1),
        }
        if serial:
            members.update(w_col=Out(range(cols)), mid_row=Out(1))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        rows, cols = self._rows, self._cols
        row = self.w_row
        since_swap = Signal(range(rows + cols + 1), init=rows + cols)
        taken = self.weights.valid & self.weights.ready
        allowed = ~self.full & ~self.hold & (since_swap >= row + cols)
        m.d.comb += self.w_codes.eq(self.weights.payload)
        if self._serial:
            column = self.w_col
            last = column == cols - 1
            m.d.comb += [self.mid_row.eq(column != 0),
                         self.w_load.eq(self.weights.valid & (allowed | self.mid_row)),
                         self.weights.ready.eq(last & (allowed | self.mid_row))]
            with m.If(self.w_load):
                m.d.sync += column.eq(Mux(last, 0, column + 1))
        else:
            m.d.comb += [self.weights.ready.eq(allowed), self.w_load.eq(taken)]
        with m.If(taken):
            m.d.sync += row.eq(Mux(row == rows - 1, 0, row + 1))
            with m.If(row == rows - 1):
                m.d.sync += self.full.eq(1)
        with m.If(self.swap):
            m.d.sync += [self.full.eq(0), since_swap.eq(0)]
        with m.Elif(since_swap != rows + cols):
            m.d.sync += since_swap.eq(since_swap + 1)
        return m
