"""The weight-stationary systolic core: edge decoders, an R x C grid of PEs, skew and deskew.

This is the compute core only; stream interfaces, K-tiling accumulators and scaling stages go
around it (see the systolic-array issue).
"""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from golden._checks import check_bool, check_int
from . import names
from .decoder import add_decoder
from .dsp import SplitMultiplier, check_dsp_split
from .formats import hardware_for
from .operand import check_family, check_form, factor_shape
from .pe import ProcessingElement
from .runtime import field_ports, field_values

__all__ = ["SystolicCore", "partial_sum_width", "core_latency"]


def partial_sum_width(family, rows):
    """Bits of a column's partial sum over ``rows`` products: it never wraps. The PE of row
    ``i`` sums ``i + 1`` products, so its partial sum is only that wide."""
    widest = family.widest()
    return (rows * widest.max_abs_int ** 2).bit_length() + 1


def core_latency(rows, cols):
    """Cycles from an activation vector to its column sums: decode register, row skew, the
    column of PEs, column deskew."""
    return rows + cols


def _delayed(m, value, cycles, name):
    for stage in range(cycles):
        register = Signal.like(value, name=f"{name}_d{stage + 1}")
        m.d.sync += register.eq(value)
        value = register
    return value


def _delayed_data(m, values, valid, cycles, name, *, hold_idle):
    """``values`` (a list) and their ``valid`` flag ``cycles`` cycles later. With ``hold_idle``
    the data registers have no reset (they are read only beside a valid flag) and each loads
    only beside one: a gated clock per stage in a standard-cell mapping. Returns (values,
    valid)."""
    for stage in range(cycles):
        registers = [Signal.like(value, name=f"{name}_{k}_d{stage + 1}", reset_less=hold_idle)
                     for k, value in enumerate(values)]
        flag = Signal(name=f"{name}_valid_d{stage + 1}")
        with m.If(valid if hold_idle else 1):
            m.d.sync += [r.eq(value) for r, value in zip(registers, values)]
        m.d.sync += flag.eq(valid)
        values, valid = registers, flag
    return values, valid


