"""Multiply-accumulate: exact product of two pre-decoded operands into a never-wrapping accumulator."""

from amaranth.hdl import Module, Mux, Shape, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden._checks import check_choice, check_int
from golden.arith import MAX_BIAS_BITS, accumulator_width
from . import names
from .decoder import add_decoder
from .formats import hardware_for
from .multiply import MULTIPLIERS, multiply
from .operand import check_family, check_form, factor_shape, operand_layout
from .runtime import field_ports, field_values

__all__ = ["MAC", "DecodingMAC", "Product", "PRODUCT_MULTIPLIERS", "factor_ports"]

MAX_K = 1 << 20
#: How a :class:`Product` multiplies: :data:`hdl.multiply.MULTIPLIERS` or on its ports.
PRODUCT_MULTIPLIERS = MULTIPLIERS + ("external",)


class Product(wiring.Component):
    """Exact product ``Xa * Xw`` of two pre-decoded operands. Combinational.

    ``form="int"`` multiplies the (n+IS_max)-bit integers. ``form="ses"`` multiplies the unsigned
    significands, adds the exponent fields and shifts the product left by their sum (a barrel
    shifter of ``2 * exponent_count - 1`` positions), dropping the low ``2 * exponent_offset``
    bits, which are always zero. ``multiplier`` (``"infer"`` or ``"fabric"``, see
    :mod:`hdl.multiply`) says whether the multiply may become a DSP block; ``"external"``
    leaves it to a multiplier outside (one half of a shared DSP, :mod:`hdl.dsp`): the factors
    go out on ``factor_a`` and ``factor_b`` (shape :func:`hdl.operand.factor_shape`) and their
    exact product comes back, combinationally, on ``factor_product``. In the ses form the
    product is also given as ``magnitude`` and ``negative`` (``product = ±magnitude``), for
    an accumulator that folds the sign into its adder.
    """

    def __init__(self, *, family, form="int", multiplier="infer"):
        self._family = check_family(family)
        self._form = check_form(family, form)
        self._multiplier = check_choice("multiplier", multiplier, PRODUCT_MULTIPLIERS)
        layout = operand_layout(family, form)
        members = {"a": In(layout), "w": In(layout),
                   "product": Out(signed(2 * family.operand_width))}
        if multiplier == "external":
            members.update(factor_ports(family, form))
        if form == "ses":
            members.update(magnitude=Out(2 * family.operand_width - 1), negative=Out(1))
        super().__init__(members)

    def _multiply(self, m, a, b, name):
        if self._multiplier != "external":
            return multiply(m, a, b, kind=self._multiplier, name=name)
        m.d.comb += [self.factor_a.eq(a), self.factor_b.eq(b)]
        return self.factor_product

    def elaborate(self, platform):
        m = Module()
        if self._form == "int":
            m.d.comb += self.product.eq(self._multiply(m, self.a.value, self.w.value,
                                                       "integers"))
            return m
        offset = self._family.exponent_offset
        significands = self._multiply(m, self.a.significand, self.w.significand,
                                      "significands")
        magnitude = (significands << (self.a.exponent + self.w.exponent))[2 * offset:]
        m.d.comb += [self.magnitude.eq(magnitude), self.negative.eq(self.a.sign ^ self.w.sign),
                     self.product.eq(Mux(self.a.sign ^ self.w.sign, -magnitude, magnitude))]
        return m


def factor_ports(family, form):
    """The members through which a PE or :class:`Product` with an external multiplier hands
    out its factors (``factor_a``, ``factor_b``) and takes their product back."""
    shape = factor_shape(family, form)
    return {"factor_a": Out(shape), "factor_b": Out(shape),
            "factor_product": In(Shape(2 * shape.width, shape.signed))}


