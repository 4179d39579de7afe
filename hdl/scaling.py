"""Scaling (normalization) stage: accumulator to output code with exactly one rounding."""

from amaranth.hdl import Cat, EnableInserter, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden._checks import check_bool, check_choice, check_int
from golden.arith import DEFAULT_LIMITS, ScalingLimits
from .formats import hardware_for, staged
from .formats.rounding import EXPONENT_WIDE
from .multiply import MULTIPLIERS, multiply
from .operand import check_family
from .runtime import EXPONENT_SHAPE, SCALE_SHAPE, field_ports, field_shapes

__all__ = ["ScalingStage"]


class ScalingStage(wiring.Component):
    """Accumulator to output code: ``Q_out(relu?(acc * M * 2**(exponent - shift)))``.

    Exactly one rounding, straight into the run-time output format (nearest, ties to the even
    code, saturating), with guard and sticky bits; never a shift-and-round before encoding.

    Parameters
    ----------
    acc_width : int
        Width of the signed accumulator input (2 to 128).
    out_family : golden.family.Family
        Output format family; the member (its fields and scale) is a run-time input.
    limits : golden.arith.ScalingLimits
        Sizes of the per-channel registers: ``1 <= M < 2**m_bits``, ``0 <= shift <= shift_max``.
    multiplier : {"infer", "fabric"}
        Whether the multiply by M may map to DSP blocks (see :mod:`hdl.multiply`).
    pipelined : bool
        Cut the stage into more cycles, for fast FPGA clocks: latency 7 instead of 4.
    hold_idle : bool
        The data registers have no reset (they are read only beside a valid flag) and advance
        only while a result is in the stage, holding otherwise: one gated clock in a
        standard-cell mapping (:mod:`scripts.asic.mapping`). ``False`` (the FPGA builds):
        they keep their reset and advance on every cycle (on an FPGA a clock enable of this
        fanout would take a global buffer). A result sees the same data either way.

    Members
    -------
    valid_in : In(1)
    acc : In(signed(acc_width))
        Exact accumulator, bias included; its value is ``acc * 2**exponent``.
    nar_in : In(1)
        Travels with the result to ``nar``.
    exponent : In(EXPONENT_SHAPE)
        Run-time E (``Family.accumulator_exponent`` of the operands' scales: ``SCa + SCw -
        2(n-1)`` for TFX, ``-(Fa + Fw)`` for FXP).
    M : In(m_bits)
        Per-channel multiplier (values below 1 are outside the contract).
    shift : In(range(shift_max + 1))
    relu : In(1)
    out_<field> : In(...)
        The output member's run-time fields (TFX: ``out_IS``; FXP: none).
    out_scale : In(SCALE_SHAPE)
        Output SC (TFX) or F (FXP), -32 to 32.
    valid_out, code, nar : Out
        The output code ``LATENCY`` cycles after its inputs; ``code`` and ``nar`` hold between
        results and are defined only from the first ``valid_out`` on (the data registers have
        no reset, so that a standard-cell mapping can gate their clocks).

    Notes
    -----
    Latency 4 cycles (multiply; magnitude and leading one; binade and cut; shift, round and
    encode), or :attr:`PIPELINED_LATENCY` = 7 ``pipelined`` (multiply; magnitude; leading
    one; binade; cut; shift; round and encode; FXP, with no binade arithmetic, clamps the shift
    in the cut's cycle and waits one), one result per cycle. Every input, the run-time formats
    included, travels with its data, so they may change on any cycle.
    """

    LATENCY = 4
    PIPELINED_LATENCY = 7

    def __init__(self, *, acc_width, out_family, limits=DEFAULT_LIMITS, multiplier="infer",
                 pipelined=False, hold_idle=True):
        self._acc_width = check_int("acc_width", acc_width, 2, 128)
        self._family = check_family(out_family)
        hardware_for(out_family)  # its encoder: a family without hardware fails here
        if not isinstance(limits, ScalingLimits):
            raise TypeError(f"limits must be a golden.arith.ScalingLimits, not {limits!r}")
        self._limits = limits
        self._multiplier = check_choice("multiplier", multiplier, MULTIPLIERS)
        self._pipelined = check_bool("pipelined", pipelined)
        self._hold_idle = check_bool("hold_idle", hold_idle)
        members = {
            "valid_in": In(1), "acc": In(signed(acc_width)), "nar_in": In(1),
            "exponent": In(EXPONENT_SHAPE), "M": In(limits.m_bits),
            "shift": In(range(limits.shift_max + 1)), "relu": In(1),
            "out_scale": In(SCALE_SHAPE),
            "valid_out": Out(1), "code": Out(out_family.n), "nar": Out(1),
        }
        members.update(field_ports(out_family, "out_"))
        super().__init__(members)

    @property
    def latency(self):
        return self.PIPELINED_LATENCY if self._pipelined else self.LATENCY

    @property
    def out_family(self):
        return self._family

    @property
    def limits(self):
        return self._limits

    def elaborate(self, platform):
        m = Module()
        family = self._family
        magnitude_width = self._acc_width + self._limits.m_bits
        # The valid flags advance on every cycle, the data registers while busy (hold_idle).
        busy = Signal()
        flags = [self.valid_in]

        def data(shape, name):
            return Signal(shape, name=name, reset_less=self._hold_idle)

        def flag(value, name):
            register = Signal(name=name)
            m.d.sync += register.eq(value)
            flags.append(register)
            return register

        # Stage 1: exact product with M, ReLU, total exponent Z.
        scaled_acc = multiply(m, self.acc, self.M, kind=self._multiplier, name="acc_times_M")
        product = data(signed(magnitude_width + 1), "product")
        z1 = data(EXPONENT_WIDE, "z1")
        nar1 = data(1, "nar1")
        fields1 = {name: data(shape, f"{name}1") for name, shape in field_shapes(family).items()}
        valid1 = flag(self.valid_in, "valid1")
        # The encoder takes the value in units of the output's scale as magnitude * 2**Z.
        with m.If(busy):
            m.d.sync += [
                product.eq(Mux(self.relu & (self.acc < 0), 0, scaled_acc)),
                z1.eq(self.exponent - self.shift + family.encoder_exponent(self.out_scale)),
                nar1.eq(self.nar_in),
            ]
            m.d.sync += [register.eq(getattr(self, f"out_{name}"))
                         for name, register in fields1.items()]

        # Stage 2: sign, magnitude, leading one.
        negative = data(1, "negative")
        magnitude = data(magnitude_width, "magnitude")
        leading = data(range(magnitude_width), "leading")
        z2 = data(EXPONENT_WIDE, "z2")
        nar2 = data(1, "nar2")
        fields2 = {name: data(shape, f"{name}2") for name, shape in field_shapes(family).items()}
        absolute = Mux(product < 0, -product, product)[:magnitude_width]
        sign, z, valid, nar, fields = product < 0, z1, valid1, nar1, fields1
        if self._pipelined:
            # The magnitude's carry chain, then the leading-one search: a cycle each.
            wait = [data(1, "magnitude_negative"), data(magnitude_width, "absolute"),
                    data(EXPONENT_WIDE, "magnitude_z"), data(1, "magnitude_nar")]
            waiting_fields = {name: data(shape, f"magnitude_{name}")
                              for name, shape in field_shapes(family).items()}
            with m.If(busy):
                m.d.sync += [register.eq(value) for register, value in
                             zip(wait, (sign, absolute, z, nar))]
                m.d.sync += [waiting_fields[name].eq(fields[name]) for name in fields]
            sign, absolute, z, nar = wait
            valid = flag(valid, "magnitude_valid")
            fields = waiting_fields
        leading_comb = Signal(range(magnitude_width))
        for i in range(magnitude_width):
            with m.If(absolute[i]):
                m.d.comb += leading_comb.eq(i)
        with m.If(busy):
            m.d.sync += [negative.eq(sign), magnitude.eq(absolute), leading.eq(leading_comb),
                         z2.eq(z), nar2.eq(nar)]
            m.d.sync += [register.eq(fields[name]) for name, register in fields2.items()]
        valid2 = flag(valid, "valid2")

        # Then the format's encoder and the output register. The encoder is given
        # ``latency - 3`` cycles; one that needs fewer (FXP: no binade arithmetic) takes its
        # inputs that many cycles later, so that every format takes the same cycles.
        encoder = hardware_for(family).encoder(
            family=family, magnitude_width=magnitude_width, pipelined=self._pipelined)
        m.submodules.encoder = EnableInserter(busy)(encoder)
        given = self.latency - (4 if self._pipelined else 3)
        if not 0 <= encoder.latency <= given:
            raise ValueError(f"the {family.label} encoder's latency {encoder.latency} is not "
                             f"within the {given} cycles the stage gives it")
        inputs = [(encoder.negative, negative), (encoder.magnitude, magnitude),
                  (encoder.leading, leading), (encoder.exponent, z2)]
        inputs += [(getattr(encoder, name), value) for name, value in fields2.items()]
        values = [value for _, value in inputs]
        delay = given - encoder.latency
        with m.If(busy):
            for _ in range(delay):
                values = staged(m, "encoder_in", *values)
        m.d.comb += [port.eq(value) for (port, _), value in zip(inputs, values)]
        valid, nar = flag(valid2, "valid3"), data(1, "nar3")
        with m.If(busy):
            m.d.sync += nar.eq(nar2)
        for stage in range(given - 1):
            valid = flag(valid, f"encoded_valid_{stage}")
            with m.If(busy):
                (nar,) = staged(m, "encoded", nar)
        code, code_nar = data(len(self.code), "code"), data(1, "code_nar")
        with m.If(valid if self._hold_idle else 1):
            m.d.sync += [code.eq(encoder.code), code_nar.eq(nar)]
        m.d.sync += self.valid_out.eq(valid)
        m.d.comb += [self.code.eq(code), self.nar.eq(code_nar),
                     busy.eq(Cat(*flags).any() if self._hold_idle else 1)]
        return m