class SystolicCore(wiring.Component):
    """``rows x cols`` weight-stationary array: ``psums[j] = Σ_i a[i] * W[i][j]`` per input vector.

    Parameters
    ----------
    family : golden.family.Family
    form : {"int", "ses"}
        Pre-decoded operand form held in the PEs and carried across the array.
    rows, cols : int
        Array size, 1 to 64 each; ``rows`` is the dot-product slice (K tile), ``cols`` the
        number of outputs computed at once.
    dsp_pes : int or None
        How many PEs, in row-major order from (0, 0), multiply on DSP blocks; the others get
        fabric multipliers (:mod:`hdl.multiply`). ``None``: all of them.
    dsp_split : {None, "sb_mac16", "model"}
        ``None``: each DSP PE has an inferred multiplier that synthesis may map to a whole DSP
        block. Otherwise DSP PEs ``2k`` and ``2k + 1`` (row-major) share the two 8x8 halves of
        one :class:`hdl.dsp.SplitMultiplier` (``dsp_<k>``) of that implementation; their
        factors (:func:`hdl.operand.factor_shape`) must be at most 8 bits.
    registered_load : bool
        Register the decoded weights (with their row and load strobe) before they reach the
        shadow registers: a row is written one cycle after ``w_load``, and the decoders leave
        the path into the PEs (for fast FPGA clocks).
    shared_weight_decoder : bool
        One weight decoder for all columns instead of one per column: a row is loaded one
        column per cycle (``w_col``), for builds whose weights arrive slower than that.
    hold_idle : bool
        The data registers (decoded activations, skew, PEs, deskew) have no reset and load
        only beside a valid flag, so that a standard-cell mapping gives them gated clocks
        (``hold_idle`` of :class:`hdl.pe.ProcessingElement`). ``False`` (the FPGA builds): they
        keep their reset and load on every cycle.

    Members
    -------
    a_codes : In(ArrayLayout(n, rows)), a_valid : In(1)
        One activation vector (K slice) per cycle; decoded once at the left edge.
    a_first : In(1)
        This vector is the first of a new weight tile: each PE makes its shadow weight active
        as the vector reaches it (the swap rides the skewed wavefront).
    a_<field>, w_<field> : In
        Run-time fields of the activations' and weights' members (TFX: IS; FXP: none).
    w_codes : In(ArrayLayout(n, cols)), w_row : In(range(rows)), w_load : In(1)
        Load one row of weights into the PEs' shadow registers (decoded once, on the way in).
    w_col : In(range(cols))
        With ``shared_weight_decoder``: load only column ``w_col`` of the row.
        Row ``i`` of the next tile may be loaded from ``i + cols + 1`` cycles after the current
        tile's first vector (once the swap has passed that row); earlier is outside the contract.
        A tile's first vector may come in the cycle of its last row's (last column's)
        ``w_load``, or with ``registered_load`` from the cycle after it.
    psums : Out(ArrayLayout(signed(psum_width), cols)), nar : Out(cols), psum_valid : Out(1)
        The column sums of one input vector, all in the same cycle, ``latency`` cycles after it;
        defined only while ``psum_valid`` (the data registers have no reset).

    Notes
    -----
    Latency ``rows + cols`` cycles from ``a_valid`` to ``psum_valid`` (1 decode register, row
    skew, ``rows`` PEs down a column, column deskew); one input vector per cycle, so every PE
    does one MAC per cycle in steady state.
    """

    def __init__(self, *, family, form="int", rows, cols, dsp_pes=None, dsp_split=None,
                 registered_load=False, shared_weight_decoder=False, hold_idle=True):
        self._family = check_family(family)
        hardware_for(family)  # the edge decoders
        self._form = check_form(family, form)
        self._rows = check_int("rows", rows, 1, 64)
        self._cols = check_int("cols", cols, 1, 64)
        self._psum_width = partial_sum_width(family, rows)
        self._dsp_pes = rows * cols if dsp_pes is None else \
            check_int("dsp_pes", dsp_pes, 0, rows * cols)
        self._dsp_split = check_dsp_split(family, form, dsp_split)
        self._registered_load = check_bool("registered_load", registered_load)
        self._shared_decoder = check_bool("shared_weight_decoder", shared_weight_decoder)
        self._hold_idle = check_bool("hold_idle", hold_idle)
        members = {
            "a_codes": In(data.ArrayLayout(family.n, rows)), "a_valid": In(1),
            "w_codes": In(data.ArrayLayout(family.n, cols)), "w_row": In(range(rows)),
            "w_load": In(1), "a_first": In(1),
            "psums": Out(data.ArrayLayout(signed(self._psum_width), cols)), "nar": Out(cols),
            "psum_valid": Out(1),
        }
        if self._shared_decoder:
            members["w_col"] = In(range(cols))
        members.update(field_ports(family, "a_", "w_"))
        super().__init__(members)

    @property
    def latency(self):
        return core_latency(self._rows, self._cols)

    @property
    def psum_width(self):
        return self._psum_width

    def elaborate(self, platform):
        m = Module()
        family, form, rows, cols = self._family, self._form, self._rows, self._cols

        # Weight decoders on the load path: one per column, or one for the column w_col.
        w_fields = field_values(self, family, "w_")
        if self._shared_decoder:
            weights = [add_decoder(m, names.decoder_name("w"), family=family, form=form,
                                   code=self.w_codes[self.w_col], fields=w_fields)] * cols
        else:
            weights = [add_decoder(m, names.decoder_name("w", j), family=family, form=form,
                                   code=self.w_codes[j], fields=w_fields) for j in range(cols)]
        w_row, w_load = self.w_row, self.w_load
        w_col = self.w_col if self._shared_decoder else None
        if self._registered_load:
            if self._shared_decoder:
                weights = [_delayed(m, weights[0], 1, "w_decoded")] * cols
                w_col = _delayed(m, w_col, 1, "w_col")
            else:
                weights = [_delayed(m, weight, 1, f"w_decoded_{j}")
                           for j, weight in enumerate(weights)]
            w_row, w_load = _delayed(m, w_row, 1, "w_row"), _delayed(m, w_load, 1, "w_load")

        # Activation decoders, one per row, then a register and the row skew.
        rows_in = []
        valid, first = Signal(), Signal()
        m.d.sync += [valid.eq(self.a_valid), first.eq(self.a_first)]
        a_fields = field_values(self, family, "a_")
        for i in range(rows):
            decoded = add_decoder(m, names.decoder_name("a", i), family=family, form=form,
                                  code=self.a_codes[i], fields=a_fields)
            operand = Signal.like(decoded, name=f"a_decoded_{i}", reset_less=self._hold_idle)
            with m.If(self.a_valid if self._hold_idle else 1):
                m.d.sync += operand.eq(decoded)
            (operand,), operand_valid = _delayed_data(m, [operand], valid, i, f"a_skew_{i}",
                                                      hold_idle=self._hold_idle)
            rows_in.append((operand, operand_valid, _delayed(m, first, i, f"a_first_skew_{i}")))

        on_dsp = "infer" if self._dsp_split is None else "external"
        grid = [[ProcessingElement(
            family=family, form=form, psum_width=partial_sum_width(family, i + 1),
            multiplier=on_dsp if i * cols + j < self._dsp_pes else "fabric",
            hold_idle=self._hold_idle)
            for j in range(cols)] for i in range(rows)]
        if self._dsp_split is not None:
            shared = [grid[k // cols][k % cols] for k in range(self._dsp_pes)]
            for k in range(0, len(shared), 2):
                m.submodules[names.dsp_name(k // 2)] = dsp = SplitMultiplier(
                    shape=factor_shape(family, form), implementation=self._dsp_split)
                for half, pe in enumerate(shared[k:k + 2]):
                    a, b, p = (getattr(dsp, f"{port}{half}") for port in "abp")
                    m.d.comb += [a.eq(pe.factor_a), b.eq(pe.factor_b),
                                 pe.factor_product.eq(p)]
        for i in range(rows):
            for j in range(cols):
                pe = grid[i][j]
                m.submodules[names.pe_name(i, j)] = pe
                left = grid[i][j - 1] if j else None
                a, a_valid, a_first = rows_in[i] if j == 0 else (
                    left.a_out, left.a_valid_out, left.a_first_out)
                m.d.comb += [pe.a_in.eq(a), pe.a_valid_in.eq(a_valid), pe.a_first_in.eq(a_first),
                             pe.w_in.eq(weights[j]), pe.w_load.eq(
                                 w_load & (w_row == i) if w_col is None
                                 else w_load & (w_row == i) & (w_col == j))]
                if i == 0:
                    m.d.comb += [pe.psum_in.eq(0), pe.nar_in.eq(0)]
                else:
                    m.d.comb += [pe.psum_in.eq(grid[i - 1][j].psum_out),
                                 pe.nar_in.eq(grid[i - 1][j].nar_out)]

        # Column deskew: column j leaves one cycle after column j-1.
        for j in range(cols):
            bottom = grid[rows - 1][j]
            (psum, nar), _ = _delayed_data(m, [bottom.psum_out, bottom.nar_out],
                                           bottom.a_valid_out, cols - 1 - j, f"deskew_{j}",
                                           hold_idle=self._hold_idle)
            m.d.comb += [self.psums[j].eq(psum), self.nar[j].eq(nar)]
        m.d.comb += self.psum_valid.eq(_delayed(m, valid, rows + cols - 1, "valid"))
        return m
