"""cocotb: the dot-product unit, formats of both operands and the output changing between
dot products, against the golden model's ``matmul`` followed by ``scale``."""

import math

import cocotb
import numpy as np

from golden.arith import ScalingLimits, matmul, scale
from .common import ClockedBench, Scoreboard, drive_member, family_from, params
from .stimulus import member_with_scale


def make_jobs(family, K, limits, count, rng):
    jobs = []
    n = family.n
    for _ in range(count):
        a_fmt = member_with_scale(family, rng, int(rng.integers(-4, 5)))
        w_fmt = member_with_scale(family, rng, int(rng.integers(-4, 5)))
        length = int(rng.integers(1, K + 1))
        a = rng.integers(0, 1 << n, length)
        w = rng.integers(0, 1 << n, length)
        if rng.random() < 0.8:
            a[a == 1 << (n - 1)] = 0
            w[w == 1 << (n - 1)] = 0
        bias = int(rng.integers(-(1 << (limits.bias_bits - 2)), 1 << (limits.bias_bits - 2)))
        M = int(rng.integers(1, 1 << limits.m_bits))
        shift = int(rng.integers(0, limits.shift_max + 1))
        relu = bool(rng.integers(0, 2))
        acc = matmul(a[None, :], a_fmt, w[:, None], w_fmt, bias=[bias], nar="flag")
        value = int(acc.values[0, 0]) * M * 2.0 ** (acc.exponent - shift)
        # Put the result inside the output format's range most of the time.
        if value != 0 and rng.random() < 0.85:
            magnitude = math.floor(math.log2(abs(value)))
            out_scale = family.fitting_scale(np.array([2.0 ** magnitude])) \
                - int(rng.integers(-1, 3))
        else:
            out_scale = int(rng.integers(-6, 7))
        out_scale = max(-32, min(32, out_scale))
        out = member_with_scale(family, rng, out_scale)
        expected = int(scale(acc, out, M=M, shift=shift, relu=relu, limits=limits)[0, 0])
        jobs.append((a_fmt, w_fmt, out, a, w, bias, M, shift, relu, expected, int(acc.nar[0, 0])))
    return jobs


@cocotb.test()
async def formats_change_between_dot_products(dut):
    p = params()
    family = family_from(p)
    limits = ScalingLimits(**p["limits"])
    jobs = make_jobs(family, p["K"], limits, p.get("jobs", 150), np.random.default_rng(p.get("seed", 3)))
    bench = ClockedBench(dut)
    await bench.start()
    board = Scoreboard("dot product unit")
    got = []

    def sample():
        if int(dut.valid.value):
            got.append((int(dut.code.value), int(dut.nar.value)))

    for a_fmt, w_fmt, out, a, w, bias, M, shift, relu, _, _ in jobs:
        for prefix, fmt in (("a_", a_fmt), ("w_", w_fmt), ("out_", out)):
            drive_member(dut, family, fmt, prefix)
        dut.bias.value, dut.M.value, dut.shift.value, dut.relu.value = bias, M, shift, int(relu)
        dut.en.value = 1
        for i, (ca, cw) in enumerate(zip(a.tolist(), w.tolist())):
            dut.a_code.value, dut.w_code.value = ca, cw
            dut.first.value, dut.last.value = int(i == 0), int(i == len(a) - 1)
            await bench.cycle()
            sample()
    dut.en.value = 0
    for _ in range(8):
        await bench.cycle()
        sample()
    expected = [(job[9], job[10]) for job in jobs]
    labels = [(job[0].label, job[1].label, job[2].label, len(job[3])) for job in jobs]
    board.compare([g[0] for g in got], [e[0] for e in expected], labels)
    board.compare([g[1] for g in got], [e[1] for e in expected], labels)
    distinct = len({(job[0], job[1], job[2]) for job in jobs})
    dut._log.info("%d dot products in %d format combinations", len(jobs), distinct)
    board.check(dut._log)
