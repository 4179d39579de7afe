# amaranth: UnusedElaboratable=no
# (the invalid-argument tests leave half-built components behind)
"""Fast Amaranth-simulator tests of each arithmetic component against the golden model."""

import numpy as np
import pytest
from amaranth.hdl import signed, unsigned
from amaranth.sim import Simulator

from golden import FP, TFX, Posit
from golden.arith import Accumulators, ScalingLimits, matmul, scale
from golden.family import FPFamily, FXPFamily, PositFamily, TFXFamily, WithUnsigned
from hdl.decoder import Decoder
from hdl.dot import DotProductUnit
from hdl.mac import MAC, DecodingMAC
from hdl.scaling import ScalingStage

pytestmark = pytest.mark.sim

FAMILIES = [TFXFamily(8, 3), TFXFamily(6, 5), TFXFamily(5, 4, IS_min=2), TFXFamily(4, 1),
            FXPFamily(6), FXPFamily(5, signed=False), FPFamily(8, 4), FPFamily(8, 5),
            FPFamily(6, 2), FPFamily(6, 3), FPFamily(4, 2), FPFamily(7, 1),
            PositFamily(8, 0), PositFamily(8, 1), PositFamily(8, 2), PositFamily(6, 3),
            PositFamily(3, 0), PositFamily(4, 3), PositFamily(9, 1),
            # Signed and unsigned members in one build (FP(8, 4)'s NaN has no twin one bit
            # wider: the comparator's case).
            WithUnsigned(TFXFamily(8, 3)), WithUnsigned(TFXFamily(5, 4, IS_min=2)),
            WithUnsigned(FXPFamily(6)), WithUnsigned(FPFamily(8, 4)),
            WithUnsigned(FPFamily(8, 5)), WithUnsigned(PositFamily(6, 1))]


def set_fields(ctx, dut, family, fmt, prefix=""):
    """The run-time fields of member ``fmt`` (not its scale) on ``<prefix><field>`` ports."""
    for name, value in family.registers(fmt).items():
        if name != "scale":
            ctx.set(getattr(dut, prefix + name), value)


def simulate(dut, bench, clock=True):
    sim = Simulator(dut)
    if clock:
        sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def operand_value(ctx, port, family, form):
    if form == "int":
        return ctx.get(port.value)
    magnitude = ctx.get(port.significand) << ctx.get(port.exponent)
    magnitude >>= family.exponent_offset
    return -magnitude if ctx.get(port.sign) else magnitude


@pytest.mark.parametrize("family,form", [(f, form) for f in FAMILIES for form in f.forms],
                         ids=str)
def test_decoder_every_code(family, form):
    dut = Decoder(family=family, form=form)
    mismatches = []

    async def bench(ctx):
        for fmt in family.members():
            set_fields(ctx, dut, family, fmt)
            expected = fmt.to_int(fmt.codes(), nar="zero") * (1 << family.operand_shift(fmt))
            nar = fmt.is_nar(fmt.codes())
            for code in range(fmt.code_count):
                ctx.set(dut.code, code)
                got = operand_value(ctx, dut.operand, family, form)
                if got != expected[code] or ctx.get(dut.operand.nar) != nar[code]:
                    mismatches.append((fmt, code, got, expected[code]))

    simulate(dut, bench, clock=False)
    assert not mismatches


@pytest.mark.parametrize("family,form", [(TFXFamily(8, 3), "int"), (TFXFamily(8, 3), "ses"),
                                         (TFXFamily(6, 5, IS_min=2), "ses"), (FXPFamily(8), "int"),
                                         (FPFamily(8, 4), "ses"), (FPFamily(8, 5), "int"),
                                         (FPFamily(6, 3), "ses"), (PositFamily(8, 1), "ses"),
                                         (PositFamily(6, 2), "int"),
                                         (WithUnsigned(TFXFamily(8, 3)), "ses"),
                                         (WithUnsigned(FXPFamily(8)), "int"),
                                         (WithUnsigned(FPFamily(8, 4)), "int")],
                         ids=str)
