"""Weight loader: weight tiles, row by row, into the systolic core's shadow registers."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden._checks import check_int
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
    full : Out(1)
        A whole tile waits in the shadow registers (a pass may start).

    Notes
    -----
    Combinational from ``weights`` to the core (a row is written in the cycle it is taken);
    ``full`` one cycle after the last row.
    """

    def __init__(self, *, family, rows, cols):
        self._family = check_family(family)
        self._rows = check_int("rows", rows, 1, 64)
        self._cols = check_int("cols", cols, 1, 64)
        codes = data.ArrayLayout(family.n, cols)
        super().__init__({
            "weights": In(stream.Signature(codes)), "hold": In(1), "swap": In(1),
            "w_codes": Out(codes), "w_row": Out(range(rows)), "w_load": Out(1), "full": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        rows, cols = self._rows, self._cols
        row = self.w_row
        since_swap = Signal(range(rows + cols + 1), init=rows + cols)
        taken = self.weights.valid & self.weights.ready
        m.d.comb += [
            self.weights.ready.eq(~self.full & ~self.hold & (since_swap >= row + cols)),
            self.w_codes.eq(self.weights.payload), self.w_load.eq(taken),
        ]
        with m.If(taken):
            m.d.sync += row.eq(Mux(row == rows - 1, 0, row + 1))
            with m.If(row == rows - 1):
                m.d.sync += self.full.eq(1)
        with m.If(self.swap):
            m.d.sync += [self.full.eq(0), since_swap.eq(0)]
        with m.Elif(since_swap != rows + cols):
            m.d.sync += since_swap.eq(since_swap + 1)
        return m
