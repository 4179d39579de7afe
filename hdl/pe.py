"""Processing element of the weight-stationary systolic array: no decoder inside."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden._checks import check_bool, check_choice, check_int
from . import names
from .mac import PRODUCT_MULTIPLIERS, Product, factor_ports
from .operand import check_family, check_form, operand_layout

__all__ = ["ProcessingElement"]


class ProcessingElement(wiring.Component):
    """Holds one pre-decoded weight; passes activations right and partial sums down.

    Parameters
    ----------
    family : TFXFamily or FXPFamily
    form : {"int", "ses"}
        Operand form, and so the multiplier (see :class:`hdl.mac.Product`).
    psum_width : int
        Width of the signed partial sums (2 to 128); the array sizes it so it never wraps.
    multiplier : {"infer", "fabric", "external"}
        Whether the product may map to a DSP block (see :mod:`hdl.multiply`), or is made
        outside the PE (``"external"``: one half of a DSP shared by two PEs, :mod:`hdl.dsp`).
    hold_idle : bool
        The data registers have no reset; the weight registers load only when they take a
        weight, the activation, partial-sum and NaR registers only with a valid activation,
        and hold otherwise, so that a standard-cell mapping gives them gated clocks
        (:mod:`scripts.asic.mapping`). ``False`` (the FPGA builds): they keep their reset and
        load on every cycle, an invalid activation adding nothing (on an FPGA each distinct
        clock enable constrains packing, and a reset is free).

    Members
    -------
    a_in, a_valid_in, a_first_in : In
        Pre-decoded activation from the left; ``a_first_in`` marks the first activation of a
        new weight tile: the shadow weight becomes active for it (the swap travels with the
        data, so vectors of the previous tile still in flight keep their weight).
    a_out, a_valid_out, a_first_out : Out
        The same, one cycle later, to the right.
    psum_in, nar_in : In
        Partial sum (and its NaR flag) from above.
    psum_out, nar_out : Out
        ``psum_in + a*w`` and ``nar_in | NaR touched``, one cycle later, downwards. The partial
        sum of an activation arrives beside it (the array's skew). These and ``a_out`` have no
        reset and are defined only beside ``a_valid_out``.
    w_in, w_load : In
        Double-buffered weight: ``w_load`` writes ``w_in`` to the shadow register. The next
        tile's weight may be loaded once this tile's first activation has passed.
    factor_a, factor_b : Out, factor_product : In
        With ``multiplier="external"`` only: this cycle's factors (activation's, weight's;
        :func:`hdl.operand.factor_shape`) and their exact product, combinationally.

    Notes
    -----
    Latency 1 cycle; one MAC per cycle.
    """

    def __init__(self, *, family, form="int", psum_width, multiplier="infer", hold_idle=True):
        self._family = check_family(family)
        self._hold_idle = check_bool("hold_idle", hold_idle)
        self._form = check_form(family, form)
        self._psum_width = check_int("psum_width", psum_width, 2, 128)
        self._multiplier = check_choice("multiplier", multiplier, PRODUCT_MULTIPLIERS)
        layout = operand_layout(family, form)
        members = {
            "a_in": In(layout), "a_valid_in": In(1), "a_first_in": In(1),
            "a_out": Out(layout), "a_valid_out": Out(1), "a_first_out": Out(1),
            "psum_in": In(signed(psum_width)), "nar_in": In(1),
            "psum_out": Out(signed(psum_width)), "nar_out": Out(1),
            "w_in": In(layout), "w_load": In(1),
        }
        if multiplier == "external":
            members.update(factor_ports(family, form))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        layout = operand_layout(self._family, self._form)
        # With hold_idle, data registers have no reset (they are only read beside a valid flag)
        # and the weight registers load only when they take a weight: a gated clock each in a
        # standard-cell mapping (scripts.asic.mapping). Without, they are the FPGA builds'.
        shadow = Signal(layout, reset_less=self._hold_idle)
        weight = Signal(layout, reset_less=self._hold_idle)
        active = Signal(layout)  # the weight this cycle's activation multiplies
        with m.If(self.w_load):
            m.d.sync += shadow.eq(self.w_in)
        swap = self.a_valid_in & self.a_first_in
        if self._hold_idle:
            # As and-or, not a multiplexer: synthesis would merge it with the weight
            # register's own multiplexer and then no longer see that register's load enable.
            width = len(active.as_value())
            m.d.comb += active.eq((shadow.as_value() & swap.replicate(width))
                                  | (weight.as_value() & (~swap).replicate(width)))
            with m.If(swap):
                m.d.sync += weight.eq(shadow)
        else:
            m.d.comb += active.eq(Mux(swap, shadow, weight))
            m.d.sync += weight.eq(active)

        m.submodules[names.PRODUCT] = product = Product(family=self._family, form=self._form,
                                                   multiplier=self._multiplier)
        m.d.comb += [product.a.eq(self.a_in), product.w.eq(active)]
        if self._multiplier == "external":
            m.d.comb += [self.factor_a.eq(product.factor_a), self.factor_b.eq(product.factor_b),
                         product.factor_product.eq(self.factor_product)]
        a_out = Signal(layout, reset_less=self._hold_idle)
        psum_out = Signal(signed(self._psum_width), reset_less=self._hold_idle)
        nar_out = Signal(reset_less=self._hold_idle)
        m.d.sync += [self.a_valid_out.eq(self.a_valid_in), self.a_first_out.eq(self.a_first_in)]
        # Held, the registers load only beside a valid activation; free-running, an invalid
        # one adds nothing, so that the partial sums do not switch on it.
        valid = None if self._hold_idle else self.a_valid_in
        with m.If(self.a_valid_in if self._hold_idle else 1):
            m.d.sync += [
                a_out.eq(self.a_in),
                psum_out.eq(self._accumulate(m, product, valid)),
                nar_out.eq(self.nar_in | self.a_in.nar | active.nar if valid is None
                           else self.nar_in | (valid & (self.a_in.nar | active.nar))),
            ]
        m.d.comb += [self.a_out.eq(a_out), self.psum_out.eq(psum_out), self.nar_out.eq(nar_out)]
        return m

    def _accumulate(self, m, product, valid=None):
        """``psum_in + product`` (``psum_in`` when ``valid`` is given and low). In the ses form
        the sign goes into the adder: ``psum_in + (magnitude ^ -s) + s``, one carry chain,
        rather than negating the magnitude first."""
        gate = (lambda value: value) if valid is None else (lambda value: Mux(valid, value, 0))
        if self._form != "ses":
            return self.psum_in + gate(product.product)
        negative = Signal()
        addend = Signal(self._psum_width)
        m.d.comb += [
            negative.eq(product.negative if valid is None else valid & product.negative),
            addend.eq(gate(product.magnitude) ^ negative.replicate(self._psum_width)),
        ]
        return (self.psum_in + addend.as_signed() + negative)[:self._psum_width]