def test_mac_random_dot_products(family, form):
    rng = np.random.default_rng(4)
    K = 12
    dut = DecodingMAC(family=family, K=K, form=form, bias_bits=12)
    jobs = []
    for _ in range(12):
        a_fmt, w_fmt = rng.choice(family.members(family.example_scales), 2)
        a = rng.integers(0, 1 << family.n, K)
        w = rng.integers(0, 1 << family.n, K)
        bias = int(rng.integers(-2047, 2048)) >> family.accumulator_shift(a_fmt, w_fmt)
        length = int(rng.integers(1, K + 1))
        jobs.append((a_fmt, w_fmt, a[:length], w[:length], bias))
    results = []

    async def bench(ctx):
        for a_fmt, w_fmt, a, w, bias in jobs:
            set_fields(ctx, dut, family, a_fmt, "a_")
            set_fields(ctx, dut, family, w_fmt, "w_")
            ctx.set(dut.bias, bias << family.accumulator_shift(a_fmt, w_fmt))
            for i, (ca, cw) in enumerate(zip(a, w, strict=True)):
                ctx.set(dut.a_code, int(ca))
                ctx.set(dut.w_code, int(cw))
                ctx.set(dut.en, 1)
                ctx.set(dut.load_bias, i == 0)
                await ctx.tick()
            ctx.set(dut.en, 0)
            ctx.set(dut.load_bias, 0)
            results.append((ctx.get(dut.acc), ctx.get(dut.nar)))

    simulate(dut, bench)
    for (a_fmt, w_fmt, a, w, bias), (acc, nar) in zip(jobs, results, strict=True):
        golden = matmul(a[None, :], a_fmt, w[:, None], w_fmt, bias=[bias], nar="flag")
        # The hardware's accumulator unit may be finer (a family with unsigned variants).
        room = family.accumulator_shift(a_fmt, w_fmt)
        assert (acc, nar) == (int(golden.values[0, 0]) << room, bool(golden.nar[0, 0]))


def test_mac_never_wraps_at_K():
    family = TFXFamily(8, 3)
    K = 64
    dut = MAC(family=family, K=K)
    fmt = family.widest()
    maxpos, negmax = 0x7F, 0x81
    top = fmt.max_int

    async def bench(ctx):
        for sign in (1, -1):
            ctx.set(dut.a.value, top)
            ctx.set(dut.w.value, sign * top)
            ctx.set(dut.bias, sign * ((1 << 31) - 1))
            ctx.set(dut.load_bias, 1)
            ctx.set(dut.en, 1)
            await ctx.tick()
            ctx.set(dut.load_bias, 0)
            for _ in range(K - 1):
                await ctx.tick()
            assert ctx.get(dut.acc) == sign * (K * top * top + (1 << 31) - 1)

    simulate(dut, bench)
    assert dut.acc_width == ((K * top * top + (1 << 31) - 1) - 1).bit_length() + 1
    assert fmt.decode(maxpos) == -fmt.decode(negmax)


def scaling_cases(rng, family, count, acc_width, limits):
    cases = []
    for _ in range(count):
        member = rng.choice(family.members())
        low, high = (-4, 9) if family.kind == "fxp" else (-3, 4)
        out = family.member_from(family.registers(member), int(rng.integers(low, high)))
        cases.append((int(rng.integers(-(1 << (acc_width - 1)), 1 << (acc_width - 1))),
                      int(rng.integers(-24, 4)), int(rng.integers(1, 1 << limits.m_bits)),
                      int(rng.integers(0, limits.shift_max + 1)), bool(rng.integers(0, 2)), out))
    return cases


def run_scaling(family, cases, acc_width, limits, pipelined=False, *, hold_idle=True,
                gaps=None):
    """Every case through a stage, checked against the golden model; ``gaps``: idle cycles
    before each case (back to back without), and then a held stage's code and NaR must stay
    those of the last result while no result comes out."""
    dut = ScalingStage(acc_width=acc_width, out_family=family, limits=limits,
                       pipelined=pipelined, hold_idle=hold_idle)
    outputs = []
    latencies = []
    held = []
    timeline = [None] * dut.latency
    if gaps is not None:
        timeline = []
        for gap, case in zip(gaps, cases, strict=True):
            timeline += [None] * gap + [case]
        timeline += [None] * dut.latency

    async def bench(ctx):
        for cycle, case in enumerate(cases + timeline if gaps is None else timeline):
            ctx.set(dut.valid_in, case is not None)
            if case is not None:
                acc, exponent, M, shift, relu, out = case
                for port, value in [(dut.acc, acc), (dut.exponent, exponent), (dut.M, M),
                                    (dut.shift, shift), (dut.relu, relu), (dut.nar_in, acc & 1)]:
                    ctx.set(port, value)
                set_fields(ctx, dut, family, out, "out_")
                ctx.set(dut.out_scale, family.registers(out)["scale"])
            await ctx.tick()
            if ctx.get(dut.valid_out):
                outputs.append((ctx.get(dut.code), ctx.get(dut.nar)))
                latencies.append(cycle - len(outputs) + 1)
            elif outputs:
                held.append(((ctx.get(dut.code), ctx.get(dut.nar)), outputs[-1]))

    simulate(dut, bench)
    # An unsigned output holds no negative value: the hardware rounds those to 0.
    expected = [(int(scale(Accumulators(np.array([acc]), exponent, np.zeros(1, bool)), out, M=M,
                           shift=shift, relu=relu or not out.signed, limits=limits)[0]), acc & 1)
                for acc, exponent, M, shift, relu, out in cases]
    assert outputs == expected
    if gaps is None:
        assert set(latencies) == {dut.latency - 1}  # one result per cycle, the documented delay
    elif hold_idle:
        assert held and all(now == last for now, last in held)
    assert dut.latency == (7 if pipelined else 4)


