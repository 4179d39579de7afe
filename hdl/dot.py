"""A dot-product unit: decoding MAC and scaling stage, with every format a run-time register."""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.arith import DEFAULT_LIMITS
from . import names
from .mac import DecodingMAC
from .runtime import EXPONENT_SHAPE, SCALE_SHAPE, drive_fields, field_ports, field_values
from .scaling import ScalingStage

__all__ = ["DotProductUnit"]


class DotProductUnit(wiring.Component):
    """Codes in, one output code per dot product out: ``Q_out(relu?((bias + Σ a·w)·M·2**-shift))``.

    Parameters
    ----------
    family : golden.family.Family
        Family of the operands and of the output.
    K : int
        Longest dot product (sets the accumulator width; never wraps).
    form : {"int", "ses"}
        MAC micro-architecture (see :class:`hdl.mac.MAC`).
    limits : golden.arith.ScalingLimits
        Bias, M and shift register sizes.

    Members
    -------
    a_code, w_code : In(n)
        One operand pair per cycle while ``en``.
    first, last : In(1)
        Mark the first (bias loaded) and last pair of a dot product; both for length 1.
    en : In(1)
    bias : In(signed(bias_bits))
        Sampled with ``first``.
    M, shift, relu : In
        Per-output scaling parameters, sampled with ``last``.
    a_<field>, w_<field>, out_<field> : In
        Run-time fields of each tensor's member (TFX: IS); the operands' are used every
        cycle, the output's are sampled with ``last``.
    a_scale, w_scale, out_scale : In(SCALE_SHAPE)
        Run-time SC (TFX) or F (FXP) of each tensor, sampled with ``last``.
    valid, code, nar : Out
        The result, ``LATENCY`` cycles after the ``last`` pair.

    Notes
    -----
    Latency 5 cycles from the last pair (1 accumulate + 4 scaling); a new dot product may start
    on the cycle after ``last``. The accumulator exponent E is computed from the operand scales:
    ``SCa + SCw - 2(n-1)`` (TFX) or ``-(Fa + Fw)`` (FXP).
    """

    LATENCY = 1 + ScalingStage.LATENCY

    def __init__(self, *, family, K, form="int", limits=DEFAULT_LIMITS):
        self._family = family
        self._mac = DecodingMAC(family=family, K=K, form=form, bias_bits=limits.bias_bits)
        self._scaling = ScalingStage(acc_width=self._mac.acc_width, out_family=family,
                                     limits=limits)
        members = {
            "a_code": In(family.n), "w_code": In(family.n), "en": In(1),
            "first": In(1), "last": In(1), "bias": In(signed(limits.bias_bits)),
            "M": In(limits.m_bits), "shift": In(range(limits.shift_max + 1)), "relu": In(1),
            "a_scale": In(SCALE_SHAPE), "w_scale": In(SCALE_SHAPE), "out_scale": In(SCALE_SHAPE),
            "valid": Out(1), "code": Out(family.n), "nar": Out(1),
        }
        members.update(field_ports(family, "a_", "w_", "out_"))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        family = self._family
        m.submodules.mac = mac = self._mac
        m.submodules[names.SCALING] = scaling = self._scaling
        m.d.comb += [
            mac.a_code.eq(self.a_code), mac.w_code.eq(self.w_code), mac.en.eq(self.en),
            mac.load_bias.eq(self.first), mac.clear.eq(0), mac.bias.eq(self.bias),
        ]
        drive_fields(m, mac, self, family, "a_", "w_")

        # Everything the scaling stage needs travels one cycle beside the final accumulation.
        done = Signal()
        exponent = Signal(EXPONENT_SHAPE)
        M, shift, relu = Signal.like(self.M), Signal.like(self.shift), Signal()
        out_scale = Signal(SCALE_SHAPE)
        m.d.sync += [
            done.eq(self.en & self.last),
            exponent.eq(family.accumulator_exponent(self.a_scale, self.w_scale)),
            M.eq(self.M), shift.eq(self.shift), relu.eq(self.relu), out_scale.eq(self.out_scale),
        ]
        m.d.comb += [
            scaling.valid_in.eq(done), scaling.acc.eq(mac.acc), scaling.nar_in.eq(mac.nar),
            scaling.exponent.eq(exponent), scaling.M.eq(M), scaling.shift.eq(shift),
            scaling.relu.eq(relu), scaling.out_scale.eq(out_scale),
            self.valid.eq(scaling.valid_out), self.code.eq(scaling.code), self.nar.eq(scaling.nar),
        ]
        for name, value in field_values(self, family, "out_").items():
            sampled = Signal.like(value, name=f"out_{name}")
            m.d.sync += sampled.eq(value)
            m.d.comb += getattr(scaling, f"out_{name}").eq(sampled)
        return m