class MAC(wiring.Component):
    """Multiply-accumulate on pre-decoded operands (no decoder inside).

    Parameters
    ----------
    family : golden.family.Family
        Format family of both operands.
    K : int
        Longest dot product promised (1 to 2**20); with ``bias_bits`` it sets the accumulator
        width, ``golden.arith.accumulator_width(widest, widest, K, bias_bits)``, so the
        accumulator never wraps.
    form : {"int", "ses"}
        Operand form and so micro-architecture: integer multiply, or significand multiply and
        shift (FXP: sign and magnitude, no shift).
    bias_bits : int
        Width of the signed bias (2 to 128).

    Members
    -------
    a, w : In(operand_layout(family, form))
    en : In(1)
        Add ``a * w`` this cycle.
    clear : In(1)
        Start from zero (and clear ``nar``).
    load_bias : In(1)
        Start from ``bias`` (and clear ``nar``); wins over ``clear``.
    bias : In(signed(bias_bits))
    acc : Out(signed(acc_width))
        ``base + (a*w if en)`` one cycle later, base being ``bias``, 0 or the accumulator.
    nar : Out(1)
        Sticky: a NaR operand was accumulated since the last clear or bias load (it added 0).

    Notes
    -----
    Latency 1 cycle, one MAC per cycle. Products are exact; the sum is exact for up to ``K``
    products plus the bias. A new dot product starts without a bubble: ``load_bias`` and ``en``
    in the same cycle give ``bias + a*w``.
    """

    def __init__(self, *, family, K, form="int", bias_bits=32):
        self._family = check_family(family)
        self._form = check_form(family, form)
        self._K = check_int("K", K, 1, MAX_K)
        self._bias_bits = check_int("bias_bits", bias_bits, 2, MAX_BIAS_BITS)
        widest = family.widest()
        self._acc_width = accumulator_width(widest, widest, K, bias_bits=bias_bits)
        layout = operand_layout(family, form)
        super().__init__({
            "a": In(layout), "w": In(layout),
            "en": In(1), "clear": In(1), "load_bias": In(1), "bias": In(signed(bias_bits)),
            "acc": Out(signed(self._acc_width)), "nar": Out(1),
        })

    @property
    def acc_width(self):
        return self._acc_width

    @property
    def K(self):
        return self._K

    def elaborate(self, platform):
        m = Module()
        m.submodules[names.PRODUCT] = product = Product(family=self._family, form=self._form)
        m.d.comb += [product.a.eq(self.a), product.w.eq(self.w)]
        base = Mux(self.load_bias, self.bias, Mux(self.clear, 0, self.acc))
        addend = Mux(self.en, product.product, 0)
        m.d.sync += self.acc.eq(base + addend)
        restart = self.load_bias | self.clear
        touched = self.en & (self.a.nar | self.w.nar)
        m.d.sync += self.nar.eq((self.nar & ~restart) | touched)
        return m


class DecodingMAC(wiring.Component):
    """Two decoders and a :class:`MAC`: codes in, accumulator out (for tests and area studies).

    Members
    -------
    a_code, w_code : In(n)
    a_<field>, w_<field> : In(...)
        Run-time fields of each operand's member (TFX: ``a_IS``, ``w_IS``; FXP: none).
    en, clear, load_bias, bias, acc, nar
        As in :class:`MAC`; latency 1 cycle from codes to accumulator.
    """

    def __init__(self, *, family, K, form="int", bias_bits=32):
        self._family = check_family(family)
        hardware_for(family)  # the decoders
        self._mac = MAC(family=family, K=K, form=form, bias_bits=bias_bits)
        self._form = form
        members = {
            "a_code": In(family.n), "w_code": In(family.n),
            "en": In(1), "clear": In(1), "load_bias": In(1), "bias": In(signed(bias_bits)),
            "acc": Out(signed(self._mac.acc_width)), "nar": Out(1),
        }
        members.update(field_ports(family, "a_", "w_"))
        super().__init__(members)

    @property
    def acc_width(self):
        return self._mac.acc_width

    def elaborate(self, platform):
        m = Module()
        family = self._family
        a = add_decoder(m, names.decoder_name("a"), family=family, form=self._form, code=self.a_code,
                        fields=field_values(self, family, "a_"))
        w = add_decoder(m, names.decoder_name("w"), family=family, form=self._form, code=self.w_code,
                        fields=field_values(self, family, "w_"))
        m.submodules.mac = mac = self._mac
        m.d.comb += [
            mac.a.eq(a), mac.w.eq(w),
            mac.en.eq(self.en), mac.clear.eq(self.clear), mac.load_bias.eq(self.load_bias),
            mac.bias.eq(self.bias), self.acc.eq(mac.acc), self.nar.eq(mac.nar),
        ]
        return m