@pytest.mark.parametrize("pipelined", [False, True], ids=["short", "pipelined"])
@pytest.mark.parametrize("family", [TFXFamily(8, 7), TFXFamily(6, 3, IS_min=2), FXPFamily(8),
                                    FXPFamily(5, signed=False), FPFamily(8, 4), FPFamily(8, 5),
                                    FPFamily(4, 2), PositFamily(8, 1), PositFamily(8, 2),
                                    PositFamily(6, 3), PositFamily(5, 0),
                                    WithUnsigned(TFXFamily(8, 3)), WithUnsigned(FXPFamily(8)),
                                    WithUnsigned(FPFamily(8, 4)), WithUnsigned(PositFamily(8, 1))],
                         ids=repr)
def test_scaling_random(family, pipelined):
    limits = ScalingLimits(bias_bits=20, m_bits=6, shift_max=12)
    cases = scaling_cases(np.random.default_rng(5), family, 1500, 20, limits)
    run_scaling(family, cases, 20, limits, pipelined)


@pytest.mark.parametrize("hold_idle", [True, False], ids=["hold", "run"])
@pytest.mark.parametrize("pipelined", [False, True], ids=["short", "pipelined"])
@pytest.mark.parametrize("family", [TFXFamily(8, 3), FXPFamily(8), FPFamily(8, 4),
                                    PositFamily(8, 1)], ids=repr)
def test_scaling_with_idle_cycles(family, pipelined, hold_idle):
    """Results with 0 to 5 idle cycles between them: a held stage advances only while one is
    in it, and a result sees the same data as in a stage that always advances."""
    limits = ScalingLimits(bias_bits=20, m_bits=6, shift_max=12)
    rng = np.random.default_rng(11)
    cases = scaling_cases(rng, family, 300, 20, limits)
    run_scaling(family, cases, 20, limits, pipelined, hold_idle=hold_idle,
                gaps=rng.integers(0, 6, len(cases)).tolist())


@pytest.mark.parametrize("pipelined", [False, True], ids=["short", "pipelined"])
@pytest.mark.parametrize("family,out", [(TFXFamily(5, 4), TFX(5, 2, 0)),
                                        (TFXFamily(5, 4), TFX(5, 4, 1)),
                                        (TFXFamily(5, 4), TFX(5, 1, -1)),
                                        (FPFamily(5, 2), FP(5, 2, 0)), (FPFamily(5, 3), FP(5, 3, 4)),
                                        (FPFamily(6, 1), FP(6, 1, -2)),
                                        (PositFamily(5, 1), Posit(5, 1, 0)),
                                        (PositFamily(5, 2), Posit(5, 2, 1)),
                                        (PositFamily(6, 3), Posit(6, 3, -2))], ids=str)
def test_scaling_every_small_accumulator(family, out, pipelined):
    """Every 9-bit accumulator value, exponents covering all of the output's binades.

    With IS = n - 1 the top binades have no fraction bits: ties there are decided by a regime
    bit, the code's last bit (a bug once rounded them by the grid's parity instead). For the
    minifloats: subnormals, the carry into the next binade, saturation and flush to zero."""
    limits = ScalingLimits(bias_bits=9, m_bits=2, shift_max=3)
    cases = [(acc, E, 1, shift, False, out) for acc in range(-256, 256) for shift in (0, 3)
             for E in (-6, -2)]
    run_scaling(family, cases, 9, limits, pipelined)


@pytest.mark.parametrize("family,form", [(TFXFamily(8, 3), "ses"), (TFXFamily(6, 2), "int"),
                                         (FXPFamily(8), "int"), (FPFamily(8, 4), "ses")], ids=str)
def test_dot_product_unit(family, form):
    from sim.tb_dot import make_jobs  # the cocotb bench's stimulus and golden results

    limits = ScalingLimits(bias_bits=20, m_bits=6, shift_max=10)
    jobs = make_jobs(family, 16, limits, 40, np.random.default_rng(9))
    dut = DotProductUnit(family=family, K=16, form=form, limits=limits)
    got = []

    async def bench(ctx):
        for a_fmt, w_fmt, out, a, w, bias, M, shift, relu, _, _ in jobs:
            for prefix, fmt in zip(("a_", "w_", "out_"), (a_fmt, w_fmt, out), strict=True):
                ctx.set(getattr(dut, prefix + "scale"), family.registers(fmt)["scale"])
                set_fields(ctx, dut, family, fmt, prefix)
            for port, value in [(dut.bias, bias), (dut.M, M), (dut.shift, shift),
                                (dut.relu, relu), (dut.en, 1)]:
                ctx.set(port, value)
            for i, (ca, cw) in enumerate(zip(a.tolist(), w.tolist(), strict=True)):
                for port, value in [(dut.a_code, ca), (dut.w_code, cw), (dut.first, i == 0),
                                    (dut.last, i == len(a) - 1)]:
                    ctx.set(port, value)
                await ctx.tick()
                if ctx.get(dut.valid):
                    got.append((ctx.get(dut.code), ctx.get(dut.nar)))
        ctx.set(dut.en, 0)
        for _ in range(DotProductUnit.LATENCY + 1):
            await ctx.tick()
            if ctx.get(dut.valid):
                got.append((ctx.get(dut.code), ctx.get(dut.nar)))

    simulate(dut, bench)
    assert got == [(job[9], job[10]) for job in jobs]


@pytest.mark.parametrize("make,error,message", [
    (lambda: Decoder(family="tfx:8,3"), TypeError, "family must be a golden.family.Family"),
    (lambda: Decoder(family=TFXFamily(8, 3), form="float"), ValueError, "form must be one of 'int', 'ses', not 'float'"),
    (lambda: MAC(family=TFXFamily(8, 3), K=0), ValueError, "K must be an integer from 1 to 1048576, not 0"),
    (lambda: MAC(family=TFXFamily(8, 3), K=16, bias_bits=1), ValueError, "bias_bits must be an integer from 2 to 128, not 1"),
    (lambda: ScalingStage(acc_width=1, out_family=FXPFamily(8)), ValueError, "acc_width must be an integer from 2 to 128, not 1"),
    (lambda: ScalingStage(acc_width=20, out_family=FXPFamily(8), limits=(1, 2)), TypeError, "limits must be a golden.arith.ScalingLimits"),
    (lambda: TFXFamily(8, 8), ValueError, "IS_max must be an integer from 1 to 7, not 8"),
    (lambda: TFXFamily(8, 3, IS_min=4), ValueError, "IS_min must be an integer from 1 to 3, not 4"),
    (lambda: TFXFamily(8, 3).member(4), ValueError, "IS must be an integer from 1 to 3, not 4"),
])
def test_invalid_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("a_shape,b_shape", [(signed(5), signed(4)), (unsigned(4), signed(3)),
                                             (signed(3), unsigned(4)), (unsigned(4), unsigned(5))],
                         ids=str)
def test_fabric_multiplier_is_exact(a_shape, b_shape):
    """The shift-and-add multiplier equals ``*`` on every operand pair."""
    from amaranth.hdl import Module, Signal
    from hdl.multiply import multiply
    m = Module()
    a, b = Signal(a_shape), Signal(b_shape)
    fabric = multiply(m, a, b, kind="fabric", name="fabric")
    inferred = multiply(m, a, b, kind="infer", name="inferred")
    values = lambda shape: range(-(1 << shape.width - 1), 1 << shape.width - 1) if shape.signed \
        else range(1 << shape.width)
    checked = []

    async def bench(ctx):
        for x in values(a_shape):
            for y in values(b_shape):
                ctx.set(a, x)
                ctx.set(b, y)
                assert ctx.get(fabric) == ctx.get(inferred) == x * y, (x, y)
                checked.append(1)

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert len(checked) == len(values(a_shape)) * len(values(b_shape))
